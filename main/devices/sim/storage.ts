/**
 * The simulated device's /storage, laid out as Pantavisor lays it out:
 * `objects/<sha256>`, `trails/<rev>/.pvr/json`, `trails/<rev>/.pv/{progress,
 * commitmsg}`, objects hard-linked into `trails/<rev>/<key>` when a revision
 * is run, `trails/current` a symlink. Free space follows storage.c: real free
 * = free - reserved (5 % of the total), with the total given by --storage or
 * the host file system's.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { link, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, statfs, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { isSha256Hex } from '../../../shared/ids.js'

export const RESERVED_PERCENT = 5
export const LOCAL_PREFIX = 'locals/'
/** SIZE_LOCAL_REV in Pantavisor. */
export const LOCAL_NAME_MAX = 64

export interface StorageNumbers {
  total: number
  free: number
  reserved: number
  realFree: number
}

/** pv_storage_is_revision_local: `locals/<name>`, one `/`, name at most 64 bytes. */
export function isLocalRevision(rev: string): boolean {
  if (!rev.startsWith(LOCAL_PREFIX)) return false
  if (Buffer.byteLength(rev) - LOCAL_PREFIX.length > LOCAL_NAME_MAX) return false
  return rev.indexOf('/') === rev.lastIndexOf('/')
}

/** A state key usable as a path inside a trail: relative, no empty, `.` or `..` segment. */
export function safeTrailPath(key: string): boolean {
  if (key === '' || key.includes('\0') || key.startsWith('/')) return false
  return key.split('/').every(s => s !== '' && s !== '.' && s !== '..')
}

/** A revision name that stays inside trails/ (no `..`, no empty segments). */
export function safeRevision(rev: string): boolean {
  if (rev === '' || rev.length > 255 || rev.includes('\0')) return false
  return rev.split('/').every(s => s !== '' && s !== '.' && s !== '..') && rev.split('/').length <= 2
}

export class DeviceStorage {
  readonly objectsDir: string
  readonly trailsDir: string
  private used = 0
  private writes = 0
  /** Objects hashed valid, by id: "inode:size:mtime" when they were. */
  private readonly validated = new Map<string, string>()

  constructor(
    readonly dir: string,
    private readonly capacity: number | null,
  ) {
    this.objectsDir = join(dir, 'objects')
    this.trailsDir = join(dir, 'trails')
  }

  async start(): Promise<void> {
    await mkdir(this.objectsDir, { recursive: true })
    await mkdir(join(this.trailsDir, 'locals'), { recursive: true })
    this.used = await this.measure()
  }

  /** Bytes held: objects (once, however many links) and the revision files. */
  private async measure(): Promise<number> {
    let n = 0
    for (const name of await readdir(this.objectsDir)) n += (await stat(join(this.objectsDir, name)).catch(() => ({ size: 0 }))).size
    for (const rev of await this.revisions()) {
      for (const f of ['.pvr/json', '.pv/progress', '.pv/commitmsg']) n += (await stat(join(this.trailsDir, rev, f)).catch(() => ({ size: 0 }))).size
    }
    return n
  }

  /** Account for bytes written (positive) or removed (negative). */
  charge(bytes: number): void {
    this.used = Math.max(0, this.used + bytes)
  }

  async numbers(): Promise<StorageNumbers> {
    let total: number
    let free: number
    if (this.capacity !== null) {
      total = this.capacity
      free = Math.max(0, total - this.used)
    } else {
      const s = await statfs(this.dir)
      total = s.bsize * s.blocks
      free = s.bsize * s.bfree
    }
    const reserved = Math.floor((total * RESERVED_PERCENT) / 100)
    return { total, free, reserved, realFree: Math.max(0, free - reserved) }
  }

  objectPath(sha: string): string {
    return join(this.objectsDir, sha)
  }
  trailPath(rev: string, ...rest: string[]): string {
    return join(this.trailsDir, rev, ...rest)
  }
  jsonPath(rev: string): string {
    return this.trailPath(rev, '.pvr', 'json')
  }
  progressPath(rev: string): string {
    return this.trailPath(rev, '.pv', 'progress')
  }
  commitMsgPath(rev: string): string {
    return this.trailPath(rev, '.pv', 'commitmsg')
  }

  async objectSize(sha: string): Promise<number | null> {
    try {
      const s = await stat(this.objectPath(sha))
      return s.isFile() ? s.size : null
    } catch {
      return null
    }
  }

  /** GET /objects: every 64-character name with its size. */
  async listObjects(): Promise<Array<{ sha: string; size: number }>> {
    const out: Array<{ sha: string; size: number }> = []
    for (const name of (await readdir(this.objectsDir)).sort()) {
      if (name.length !== 64) continue
      const size = await this.objectSize(name)
      if (size !== null) out.push({ sha: name, size })
    }
    return out
  }

  /** pv_storage_validate_file_checksum: re-hash a stored object. */
  async objectValid(sha: string): Promise<boolean> {
    if ((await this.objectSize(sha)) === null) return false
    const h = createHash('sha256')
    for await (const c of createReadStream(this.objectPath(sha), { highWaterMark: 1 << 20 })) h.update(c as Buffer)
    return h.digest('hex') === sha
  }

  async removeObject(sha: string): Promise<void> {
    const size = await this.objectSize(sha)
    await rm(this.objectPath(sha), { force: true })
    if (size !== null) this.charge(-size)
  }

  /** Revision names on disk: `locals/<x>` and top-level ones, not `current`/`locals`. */
  async revisions(): Promise<string[]> {
    const out: string[] = []
    for (const name of await readdir(join(this.trailsDir, 'locals')).catch(() => [] as string[])) out.push(LOCAL_PREFIX + name)
    for (const name of await readdir(this.trailsDir).catch(() => [] as string[])) {
      if (name === 'locals' || name === 'current') continue
      out.push(name)
    }
    return out.sort()
  }

