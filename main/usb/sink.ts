/**
 * Safe writes onto a stick: a file is written under a temporary dot-name
 * (split into parts of at most `splitSize` bytes) with a CRC-32 of what was
 * written (O_DIRECT where the file system allows: main/store/appender.ts),
 * fsynced, then read back from the medium (O_DIRECT reads, or the page cache
 * dropped first) and hashed: the sha256 recorded is that of the bytes the stick gave
 * back, and the read-back's CRC-32 must equal the write's (a sha256 on both
 * sides would cost a second full pass for the same check). Only the caller's
 * `commit` renames the parts to their final names and fsyncs the folder.
 * A stick pulled out mid-write holds only dot-named `.tmp` files, which
 * `verify` reports and the next export removes.
 */
import { createHash, randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { spawn } from 'node:child_process'
import { constants as fsc } from 'node:fs'
import { chmod, open, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, StickCorruptError } from '../../shared/errors.js'
import { FileAppender, openWritable, type WritableFile } from '../store/appender.js'
import { crc32Combine } from './crc.js'
import { mapFsError, unreadableError } from './errors.js'
import type { ReadBackThread } from './readback.js'
import { formatBytes } from '../../shared/units.js'

export const TMP_PREFIX = '.fieldsync-'
export const TMP_SUFFIX = '.tmp'

export interface WrittenPart {
  tmp: string
  bytes: number
  sha256: string
}

export interface SinkOptions {
  splitSize: number
  signal?: AbortSignal
  /** Called with the bytes of each buffer once written. */
  onWritten?: (n: number) => void
  /** Called with the bytes of each buffer read back. */
  onReadBack?: (n: number) => void
  /** Ask the kernel to drop its cached pages before reading back (default true). */
  dropCache?: boolean
  /** Read back on this thread while writing (else each part is read back after it is written). */
  readBack?: ReadBackThread
  /** Direct I/O where the stick's file system takes it (default true; EnvSettings.directIo). */
  directIo?: boolean
}

/** With a read-back thread: fdatasync and hand over every this many bytes. */
const FOLLOW_EVERY = 64 << 20

/** A temporary name in `dir` for a file that becomes `final` on commit. */
export function tmpName(dir: string, final: string): string {
  return join(dir, `${TMP_PREFIX}${final}.${randomBytes(4).toString('hex')}${TMP_SUFFIX}`)
}

/**
 * Evict a file's pages from the page cache so that the read-back reads the
 * medium, not memory: GNU dd's `iflag=nocache count=0` is
 * posix_fadvise(POSIX_FADV_DONTNEED) on the whole file. Best effort: where
 * dd is missing or not GNU, the read-back reads what the kernel has cached.
 */
export function dropCache(file: string): Promise<boolean> {
  return new Promise(resolve => {
    const child = spawn('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' })
    child.on('error', () => {
      resolve(false)
    })
    child.on('close', code => {
      resolve(code === 0)
    })
  })
}

/** Read a file back and return its sha256, length and (with `crc`) CRC-32. */
export async function hashFile(file: string, opts: HashOptions & { dropCache?: boolean } = {}): Promise<{ sha256: string; bytes: number; crc32: number }> {
  if (opts.dropCache !== false) await dropCache(file)
  const fh = await open(file, 'r')
  try {
    return await hashHandle(fh, file, opts)
  } finally {
    await fh.close()
  }
}

export interface HashOptions {
  signal?: AbortSignal
  onBytes?: (n: number) => void
  crc?: boolean
  /** Read at most this many bytes. */
  limit?: number
  /**
   * Each buffer read, in order. The buffer is reused once the call returns
   * (copy what is kept, synchronously); the next call waits for this one's
   * promise, which paces the reading.
   */
  onData?: (b: Buffer) => Promise<void>
}

/** Hash an open file from its start (two reads in flight); `file` names it in messages. */
export async function hashHandle(fh: FileHandle, file: string, opts: HashOptions = {}): Promise<{ sha256: string; bytes: number; crc32: number }> {
  const h = createHash('sha256')
  let crc = 0
  let bytes = 0
  const size = 4 << 20
  const limit = opts.limit ?? Number.MAX_SAFE_INTEGER
  const readAt = (buf: Buffer, pos: number) => (pos >= limit ? Promise.resolve({ bytesRead: 0 }) : fh.read(buf, 0, Math.min(size, limit - pos), pos))
  let bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)]
  let pos = 0
  let pending = readAt(bufs[0], pos)
  let feeding: Promise<void> | undefined
  try {
    for (;;) {
      const { bytesRead } = await pending
      if (bytesRead === 0) break
      if (opts.signal?.aborted === true) throw new AbortedError(`reading ${file}: cancelled`)
      pos += bytesRead
      pending = readAt(bufs[1], pos)
      h.update(bufs[0].subarray(0, bytesRead))
      if (opts.crc === true) crc = crc32(bufs[0].subarray(0, bytesRead), crc)
      if (opts.onData !== undefined) {
        await feeding
        feeding = opts.onData(bufs[0].subarray(0, bytesRead))
      }
      bytes += bytesRead
      opts.onBytes?.(bytesRead)
      bufs = [bufs[1], bufs[0]]
    }
    await feeding
  } finally {
    await pending.catch(() => {}) // the read in flight, before the caller closes the handle
    await feeding?.catch(() => {})
  }
  return { sha256: h.digest('hex'), bytes, crc32: crc >>> 0 }
}

