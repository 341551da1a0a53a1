/**
 * Partial objects: `<home>/partial/<sha>` plus the byte ranges already written
 * (table peer_partials). Ranges are recorded once their bytes are handed to
 * the kernel, so a process killed with -9 loses little more than the writes
 * in flight. A worker thread hashes the file as its contiguous prefix grows,
 * so little is left to hash when the last range lands; the object enters the
 * store only if the hash matches (then fsync, then rename: house rule 6).
 */
import { createHash } from 'node:crypto'
import { constants as fsc, rmSync } from 'node:fs'
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError } from '../../../shared/errors.js'
import { assertSha256Hex } from '../../../shared/ids.js'
import type { Statement } from 'better-sqlite3'
import { FileAppender, openWritable, type WritableFile } from '../../store/appender.js'
import type { Library } from '../../store/library.js'
import { addRange, mergeRanges, missingRanges, parseRanges, prefixEnd, type Range } from './ranges.js'
import type { HashHandle, HashWorker } from './hash-worker.js'
import { PullTuning } from './tuning.js'

export class PartialStore {
  readonly dir: string

  constructor(private readonly library: Library) {
    this.dir = join(library.home, 'partial')
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    // A partial file without a record (killed between creating the file and recording it) is of no use,
    // unless a pull in another process holds it: it records before it creates, so it may be between the two.
    const known = new Set((this.library.db.prepare('SELECT sha FROM peer_partials').all() as Array<{ sha: string }>).map(r => r.sha))
    const stale = (await readdir(this.dir)).filter(name => !known.has(name))
    if (stale.length > 0) {
      this.library.leases.decide(undefined, held => {
        for (const name of stale) if (!held(name)) rmSync(join(this.dir, name), { force: true })
      })
    }
  }

  path(sha: string): string {
    return join(this.dir, assertSha256Hex(sha, 'partial object'))
  }

  load(sha: string): { size: number; done: Range[] } | undefined {
    const row = this.library.db.prepare('SELECT size, done FROM peer_partials WHERE sha = ?').get(sha) as { size: number; done: string } | undefined
    if (row === undefined) return undefined
    let v: unknown
    try {
      v = JSON.parse(row.done)
    } catch {
      return undefined
    }
    const done = parseRanges(v, row.size)
    return done === undefined ? undefined : { size: row.size, done }
  }

  private saveStmt: Statement | undefined

  save(sha: string, size: number, done: Range[]): void {
    this.saveStmt ??= this.library.db.prepare<unknown[]>(
      'INSERT INTO peer_partials (sha, size, done, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(sha) DO UPDATE SET size = excluded.size, done = excluded.done, updated_at = excluded.updated_at',
    )
    this.saveStmt.run(sha, size, JSON.stringify(done), Date.now())
  }

  async remove(sha: string): Promise<void> {
    this.library.db.prepare('DELETE FROM peer_partials WHERE sha = ?').run(sha)
    await rm(this.path(sha), { force: true })
  }

  /** Open (or resume) the partial file of `sha`. A size change starts over. */
  async open(sha: string, size: number, hasher: HashWorker): Promise<PartialFile> {
    const prev = this.load(sha)
    let done: Range[] = prev !== undefined && prev.size === size ? prev.done : []
    // The record comes before the file, so a file without one is always stale (see start).
    if (prev === undefined || prev.size !== size) this.save(sha, size, done)
    const file = this.path(sha)
    let fh: FileHandle
    try {
      fh = await open(file, 'r+')
      const len = (await fh.stat()).size
      // Longer than the object (an attempt at another size): cut, or the extra bytes would enter the store.
      if (len > size) await fh.truncate(size)
      // Shorter than the ranges claim (disk trouble): keep what it holds.
      if (len < size && done.length > 0) done = mergeRanges(done.map(([s, e]) => [s, Math.min(e, len)] as Range)).filter(r => r[1] > r[0])
    } catch {
      done = []
      fh = await open(file, 'w+', 0o644)
    }
    this.save(sha, size, done)
    // Range bytes go through a second descriptor, O_DIRECT where possible; `fh` stays for reads, truncate and fsync.
    let out: WritableFile
    try {
      out = await openWritable(file, fsc.O_WRONLY, 0o644, this.library.objects.directIo)
    } catch (err) {
      await fh.close()
      throw err
    }
    return new PartialFile(this, sha, size, fh, out, done, hasher)
  }
}

/**
 * Writes one range's bytes at their offsets through a FileAppender: O_DIRECT
 * from page-aligned slots where the file system takes it (ranges start on
 * multiples of the range size, so they are aligned), the unaligned tail of
 * the object's last range through a buffered descriptor (never padded).
 */
export class RangeWriter {
  private readonly out: FileAppender
  private closed = false

  constructor(
    file: WritableFile,
    readonly start: number,
    onWritten: (at: number, n: number) => void,
  ) {
    this.out = new FileAppender(file, start, {
      maxInFlight: PullTuning.writesInFlight,
      onWritten: (end, n) => {
        onWritten(end - n, n)
      },
    })
  }

  /** Bytes safely in the file so far (contiguous from the range start). */
  get flushed(): number {
    return this.out.written - this.start
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.out.write(chunk)
  }

