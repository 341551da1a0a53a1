/**
 * ObjectStore: the flat object pool `<home>/objects/<sha256>`, laid out like
 * pvr's (so `PVR_OBJECTS_DIR=<home>/objects pvr ...` works). Every write goes
 * to a temporary file under `<home>/tmp`, is hashed while written, fsynced and
 * renamed into place only when its sha256 matches its name (house rule 6).
 */
import type { Hash } from 'node:crypto'
import { createReadStream, constants as fsc } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { AbortedError, BugError, NoSpaceError, ObjectHashMismatchError, ObjectMissingError } from '../../shared/errors.js'
import { assertSha256Hex, isSha256Hex } from '../../shared/hex.js'
import type { Logger } from '../../shared/log.js'
import { FileAppender, openWritable, type WritableFile } from './appender.js'
import type { HashThread, SlotHash } from './hash-thread.js'

/**
 * node:crypto, loaded at the first hash: it costs as much CPU as opening the
 * SQLite index, and `fieldsync ls` hashes nothing (npm run bench -- startup).
 */
const crypto = (): typeof import('node:crypto') => process.getBuiltinModule('node:crypto')

export interface PutResult {
  sha: string
  size: number
  /** true when the object was already in the store (nothing written). */
  existed: boolean
}

export type VerifyResult = 'ok' | 'corrupt' | 'missing'

/** Objects at least this large are hashed on the hashing thread. */
const HASH_THREAD_MIN = 8 << 20

/**
 * A streaming writer for one object: feed it bytes with `write`, then
 * `commit()` checks the hash and renames into place, or `abort()` drops it.
 * Bytes are written by a FileAppender (O_DIRECT where the file system
 * allows) and hashed as they pass: in this thread for small objects, on the
 * hashing thread for large ones, so that sha256 overlaps the copy.
 */
export class ObjectWriter {
  readonly sha: string
  private readonly hash: Hash | undefined
  private readonly threadHash: SlotHash | undefined
  private readonly out: FileAppender
  private size = 0
  private done = false

  constructor(
    private readonly store: ObjectStore,
    sha: string,
    private readonly file: WritableFile,
    readonly tmpPath: string,
    private readonly source: string,
    hasher?: HashThread,
  ) {
    this.sha = sha
    this.threadHash = hasher?.open()
    if (this.threadHash === undefined) this.hash = crypto().createHash('sha256')
    this.out = new FileAppender(file, 0, { hash: this.threadHash })
  }

  get bytesWritten(): number {
    return this.size
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new BugError('ObjectWriter: write after commit/abort')
    this.hash?.update(chunk)
    this.size += chunk.length
    try {
      await this.out.write(chunk)
    } catch (err) {
      throw this.store.diskError(err, this.source)
    }
  }

  /** Verify and rename into place. Throws ObjectHashMismatchError (file removed) on a bad hash. */
  async commit(): Promise<PutResult> {
    return await (
      await this.verified()
    )()
  }

  /**
   * Check the hash once every byte is written; returns the second half of the
   * commit (fsync, rename) so that a caller may overlap it with the next
   * object's bytes. Throws ObjectHashMismatchError (file removed) on a bad hash.
   */
  async verified(): Promise<() => Promise<PutResult>> {
    if (this.done) throw new BugError('ObjectWriter: commit twice')
    try {
      try {
        await this.out.finish()
      } catch (err) {
        throw this.store.diskError(err, this.source)
      }
      const got = this.threadHash !== undefined ? await this.threadHash.digest() : (this.hash as Hash).digest('hex')
      if (got !== this.sha) {
        throw new ObjectHashMismatchError(`${this.source}: object ${this.sha} has bytes whose sha256 is ${got}`, { sha: this.sha, actual: got })
      }
    } catch (err) {
      await this.abort()
      throw err
    }
    return async () => {
      try {
        try {
          await this.file.fh.sync()
        } catch (err) {
          throw this.store.diskError(err, this.source)
        }
        await this.out.close()
        await this.file.fh.close()
        this.done = true
        await rename(this.tmpPath, this.store.path(this.sha))
        return { sha: this.sha, size: this.size, existed: false }
      } catch (err) {
        await this.abort()
        throw err
      }
    }
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true
      await this.out.settle().catch(() => {})
      this.threadHash?.drop()
      await this.out.close().catch(() => {})
      await this.file.fh.close().catch(() => {})
    }
    await rm(this.tmpPath, { force: true })
  }
}