  async hasRevision(rev: string): Promise<boolean> {
    return (await stat(this.jsonPath(rev)).catch(() => null))?.isFile() === true
  }

  async readJson(rev: string): Promise<Buffer | null> {
    return await readFile(this.jsonPath(rev)).catch(() => null)
  }

  /**
   * Replace a small file whole (a new file renamed over it). Each write has a
   * temporary name of its own: the progress file is written by timers and
   * requests that overlap, and two writes through one shared `.tmp` could
   * rename a file the other had just truncated, serving an empty progress.
   */
  async writeSmall(file: string, data: string | Buffer): Promise<void> {
    await mkdir(dirname(file), { recursive: true })
    const tmp = `${file}.${process.pid}.${++this.writes}.tmp`
    const old = (await stat(file).catch(() => ({ size: 0 }))).size
    try {
      await writeFile(tmp, data)
      await rename(tmp, file)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
    this.charge(Buffer.byteLength(data) - old)
  }

  async readSmall(file: string): Promise<string | null> {
    return await readFile(file, 'utf8').catch(() => null)
  }

  /** pv_storage_rm_rev. */
  async removeRevision(rev: string): Promise<void> {
    const dir = this.trailPath(rev)
    let bytes = 0
    for (const f of ['.pvr/json', '.pv/progress', '.pv/commitmsg']) bytes += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
    await rm(dir, { recursive: true, force: true })
    this.charge(-bytes)
  }

  /**
   * pv_storage_link_trail_object for every object key; the keys whose object
   * is missing. A key or id that would reach outside the storage (the device
   * would follow it) counts as missing here.
   */
  async linkObjects(rev: string, refs: Array<{ key: string; sha: string }>): Promise<string[]> {
    const missing: string[] = []
    for (const r of refs) {
      if (!safeTrailPath(r.key) || !/^[0-9a-fA-F]{64}$/.test(r.sha)) {
        missing.push(r.key)
        continue
      }
      const dst = this.trailPath(rev, r.key)
      await mkdir(dirname(dst), { recursive: true })
      try {
        await link(this.objectPath(r.sha), dst)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EEXIST') continue
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
          missing.push(r.key)
          continue
        }
        throw err
      }
    }
    return missing
  }

  /** Of `paths` in the trail of `rev`, those that are not files there (a boot asset that could not be linked). */
  async missingTrailFiles(rev: string, paths: string[]): Promise<string[]> {
    const out: string[] = []
    for (const p of paths) {
      const s = safeTrailPath(p) ? await stat(this.trailPath(rev, p)).catch(() => null) : null
      if (s === null || !s.isFile()) out.push(p)
    }
    return out
  }

  /**
   * pv_storage_validate_trails_object_checksum for each object: the trail file
   * is the object (same inode) and hashes to its id; the keys that fail. A
   * file seen valid is not hashed again while its inode, size and mtime stay.
   */
  /**
   * An object whose bytes were hashed as they arrived and matched its name:
   * the run's checksum validation need not read it again while the file is
   * unchanged (the same inode, size and mtime; anything that rewrites it is
   * hashed again). The verdict is the same; only the simulator's host CPU
   * is spared (it is the laptop's CPU in a benchmark, not the device's).
   */
  async uploadVerified(sha: string): Promise<void> {
    const obj = await stat(this.objectPath(sha)).catch(() => null)
    if (obj !== null) this.validated.set(sha, `${obj.ino}:${obj.size}:${obj.mtimeMs}`)
  }

  async invalidTrailObjects(rev: string, objects: Array<{ key: string; id: string }>): Promise<string[]> {
    const bad: string[] = []
    for (const o of objects) {
      const file = safeTrailPath(o.key) ? this.trailPath(rev, o.key) : null
      const t = file === null ? null : await stat(file).catch(() => null)
      const obj = await stat(this.objectPath(o.id)).catch(() => null)
      if (t === null || obj === null || t.ino !== obj.ino) {
        bad.push(o.key)
        continue
      }
      const tag = `${obj.ino}:${obj.size}:${obj.mtimeMs}`
      if (this.validated.get(o.id) === tag) continue
      if (!(await this.objectValid(o.id))) {
        bad.push(o.key)
        continue
      }
      this.validated.set(o.id, tag)
    }
    return bad
  }

  async setCurrent(rev: string): Promise<void> {
    const p = join(this.trailsDir, 'current')
    await rm(p, { force: true })
    await symlink(rev, p)
  }

  async current(): Promise<string | null> {
    return await readlink(join(this.trailsDir, 'current')).catch(() => null)
  }

  /** Resolve `current` to the revision it points at. */
  async resolve(rev: string): Promise<string> {
    return rev === 'current' ? ((await this.current()) ?? rev) : rev
  }

  /**
   * pv_storage_gc_run: drop revisions other than `keep`, then objects that no
   * revision links (link count 1), except those of `protect` (an update's).
   */
  async gc(keep: Set<string>, protect: Set<string>): Promise<number> {
    for (const rev of await this.revisions()) {
      if (!keep.has(rev)) await this.removeRevision(rev)
    }
    let reclaimed = 0
    for (const name of await readdir(this.objectsDir)) {
      if (!isSha256Hex(name) || protect.has(name)) continue
      const s = await lstat(this.objectPath(name)).catch(() => null)
      if (s === null || s.nlink > 1) continue
      await this.removeObject(name)
      reclaimed += s.size
    }
    return reclaimed
  }
}
