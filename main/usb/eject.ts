/**
 * Eject a stick, as the technician's file manager would: on Linux through
 * udisks (`udisksctl unmount` then `power-off`, what GNOME and KDE do for a
 * user without root) when it is there and the stick is a block device,
 * else `umount` (`fusermount -u` first for a FUSE mount, which its owner may
 * unmount); `diskutil eject` on macOS. Where none of that is allowed, the
 * result says what to do instead. Only a file system a stick carries is
 * ever unmounted (mounts.ts): never the laptop's own disk.
 */
import { stat } from 'node:fs/promises'
import type { UsbEjectResult } from '../../shared/api/types.js'
import { NotFoundError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { mountOf, notAStick, type MountInfo } from './mounts.js'
import { runTool, type ToolRun } from './run-tool.js'

export interface EjectOptions {
  log: Logger
  signal?: AbortSignal
  platform?: NodeJS.Platform
}

const FILE_MANAGER = 'eject it in the file manager (the ⏏ beside the stick), then remove it'

export async function ejectStick(dir: string, opts: EjectOptions): Promise<UsbEjectResult> {
  const log = opts.log.child('eject')
  const platform = opts.platform ?? process.platform
  // A folder this user may not read (another user's FUSE mount) is still looked up by its path.
  await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
      throw new NotFoundError(`${dir}: no such folder (is the stick still plugged in?)`, { path: dir }, { cause: err })
  })
  const none = (m: MountInfo | null, message: string, advice: string): UsbEjectResult => ({
    dir,
    mountPoint: m?.point ?? null,
    source: m?.source ?? null,
    ejected: false,
    poweredOff: false,
    how: 'none',
    message,
    advice,
  })
  if (platform === 'win32') return none(null, 'Fieldsync cannot eject a stick on Windows', 'use “Safely Remove Hardware” in the taskbar, then remove it')
  const m = await mountOf(dir, { signal: opts.signal, platform })
  if (m === null) return none(null, `could not tell which drive holds ${dir}`, FILE_MANAGER)
  const not = notAStick(m, platform)
  if (not !== null) return none(m, `${dir}: nothing to eject: ${not}`, 'nothing to do: this folder is not on a stick')
  log('ejecting %s (%s on %s)', dir, m.source, m.point)
  const done = (how: UsbEjectResult['how'], poweredOff: boolean, message: string): UsbEjectResult => ({
    dir,
    mountPoint: m.point,
    source: m.source,
    ejected: true,
    poweredOff,
    how,
    message,
    advice: null,
  })

  if (platform === 'darwin') {
    const r = await runTool('diskutil', ['eject', m.point], { signal: opts.signal })
    if (r.code === 0) return done('diskutil', true, `ejected ${m.point}: remove the stick`)
    return none(m, `could not eject ${m.point}${said(r)}`, busy(r) ? BUSY : FILE_MANAGER)
  }

  const tried: ToolRun[] = []
  // udisks: what a desktop user without root is allowed to do with a stick (polkit).
  if (m.source.startsWith('/dev/')) {
    const u = await runTool('udisksctl', ['unmount', '--no-user-interaction', '-b', m.source], { signal: opts.signal })
    if (!u.missing) {
      if (u.code === 0) {
        const off = await runTool('udisksctl', ['power-off', '--no-user-interaction', '-b', m.source], { signal: opts.signal })
        log('udisksctl power-off %s: %s', m.source, off.code === 0 ? 'done' : off.output)
        return done(
          'udisks',
          off.code === 0,
          off.code === 0 ? `unmounted ${m.point} and powered the stick off: remove it` : `unmounted ${m.point}: remove the stick`,
        )
      }
      log('udisksctl unmount %s failed (%s): trying umount', m.source, u.output)
      tried.push(u)
    }
  }
  // A FUSE mount (fusefat, exfat-fuse, ntfs-3g) may be unmounted by the user who mounted it.
  if (m.fsType.startsWith('fuse')) {
    const f = await runTool('fusermount', ['-u', m.point], { signal: opts.signal })
    if (f.code === 0) return done('umount', false, `unmounted ${m.point}: remove the stick`)
    if (!f.missing) tried.push(f)
  }
  const r = await runTool('umount', [m.point], { signal: opts.signal })
  if (r.code === 0) return done('umount', false, `unmounted ${m.point}: remove the stick`)
  tried.push(r)
  return none(m, `could not eject ${m.point}${said(tried[0])}`, tried.some(busy) ? BUSY : FILE_MANAGER)
}

const BUSY = 'a program still uses the stick (a terminal in its folder, an open file): close it, then eject again'

function busy(r: ToolRun): boolean {
  return /busy/i.test(r.output)
}

function said(r: ToolRun | undefined): string {
  return r === undefined || r.output === '' ? '' : ` (${r.output.split('\n')[0]})`
}