export class ObjectStore {
  readonly dir: string
  readonly tmpDir: string
  private readonly log: Logger
  /** The hashing thread for large objects, started on first use. */
  private hasher: HashThread | undefined

  /** Direct I/O for large writes where the file system takes it (EnvSettings.directIo). */
  readonly directIo: boolean

  constructor(
    components: { log: Logger },
    readonly home: string,
    opts: { directIo?: boolean } = {},
  ) {
    this.directIo = opts.directIo ?? true
    this.dir = join(home, 'objects')
    this.tmpDir = join(home, 'tmp')
    this.log = components.log.child('objects')
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await mkdir(this.tmpDir, { recursive: true })
    // Temporary files of a killed process are never valid objects: drop them.
    for (const name of await readdir(this.tmpDir)) {
      // Another process (a running serve or app, an import in another
      // terminal) may be writing here: only files of dead processes go.
      const m = /^(?:put|usb)-(\d+)-/.exec(name)
      if (m !== null && !processAlive(Number(m[1]))) await rm(join(this.tmpDir, name), { force: true })
    }
  }

  async stop(): Promise<void> {
    const h = this.hasher
    this.hasher = undefined
    await h?.stop()
  }

  /** A full disk as a NoSpaceError that names the input and the library; other errors as they are. */
  diskError(err: unknown, source: string): unknown {
    if ((err as NodeJS.ErrnoException)?.code !== 'ENOSPC') return err
    return new NoSpaceError(`${source}: the library's disk is full (${this.home}); nothing of this import is kept`, { home: this.home, advice: 'library-full' })
  }

  path(sha: string): string {
    return join(this.dir, assertSha256Hex(sha, 'object'))
  }

