/** USB sticks: exports, imports, inventories. */
import type { WireError } from '../../errors.js'

export interface UsbExportResult {
  /** The data is on the medium (synced) and the stick can be removed; eject it first where the OS offers it (usb.eject). */
  sync: UsbSyncView
  dir: string
  /** full: every object; device: what one device lacks; peer: what another laptop lacks. */
  mode: 'full' | 'device' | 'peer'
  /** `written: false`: the stick already held exactly these bytes (hashed to make sure); left as they were. */
  revisions: Array<{ name: string; id: string; files: string[]; bytes: number; objects: number; included: number; written: boolean }>
  /** Bytes of the tarballs (written and read back, or found on the stick). */
  bytes: number
}

export interface UsbImportResult {
  dir: string
  ok: boolean
  revisions: Array<{
    name: string
    id: string
    status: 'imported' | 'existed' | 'corrupt' | 'failed'
    error: WireError | null
    newObjects: number
    newBytes: number
    missing: number
    complete: boolean
  }>
  newObjects: number
  newBytes: number
}

export interface UsbInventoryResult {
  file: string
  objects: number
  bytes: number
}

/**
 * After a write: is the data on the medium? `safeToRemove` is true only once
 * every file and folder written was fsynced and the stick's file system
 * synced (`how`); `problem` says why not otherwise.
 */
export interface UsbSyncView {
  how: 'syncfs' | 'sync' | 'fsync' | 'failed'
  safeToRemove: boolean
  problem: string | null
}

/** `usb.eject` / `fieldsync usb eject`: unmounted (and powered off where the OS can), or what the technician does instead. */
export interface UsbEjectResult {
  dir: string
  /** The mount point and what was mounted there (a block device, or a FUSE driver's name), when known. */
  mountPoint: string | null
  source: string | null
  /** Unmounted: the stick can be pulled out. */
  ejected: boolean
  /** The drive was also powered off (udisks). */
  poweredOff: boolean
  /** udisks (udisksctl), umount/fusermount, diskutil (macOS), or none. */
  how: 'udisks' | 'umount' | 'diskutil' | 'none'
  /** One line: what happened. */
  message: string
  /** When not ejected: what to do instead. */
  advice: string | null
}
