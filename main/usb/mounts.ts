/**
 * Which mounted file system holds a folder: /proc/self/mountinfo on Linux
 * (the longest mount point that contains the folder), `df -P` elsewhere.
 * And whether that file system is one a stick carries (FAT, exFAT, NTFS,
 * HFS+, through the kernel or FUSE), so that "eject" never unmounts the
 * laptop's own disk.
 */
import { readFile, realpath } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { runTool } from './run-tool.js'

export interface MountInfo {
  /** Where it is mounted. */
  point: string
  /** What is mounted: a block device (`/dev/sdb1`), or the FUSE driver's name (`fusefat`). */
  source: string
  /** `vfat`, `exfat`, `fuse.fusefat`, `ext4`, ... ('' where the platform does not say). */
  fsType: string
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** Parse /proc/self/mountinfo (proc(5)): mount point is field 5; after the `-` separator, fs type and source. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = []
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    const dash = f.indexOf('-', 6)
    if (f.length < 10 || dash < 0 || dash + 2 >= f.length) continue
    out.push({ point: unescapeMountField(f[4]), fsType: unescapeMountField(f[dash + 1]), source: unescapeMountField(f[dash + 2]) })
  }
  return out
}

/** The folder's path with symlinks resolved where it can be read (a mount point may hide behind /media/... links). */
async function canonical(dir: string): Promise<string> {
  return await realpath(dir).catch(() => resolve(dir))
}

function contains(point: string, path: string): boolean {
  return path === point || point === '/' || path.startsWith(point.endsWith(sep) ? point : point + sep)
}

/** The mount that holds `dir`, or null when it cannot be told. */
export async function mountOf(dir: string, opts: { signal?: AbortSignal; platform?: NodeJS.Platform } = {}): Promise<MountInfo | null> {
  const path = await canonical(dir)
  const platform = opts.platform ?? process.platform
  if (platform === 'linux') {
    const text = await readFile('/proc/self/mountinfo', { encoding: 'utf8', signal: opts.signal }).catch(() => null)
    if (text !== null) {
      // The last mount listed wins among equal points (a later mount hides an earlier one).
      let best: MountInfo | null = null
      for (const m of parseMountinfo(text)) if (contains(m.point, path) && (best === null || m.point.length >= best.point.length)) best = m
      return best
    }
  }
  if (platform === 'win32') return null
  // `df -P <dir>`: Filesystem, blocks, used, available, capacity, mounted on (the last line; the mount point may hold spaces).
  const df = await runTool('df', ['-P', path], { signal: opts.signal })
  if (df.code !== 0) return null
  const last = df.output.split('\n').pop() ?? ''
  const m = /^(\S+)\s+\d+\s+\d+\s+\d+\s+\d+%\s+(.+)$/.exec(last)
  return m === null ? null : { source: m[1], point: m[2], fsType: '' }
}

/** File systems a USB stick carries, as the kernel or a FUSE driver names them. */
const STICK_FS = /^(vfat|msdos|fat|exfat|ntfs|ntfs3|hfsplus|fuseblk|fuse\.(fusefat|exfat|fuse-exfat|ntfs-3g|ntfs|hfsfuse))$/

/** Mount points of the laptop's own system: never ejected, whatever their file system. */
const SYSTEM_POINTS = new Set(['/', '/boot', '/boot/efi', '/efi', '/home', '/usr', '/var', '/etc', '/opt', '/srv', '/root', '/tmp', '/System/Volumes/Data'])

/** Why this mount is not a stick to eject, or null when it is one. */
export function notAStick(m: MountInfo, platform: NodeJS.Platform = process.platform): string | null {
  if (SYSTEM_POINTS.has(m.point)) return `${m.point} is the laptop's own disk, not a stick`
  if (platform === 'darwin') return m.point.startsWith('/Volumes/') ? null : `${m.point} is not a removable volume (those are under /Volumes)`
  if (!STICK_FS.test(m.fsType))
    return `${m.point} is a ${m.fsType === '' ? 'file system of unknown type' : `${m.fsType} file system`}, not a stick's (FAT, exFAT, NTFS)`
  return null
}