  /** Size of a stored object, or undefined if absent. */
  async size(sha: string): Promise<number | undefined> {
    try {
      const s = await stat(this.path(sha))
      return s.isFile() ? s.size : undefined
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async has(sha: string): Promise<boolean> {
    return (await this.size(sha)) !== undefined
  }

  /**
   * Open a writer for `sha`. `source` names the input in error messages;
   * `size`, when known, picks where it hashes (large objects on the hashing thread).
   */
  async writer(sha: string, source: string, size?: number): Promise<ObjectWriter> {
    assertSha256Hex(sha, source)
    const tmp = join(this.tmpDir, `put-${process.pid}-${sha.slice(0, 16)}-${crypto().randomBytes(6).toString('hex')}`)
    const file = await openWritable(tmp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644, this.directIo)
    const hasher = size !== undefined && size >= HASH_THREAD_MIN ? (this.hasher ??= new (await import('./hash-thread.js')).HashThread()) : undefined
    return new ObjectWriter(this, sha, file, tmp, source, hasher)
  }

  /**
   * Store an object from a stream. When it already exists the stream is
   * drained (and still verified, so a bad source is reported).
   */
  async put(sha: string, input: AsyncIterable<Uint8Array> | Readable, opts: { source: string; signal?: AbortSignal; size?: number }): Promise<PutResult> {
    const r = await this.putVerified(sha, input, opts)
    return await r.persist()
  }

  /**
   * Like put, but returns once the bytes are written and their hash checked;
   * `persist()` then fsyncs and renames into place (idempotent). Lets an
   * importer overlap one object's fsync with the next object's bytes.
   */
  async putVerified(
    sha: string,
    input: AsyncIterable<Uint8Array> | Readable,
    opts: { source: string; signal?: AbortSignal; size?: number },
  ): Promise<{ size: number; existed: boolean; persist: () => Promise<PutResult> }> {
    if (await this.has(sha)) {
      // Already stored: verify the incoming bytes anyway (a bad source is reported) without writing them.
      const h = crypto().createHash('sha256')
      let size = 0
      for await (const chunk of input) {
        if (opts.signal?.aborted === true) throw new AbortedError(`${opts.source}: cancelled`)
        h.update(chunk as Uint8Array)
        size += (chunk as Uint8Array).length
      }
      const got = h.digest('hex')
      if (got !== sha) throw new ObjectHashMismatchError(`${opts.source}: object ${sha} has bytes whose sha256 is ${got}`, { sha, actual: got })
      return { size, existed: true, persist: async () => ({ sha, size, existed: true }) }
    }
    const w = await this.writer(sha, opts.source, opts.size)
    try {
      for await (const chunk of input) {
        if (opts.signal?.aborted === true) throw new AbortedError(`${opts.source}: cancelled`)
        await w.write(chunk as Uint8Array)
      }
    } catch (err) {
      await w.abort()
      throw err
    }
    const finish = await w.verified()
    let p: Promise<PutResult> | undefined
    return { size: w.bytesWritten, existed: false, persist: async () => await (p ??= finish()) }
  }

  /** Copy a file into the store, verifying its hash. */
  async putFile(sha: string, file: string, opts: { source?: string; signal?: AbortSignal } = {}): Promise<PutResult> {
    const existing = await this.size(sha)
    if (existing !== undefined) return { sha, size: existing, existed: true }
    const { size } = await stat(file)
    return await this.put(sha, createReadStream(file, { highWaterMark: 1 << 20, signal: opts.signal }), {
      source: opts.source ?? file,
      signal: opts.signal,
      size,
    })
  }

  /** A read stream over an object, optionally a byte range [start, end). */
  read(sha: string, range: { start?: number; end?: number; signal?: AbortSignal } = {}): Readable {
    const end = range.end === undefined ? undefined : range.end - 1
    if (end !== undefined && end < (range.start ?? 0)) return createReadStream('/dev/null')
    return createReadStream(this.path(sha), { start: range.start, end, highWaterMark: 1 << 20, signal: range.signal })
  }

  /**
   * An object's bytes in chunks of up to 1 MiB read into two reused buffers
   * (the next read runs while the caller handles a chunk): a chunk is valid
   * only until the next one is asked for. For copying loops that would
   * otherwise allocate (and collect) a buffer per MiB.
   */
  async *chunks(sha: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const fh = await open(this.path(sha), 'r')
    const bufs = [Buffer.allocUnsafe(1 << 20), Buffer.allocUnsafe(1 << 20)]
    let pos = 0
    let i = 0
    let next = fh.read(bufs[0], 0, bufs[0].length, pos)
    try {
      for (;;) {
        const { bytesRead } = await next
        if (bytesRead === 0) return
        if (signal?.aborted === true) throw new AbortedError(`reading object ${sha}: cancelled`)
        pos += bytesRead
        const cur = bufs[i]
        i ^= 1
        next = fh.read(bufs[i], 0, bufs[i].length, pos)
        next.catch(() => {}) // observed at the next turn
        yield cur.subarray(0, bytesRead)
      }
    } finally {
      await next.catch(() => {})
      await fh.close()
    }
  }

  /** Re-hash one object. */
  async verify(sha: string, signal?: AbortSignal): Promise<VerifyResult> {
    let fh: FileHandle
    try {
      fh = await open(this.path(sha), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      throw err
    }
    try {
      const h = crypto().createHash('sha256')
      const buf = Buffer.allocUnsafe(1 << 20)
      for (;;) {
        if (signal?.aborted === true) throw new AbortedError('verify cancelled')
        const { bytesRead } = await fh.read(buf, 0, buf.length, null)
        if (bytesRead === 0) break
        h.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead))
      }
      return h.digest('hex') === sha ? 'ok' : 'corrupt'
    } finally {
      await fh.close()
    }
  }

  /** Every sha in the pool (files with other names are ignored). */
  async list(): Promise<string[]> {
    return (await readdir(this.dir)).filter(isSha256Hex)
  }

  async remove(sha: string): Promise<void> {
    await rm(this.path(sha), { force: true })
  }

  /** Move a corrupt object aside to `<home>/corrupt/<sha>.<time>`; returns the new path. */
  async quarantine(sha: string): Promise<string> {
    const dir = join(this.home, 'corrupt')
    await mkdir(dir, { recursive: true })
    const dest = join(dir, `${sha}.${Date.now()}`)
    await rename(this.path(sha), dest)
    this.log('quarantined %s to %s', sha, dest)
    return dest
  }

  /** Assert presence, with a clear error. */
  async require(sha: string, what: string): Promise<number> {
    const s = await this.size(sha)
    if (s === undefined) throw new ObjectMissingError(`${what}: object ${sha} is not in the library`, { sha })
    return s
  }
}

/** Whether a process with this pid exists (EPERM: it exists, but is not ours). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