/**
 * A file written in parts. `write` copies the caller's buffer (a few writes
 * in flight). Each finished part is fsynced and read back in the background.
 */
export class PartedFileWriter {
  readonly parts: WrittenPart[] = []
  private file?: WritableFile
  private out?: FileAppender
  private crc = 0
  private partBytes = 0
  private followId = 0
  /** Read-back ids of every part, to cancel those still reading on abort. */
  private readonly followIds: number[] = []
  private syncing?: Promise<void>
  private synced = 0
  private readonly readBacks: Array<Promise<void>> = []
  private readonly tmps: string[] = []
  private closed = false

  constructor(
    private readonly dir: string,
    private readonly final: string,
    private readonly opts: SinkOptions,
  ) {
    if (!(opts.splitSize > 0)) throw new RangeError('split size must be positive')
  }

  private async openPart(): Promise<void> {
    const tmp = tmpName(this.dir, this.final)
    this.tmps.push(tmp)
    let file: WritableFile
    try {
      file = await openWritable(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644, this.opts.directIo ?? true)
    } catch (err) {
      throw mapFsError(err, this.dir)
    }
    this.file = file
    this.out = new FileAppender(file, 0, {
      onWritten: (end, n) => {
        this.onWritten(file, end, n)
      },
    })
    this.crc = 0
    this.partBytes = 0
    this.synced = 0
    if (this.opts.readBack !== undefined) {
      this.followId = this.opts.readBack.open(tmp, this.opts.dropCache !== false, file.direct, this.opts.onReadBack)
      this.followIds.push(this.followId)
    }
  }

  /**
   * Bytes up to `end` are in the file: report them, and every FOLLOW_EVERY let
   * the read-back follow. Only where the file is written with O_DIRECT (file
   * systems known to be coherent): elsewhere the read-back starts once the
   * part is complete and closed, because some drivers (fusefat) give a handle
   * opened on a growing file wrong bytes or EPERM past the size it first saw.
   */
  private onWritten(file: WritableFile, end: number, n: number): void {
    this.opts.onWritten?.(n)
    const rb = this.opts.readBack
    if (rb === undefined || !file.direct || this.syncing !== undefined || end - this.synced < FOLLOW_EVERY) return
    // fdatasync in the background (writing goes on); the read-back follows once it is done.
    const id = this.followId
    this.synced = end
    this.syncing = file.fh.datasync().then(
      () => {
        rb.synced(id, end)
        this.syncing = undefined
      },
      err => {
        throw mapFsError(err, this.dir, true)
      },
    )
    this.syncing.catch(() => {})
  }

  /**
   * Append `buf`. `crc`, when the caller knows it: the CRC-32 of all of `buf`,
   * folded in without a pass over the bytes (unless a part ends inside it).
   */
  async write(buf: Uint8Array, crc?: number): Promise<void> {
    if (this.opts.signal?.aborted === true) throw new AbortedError(`writing ${this.final}: cancelled`)
    let off = 0
    while (off < buf.length) {
      if (this.out === undefined) await this.openPart()
      const n = Math.min(buf.length - off, this.opts.splitSize - this.partBytes)
      const piece = buf.subarray(off, off + n)
      this.crc = crc !== undefined && n === buf.length ? crc32Combine(this.crc, crc, n) : crc32(piece, this.crc)
      try {
        await (this.out as FileAppender).write(piece)
      } catch (err) {
        throw mapFsError(err, this.dir, true)
      }
      this.partBytes += n
      off += n
      if (this.partBytes === this.opts.splitSize) await this.closePart()
    }
  }