  /** Wait until every byte written so far is in the file. */
  async drain(): Promise<void> {
    try {
      await this.out.finish()
    } finally {
      await this.close()
    }
  }

  /** After a failure: wait for writes already started; returns bytes safely written. */
  async settle(): Promise<number> {
    const end = await this.out.settle().catch(() => this.out.written)
    await this.close()
    return end - this.start
  }

  private async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.out.close().catch(() => {})
  }
}

export class PartialFile {
  private hash: HashHandle
  private hashed = 0
  private requested = 0
  private hashError: Error | undefined
  private waiters: Array<() => void> = []
  private readonly buf = Buffer.allocUnsafe(1 << 20)
  private unsaved = 0
  private unsynced = 0
  private syncing: Promise<unknown> | undefined

  constructor(
    private readonly store: PartialStore,
    readonly sha: string,
    readonly size: number,
    private readonly fh: FileHandle,
    private readonly out: WritableFile,
    private doneRanges: Range[],
    private readonly hasher: HashWorker,
  ) {
    this.hash = this.openHash()
    this.kick()
  }

  private openHash(): HashHandle {
    return this.hasher.open(
      this.store.path(this.sha),
      at => {
        this.hashed = at
        this.wake()
      },
      err => {
        this.hashError = err
        this.wake()
      },
    )
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  get done(): readonly Range[] {
    return this.doneRanges
  }
  get doneBytes(): number {
    return this.doneRanges.reduce((n, r) => n + r[1] - r[0], 0)
  }
  get complete(): boolean {
    return missingRanges(this.size, this.doneRanges).length === 0
  }
  missing(): Range[] {
    return missingRanges(this.size, this.doneRanges)
  }

  /** A writer for a range starting at `start`; what it writes counts as done as soon as the kernel has it. */
  writer(start: number): RangeWriter {
    return new RangeWriter(this.out, start, (at, n) => {
      this.markDone([at, at + n], false)
      // Buffered writes: start writeback early (one background fdatasync at a time) so the final fsync finds little left.
      this.unsynced += n
      if (!this.out.direct && this.syncing === undefined && this.unsynced >= PullTuning.earlySyncBytes) {
        this.unsynced = 0
        this.syncing = this.fh
          .datasync()
          .catch(() => {})
          .finally(() => {
            this.syncing = undefined
          })
      }
    })
  }

  /**
   * Record bytes [start, end) as written; the hashing thread follows the
   * contiguous prefix. Saved to the database at once with `persist`, else
   * every `PullTuning.persistEveryBytes` (so a kill -9 loses little).
   */
  markDone(r: Range, persist = true): void {
    if (r[1] <= r[0]) return
    this.doneRanges = addRange(this.doneRanges, r)
    this.unsaved += r[1] - r[0]
    if (persist || this.unsaved >= PullTuning.persistEveryBytes) this.persist()
    this.kick()
  }

  persist(): void {
    this.unsaved = 0
    this.store.save(this.sha, this.size, this.doneRanges)
  }

  private kick(): void {
    const target = prefixEnd(this.doneRanges)
    // Tell the hashing thread in steps of a few MiB (each message costs), and at the end.
    if (target > this.requested && (target - this.requested >= PullTuning.hashStepBytes || target === this.size)) {
      this.requested = target
      this.hash.advance(target)
    }
  }

  /** The sha256 of the whole file (every range must be done). */
  async digest(signal: AbortSignal): Promise<string> {
    this.kick()
    while (this.hashed < this.size) {
      if (this.hashError !== undefined) throw this.hashError
      if (signal.aborted) throw new AbortedError(`hashing ${this.sha}: cancelled`)
      await new Promise<void>(resolve => {
        this.waiters.push(resolve)
      })
    }
    return await this.hash.digest()
  }

  /** sha256 of each of `pieces`, read back from the file (used to find who lied). */
  async pieceDigests(pieces: readonly Range[]): Promise<string[]> {
    const out: string[] = []
    for (const [s, e] of pieces) {
      const h = createHash('sha256')
      for (let at = s; at < e;) {
        const { bytesRead } = await this.fh.read(this.buf, 0, Math.min(this.buf.length, e - at), at)
        if (bytesRead === 0) break
        h.update(this.buf.subarray(0, bytesRead))
        at += bytesRead
      }
      out.push(h.digest('hex'))
    }
    return out
  }

  /** Start over (after a bad hash): nothing counts as written. */
  async reset(): Promise<void> {
    this.hash.drop()
    this.hash = this.openHash()
    this.hashed = 0
    this.requested = 0
    this.doneRanges = []
    this.store.save(this.sha, this.size, [])
  }

  /** fsync and rename into the store (caller checked the digest). */
  async adopt(dest: string): Promise<void> {
    this.hash.drop()
    await this.syncing
    await this.fh.sync()
    await this.closeOut()
    await this.fh.close()
    await rename(this.store.path(this.sha), dest)
    await this.store.remove(this.sha)
  }

  async close(): Promise<void> {
    if (this.unsaved > 0) this.persist()
    this.hash.drop()
    await this.syncing
    await this.closeOut()
    await this.fh.close().catch(() => {})
  }

  private async closeOut(): Promise<void> {
    if (this.out.fh !== this.fh) await this.out.fh.close().catch(() => {})
  }
}
