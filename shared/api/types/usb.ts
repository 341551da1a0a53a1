/** USB sticks: exports, imports, inventories. */
import type { WireError } from '../../errors.js'

export interface UsbExportResult {
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