  private async closePart(): Promise<void> {
    const file = this.file
    const out = this.out
    if (file === undefined || out === undefined) return
    this.file = undefined
    this.out = undefined
    try {
      await out.finish()
      await this.syncing
      await file.fh.sync()
    } catch (err) {
      throw mapFsError(err, this.dir, true)
    } finally {
      await out.close().catch(() => {})
      await file.fh.close()
    }
    const tmp = this.tmps[this.tmps.length - 1]
    const written = { bytes: this.partBytes, crc32: this.crc >>> 0 }
    const part: WrittenPart = { tmp, bytes: written.bytes, sha256: '' }
    this.parts.push(part)
    const reading =
      this.opts.readBack !== undefined
        ? this.opts.readBack.end(this.followId, written.bytes)
        : hashFile(tmp, { signal: this.opts.signal, onBytes: this.opts.onReadBack, dropCache: this.opts.dropCache, crc: true })
    const rb = reading.then(
      back => {
        if (back.crc32 !== written.crc32 || back.bytes !== written.bytes) {
          throw new StickCorruptError(
            `${this.final}: the stick gave back different bytes than were written (${formatBytes(back.bytes)}, CRC-32 ${back.crc32.toString(16)} instead of ${formatBytes(written.bytes)}, ${written.crc32.toString(16)}): the stick may be failing or report a false capacity; try another stick`,
            { file: this.final },
          )
        }
        part.sha256 = back.sha256
      },
      err => {
        throw unreadableError(
          mapFsError(err, this.dir),
          this.final,
          'reading it back',
          'the stick or its driver cannot give back what was written; try another stick',
        )
      },
    )
    rb.catch(() => {})
    this.readBacks.push(rb)
  }

  /**
   * Close the last part and wait for every read-back; returns the parts (still
   * under temporary names). Cancelled (the signal) while a read-back of a big
   * part goes on: AbortedError at once; `abort` then stops the read-backs.
   */
  async finish(): Promise<WrittenPart[]> {
    const signal = this.opts.signal
    const cancelled = () => new AbortedError(`writing ${this.final}: cancelled`)
    if (signal?.aborted === true) throw cancelled()
    if (this.out === undefined && this.parts.length === 0) await this.openPart() // an empty file still has one part
    await this.closePart()
    this.closed = true
    if (signal === undefined) {
      await Promise.all(this.readBacks)
      return this.parts
    }
    let onAbort: (() => void) | undefined
    try {
      await Promise.race([
        Promise.all(this.readBacks),
        new Promise<never>((_resolve, reject) => {
          onAbort = () => {
            reject(cancelled())
          }
          if (signal.aborted) onAbort()
          else signal.addEventListener('abort', onAbort, { once: true })
        }),
      ])
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
    }
    return this.parts
  }

  /** Remove every temporary part (after an error). */
  async abort(): Promise<void> {
    // Stop read-backs still going (a big part's may take minutes on a slow stick).
    for (const id of this.followIds) this.opts.readBack?.close(id)
    if (this.out !== undefined && this.file !== undefined) {
      await this.out.settle().catch(() => {})
      await this.syncing?.catch(() => {})
      await this.out.close().catch(() => {})
      await this.file.fh.close().catch(() => {})
      this.out = undefined
      this.file = undefined
    }
    await Promise.allSettled(this.readBacks)
    for (const t of this.tmps) await rm(t, { force: true }).catch(() => {})
    this.closed = true
  }

  get finished(): boolean {
    return this.closed
  }
}

/** Rename temporary files to their final names, then fsync the folder. */
export async function commitFiles(dir: string, moves: Array<{ tmp: string; final: string }>): Promise<void> {
  try {
    for (const m of moves) await rename(m.tmp, join(dir, m.final))
    await syncDir(dir)
  } catch (err) {
    throw mapFsError(err, dir)
  }
}

export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch (err) {
    // Some file systems (and Windows) cannot fsync a folder; the renames stand.
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF' && code !== 'ENOTSUP') throw err
  } finally {
    await fh?.close()
  }
}

/** Write a small file safely: temporary name, fsync, read back, rename, folder fsync. */
export async function writeSmallFile(
  dir: string,
  final: string,
  content: string | Uint8Array,
  opts: { signal?: AbortSignal; mode?: number } = {},
): Promise<{ bytes: number; sha256: string }> {
  const data = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content)
  const w = new PartedFileWriter(dir, final, { splitSize: Math.max(1, data.length), signal: opts.signal, dropCache: false })
  try {
    if (data.length > 0) await w.write(data)
    const [part] = await w.finish()
    await commitFiles(dir, [{ tmp: part.tmp, final }])
    if (opts.mode !== undefined) await chmod(join(dir, final), opts.mode).catch(() => {}) // FAT has no modes
    return { bytes: part.bytes, sha256: part.sha256 }
  } catch (err) {
    await w.abort()
    throw err
  }
}
