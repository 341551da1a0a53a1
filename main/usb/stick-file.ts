/**
 * Reading files off a stick that may be hostile. Before a file is opened
 * for reading it must be a regular file (not a FIFO, which would hang the
 * read; not a device such as /dev/zero, which never ends; not a symbolic
 * link, which could point anywhere on this laptop; not a folder) of at most
 * its cap. It is then opened without following links and without blocking
 * (O_NOFOLLOW | O_NONBLOCK: a FIFO swapped in after the check cannot hang
 * the open) and checked again on the open handle (fstat: the same regular
 * file), and never read past its cap.
 */
import { constants as fsc, type Stats } from 'node:fs'
import { lstat, open, type FileHandle } from 'node:fs/promises'
import { formatBytes } from '../../shared/units.js'

export type StickFileProblem =
  { kind: 'missing'; message: string } | { kind: 'not-regular'; message: string } | { kind: 'too-large'; message: string; size: number }

/** What a non-regular file is, for messages. */
function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  if (st.isDirectory()) return 'a folder'
  return 'not a regular file'
}

/** `n` bytes as a cap is written in messages. */
export function capText(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`
  return formatBytes(n)
}

function problemOf(file: string, st: Stats, max: number): StickFileProblem | null {
  if (!st.isFile()) return { kind: 'not-regular', message: `${file}: ${kindOf(st)}, not a regular file; a stick's files are plain files, so it was not read` }
  if (st.size > max) return { kind: 'too-large', message: `${file}: ${formatBytes(st.size)}, over the ${capText(max)} cap for it; not read`, size: st.size }
  return null
}

/** lstat `file`: its size when it is a regular file of at most `max` bytes, else what is wrong. */
export async function inspectStickFile(file: string, max: number): Promise<{ size: number } | StickFileProblem> {
  let st: Stats
  try {
    st = await lstat(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return { kind: 'missing', message: `${file}: not on the stick` }
    throw err
  }
  return problemOf(file, st, max) ?? { size: st.size }
}

/**
 * Open `file` for reading once it passed `inspectStickFile`, and check the
 * open handle again. The caller closes `fh` and reads at most `max` bytes.
 */
export async function openStickFile(file: string, max: number): Promise<{ fh: FileHandle; size: number } | StickFileProblem> {
  const seen = await inspectStickFile(file, max)
  if (!('size' in seen)) return seen
  let fh: FileHandle
  try {
    fh = await open(file, fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { kind: 'missing', message: `${file}: not on the stick (it went away while being read)` }
    if (code === 'ELOOP')
      return { kind: 'not-regular', message: `${file}: a symbolic link, not a regular file; a stick's files are plain files, so it was not read` }
    throw err
  }
  try {
    const st = await fh.stat()
    const p = problemOf(file, st, max)
    if (p !== null) {
      await fh.close()
      return p
    }
    return { fh, size: st.size }
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}

/** The whole of a small stick file (at most `max` bytes), or what is wrong with it. */
export async function readSmallStickFile(file: string, max: number, signal?: AbortSignal): Promise<Buffer | StickFileProblem> {
  const o = await openStickFile(file, max)
  if (!('fh' in o)) return o
  try {
    // Up to max + 1 bytes: a file that grew past its cap since the check is caught, not read on.
    const buf = Buffer.allocUnsafe(Math.min(max, o.size) + 1)
    let n = 0
    for (;;) {
      signal?.throwIfAborted()
      if (n === buf.length) break
      const { bytesRead } = await o.fh.read(buf, n, buf.length - n, n)
      if (bytesRead === 0) break
      n += bytesRead
    }
    if (n > max) return { kind: 'too-large', message: `${file}: over the ${capText(max)} cap for it (it grew while being read); not read`, size: n }
    return buf.subarray(0, n)
  } finally {
    await o.fh.close()
  }
}

export function isStickFileProblem(v: unknown): v is StickFileProblem {
  return typeof v === 'object' && v !== null && 'kind' in v && 'message' in v && !Buffer.isBuffer(v)
}
