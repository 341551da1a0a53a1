/**
 * Library: the revision index (SQLite) over the object pool. All writes are
 * synchronous transactions done after the I/O (house rule 7): callers put
 * objects into the ObjectStore first, then record them here.
 */
import { EventEmitter } from 'node:events'
import { rmSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { AmbiguousRevisionError, BugError, NoSpaceError, UnknownRevisionError, UsageError } from '../../shared/errors.js'
import type { RevisionRecord } from '../../shared/api/types.js'
import type { Logger } from '../../shared/log.js'
import { revisionId } from '../../shared/state/canonical.js'
import { objectRefs } from '../../shared/state/objects.js'
import { parseState } from '../../shared/state/parse.js'
import type { ParsedState } from '../../shared/state/types.js'
import { openDatabase, type Db } from './db.js'
import { LeaseBook, type AcquireOptions, type Lease, type LeaseKind } from './leases.js'
import { ObjectStore } from './objects.js'
import { Queries } from './queries.js'

/** The same shape the UI contract carries (shared/api), without the signature status. */
export type RevisionInfo = RevisionRecord

export interface RevisionObject {
  key: string
  sha: string
  size: number | null
  present: boolean
}

export interface AddRevisionResult {
  id: string
  existed: boolean
  /** Shas the revision references that are not in the store. */
  missing: string[]
  name: string | undefined
}

export interface LibraryStats {
  revisions: number
  objects: number
  storedBytes: number
  logicalBytes: number
}

export interface LibraryEvents {
  revision: [{ id: string; complete: boolean }]
  object: [{ sha: string; size: number }]
}

/** A full disk, as a file write (ENOSPC) or the index (SQLITE_FULL) reports it. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'E_NO_SPACE'
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,127}$/

/** A valid revision name: 1-128 of letters, digits and . _ @ + : - (first a letter or digit), and nothing that looks like an id. */
export function isRevisionName(name: string): boolean {
  return NAME_RE.test(name) && !/^[0-9a-f]{8,64}$/.test(name)
}

export function checkRevisionName(name: string): string {
  if (!isRevisionName(name)) {
    throw new UsageError(
      `revision name ${JSON.stringify(name)}: use 1-128 letters, digits and . _ @ + : - (starting with a letter or digit), not something that looks like an id`,
    )
  }
  return name
}

/**
 * A revision name from a file or folder name (`pvwificonnect.tgz` gives
 * `pvwificonnect`): without its archive extensions, other characters as `-`;
 * undefined when nothing usable is left.
 */
export function nameFromFileName(file: string): string | undefined {
  const base = basename(file).replace(/(\.(tgz|tar|gz|json|pvrexport))+$/i, '')
  const name = base
    .replace(/[^A-Za-z0-9._@+:-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 128)
  return isRevisionName(name) ? name : undefined
}

export class Library extends EventEmitter<LibraryEvents> {
  readonly home: string
  readonly objects: ObjectStore
  /** Who else writes this home now (leases.ts). */
  readonly leases: LeaseBook
  private readonly log: Logger
  private _db?: Db
  private q?: Queries

  constructor(components: { log: Logger }, opts: { home: string; directIo?: boolean }) {
    super()
    this.home = opts.home
    this.log = components.log.child('store')
    this.objects = new ObjectStore({ log: this.log }, this.home, { directIo: opts.directIo })
    this.leases = new LeaseBook({ log: this.log }, { home: this.home })
  }

  get db(): Db {
    if (this._db === undefined) throw new BugError('Library not started')
    return this._db
  }

  private get queries(): Queries {
    if (this.q === undefined) throw new BugError('Library not started')
    return this.q
  }

  async start(): Promise<void> {
    if (this._db !== undefined) return
    await mkdir(this.home, { recursive: true })
    await this.objects.start()
    try {
      this._db = openDatabase(join(this.home, 'index.db'), this.log)
      this.leases.start()
    } catch (err) {
      this._db?.close()
      this._db = undefined
      throw this.diskFull(err, 'opening the library')
    }
    this.q = new Queries(this._db)
  }

  async stop(): Promise<void> {
    await this.objects.stop()
    this.leases.stop()
    this._db?.close()
    this._db = undefined
    this.q = undefined
  }

  /**
   * A full disk (ENOSPC from a file, SQLITE_FULL from the index) as a
   * NoSpaceError that names the library; `after` says what was kept or what
   * to do. Other errors as they are.
   */
  diskFull(err: unknown, what: string, after?: string): unknown {
    if (!isDiskFull(err)) return err
    return new NoSpaceError(`${what}: the library's disk is full (${this.home})${after === undefined ? '' : `; ${after}`}`, {
      home: this.home,
      advice: 'library-full',
    })
  }

  /** A transaction on the index; a full disk becomes a NoSpaceError naming the library. */
  private write<T>(what: string, fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate()
    } catch (err) {
      throw this.diskFull(err, what, 'nothing of it was recorded')
    }
  }

  /**
   * A lease on this home for the length of some work (leases.ts): shared
   * for writers, exclusive for gc and verify --repair. Waits while a
   * conflicting one is live; BusyError when the wait runs out.
   */
  async lease(kind: LeaseKind, what: string, opts: AcquireOptions = {}): Promise<Lease> {
    try {
      return await this.leases.acquire(kind, what, opts)
    } catch (err) {
      throw this.diskFull(err, what)
    }
  }

  /**
   * After a failed write: remove objects `lease` put into the pool, except
   * those the index records as present (another writer finished with them)
   * and those another live lease holds (a writer that relies on them).
   * Check and removal are one step for every process (leases.ts `decide`).
   * Returns the shas removed.
   */
  discardWritten(lease: Lease, shas: Iterable<string>): string[] {
    const removed: string[] = []
    const list = [...shas]
    if (list.length === 0) return removed
    this.leases.decide(lease.id, heldByOthers => {
      for (const sha of list) {
        if (heldByOthers(sha) || this.isPresent(sha)) continue
        rmSync(this.objects.path(sha), { force: true })
        removed.push(sha)
      }
    })
    if (removed.length < list.length) this.log('rollback of %s kept %d object(s) another writer uses', lease.what, list.length - removed.length)
    return removed
  }

  /**
   * Remove the objects no revision uses that no live lease holds (the
   * index's half of gc, for `library.remove` in the app). Returns how many.
   */
  removeUnreferenced(lease: Lease | undefined): number {
    let n = 0
    this.leases.decide(lease?.id, heldByOthers => {
      for (const sha of this.unreferencedObjects()) {
        if (heldByOthers(sha)) continue
        rmSync(this.objects.path(sha), { force: true })
        this.forgetObject(sha)
        n++
      }
    })
    return n
  }

  /** A full id, a unique id prefix of 8+ hex characters, or a name. */
  resolve(ref: string): RevisionInfo {
    const q = this.queries
    const byName = q.revisionByName.get(ref) as { revision_id: string } | undefined
    if (byName !== undefined) return this.mustGet(byName.revision_id)
    if (/^[0-9a-f]{8,64}$/.test(ref)) {
      const rows = q.revisionsByPrefix.all(ref + '%') as Array<{ id: string }>
      if (rows.length === 1) return this.mustGet(rows[0].id)
      if (rows.length > 1) {
        throw new AmbiguousRevisionError(
          `revision ${ref}: the prefix matches ${rows.length} revisions (${rows.map(r => r.id.slice(0, 12)).join(', ')}); give more characters`,
          { matches: rows.map(r => r.id) },
        )
      }
    } else if (/^[0-9a-fA-F]{1,7}$/.test(ref)) {
      throw new UnknownRevisionError(`revision ${ref}: not a name, and an id prefix needs at least 8 hex characters`)
    }
    throw new UnknownRevisionError(`revision ${ref}: no revision with that name or id in the library (see fieldsync ls)`)
  }

  get(id: string): RevisionInfo | undefined {
    const row = this.queries.revisionInfo.get(id) as RevisionRow | undefined
    return row === undefined ? undefined : this.toInfo(row)
  }

  private mustGet(id: string): RevisionInfo {
    const r = this.get(id)
    if (r === undefined) throw new UnknownRevisionError(`revision ${id}: not in the library`)
    return r
  }

  list(): RevisionInfo[] {
    return (this.queries.revisionList.all() as RevisionRow[]).map(r => this.toInfo(r))
  }

  /** The stored state (original bytes), parsed. */
  state(id: string): ParsedState {
    const row = this.queries.revisionState.get(id) as { state: Buffer } | undefined
    if (row === undefined) throw new UnknownRevisionError(`revision ${id}: not in the library`)
    return parseState(new Uint8Array(row.state), `revision ${id.slice(0, 12)}`)
  }

  objectsOf(id: string): RevisionObject[] {
    return (this.queries.revisionObjects.all(id) as Array<{ key: string; sha: string; size: number | null; present: number }>).map(r => ({
      key: r.key,
      sha: r.sha,
      size: r.size,
      present: r.present === 1,
    }))
  }

  missing(id: string): string[] {
    return (this.queries.revisionMissing.all(id) as Array<{ sha: string }>).map(r => r.sha)
  }

  /** Size of an object as recorded (present or not), or null if unknown. */
  objectSize(sha: string): number | null {
    const r = this.queries.objectGet.get(sha) as { size: number | null } | undefined
    return r?.size ?? null
  }

  isPresent(sha: string): boolean {
    const r = this.queries.objectGet.get(sha) as { present: number } | undefined
    return r?.present === 1
  }

  /** Which of `shas` are present in the store (per the index). */
  presentAmong(shas: Iterable<string>): Set<string> {
    const out = new Set<string>()
    for (const s of shas) if (this.isPresent(s)) out.add(s)
    return out
  }

  /**
   * Record a revision. `present` gives the sizes of objects just written to
   * (or verified in) the store by the caller. Objects already known present
   * need not be listed. Idempotent: an existing revision only gains the name.
   * Without `name`, `suggestedName` (e.g. from the file name) names a
   * revision that has no name yet, if no other revision holds it.
   */
  addRevision(input: {
    raw: Uint8Array
    parsed?: ParsedState
    name?: string
    suggestedName?: string
    source: string
    present?: ReadonlyMap<string, number>
  }): AddRevisionResult {
    const parsed = input.parsed ?? parseState(input.raw, input.source)
    const id = revisionId(parsed)
    const refs = objectRefs(parsed)
    if (input.name !== undefined) checkRevisionName(input.name)
    const q = this.queries
    const now = Date.now()
    let existed = false
    const newlyComplete: string[] = []
    this.write(`recording revision ${id.slice(0, 12)}`, () => {
      for (const [sha, size] of input.present ?? []) q.objectSetPresent.run({ sha, size })
      existed = q.revisionExists.get(id) !== undefined
      if (!existed) {
        q.revisionInsert.run({ id, state: Buffer.from(parsed.raw), spec: parsed.spec, source: input.source, imported_at: now })
        for (const r of refs) {
          q.objectEnsure.run({ sha: r.sha })
          q.revisionObjectInsert.run({ revision_id: id, key: r.key, sha: r.sha })
        }
      }
      if (input.name !== undefined) q.nameUpsert.run({ name: input.name, revision_id: id, created_at: now })
      else if (input.suggestedName !== undefined && isRevisionName(input.suggestedName))
        q.nameInsertIfFree.run({ name: input.suggestedName, revision_id: id, created_at: now })
      if (this.refreshComplete(id)) newlyComplete.push(id)
    })
    const missing = this.missing(id)
    const info = this.mustGet(id)
    if (!existed || newlyComplete.length > 0) this.emit('revision', { id, complete: info.complete })
    for (const [sha, size] of input.present ?? []) this.emit('object', { sha, size })
    return { id, existed, missing, name: input.name ?? info.names[0] }
  }

  /** Record that `sha` is now in the store (after a verified put); completes revisions. */
  objectPresent(sha: string, size: number): string[] {
    const q = this.queries
    const completed: string[] = []
    this.write(`recording object ${sha.slice(0, 12)}`, () => {
      q.objectSetPresent.run({ sha, size })
      for (const r of q.revisionsUsing.all(sha) as Array<{ revision_id: string }>) {
        if (this.refreshComplete(r.revision_id)) completed.push(r.revision_id)
      }
    })
    this.emit('object', { sha, size })
    for (const id of completed) this.emit('revision', { id, complete: true })
    return completed
  }

  /** Record that `sha` is gone or corrupt; its revisions become incomplete. */
  objectAbsent(sha: string): string[] {
    const q = this.queries
    const affected = (q.revisionsUsing.all(sha) as Array<{ revision_id: string }>).map(r => r.revision_id)
    this.write(`recording object ${sha.slice(0, 12)} as missing`, () => {
      q.objectSetAbsent.run({ sha })
      for (const id of affected) this.refreshComplete(id)
    })
    for (const id of affected) this.emit('revision', { id, complete: false })
    return affected
  }

  /** Recompute `complete`; returns true when it went from 0 to 1. */
  private refreshComplete(id: string): boolean {
    const q = this.queries
    const missing = (q.revisionMissingCount.get(id) as { n: number }).n
    const before = (q.revisionComplete.get(id) as { complete: number }).complete
    const now = missing === 0 ? 1 : 0
    if (now !== before) q.revisionSetComplete.run({ id, complete: now })
    return now === 1 && before === 0
  }

  /** Remove a revision from the index (objects stay until gc). */
  removeRevision(id: string): void {
    this.write(`removing revision ${id.slice(0, 12)}`, () => {
      this.queries.revisionDelete.run(id)
    })
    this.emit('revision', { id, complete: false })
  }

  stats(): LibraryStats {
    return this.queries.stats() as LibraryStats
  }

  /** Objects the index knows as present, with sizes. */
  presentObjects(): Array<{ sha: string; size: number }> {
    return this.queries.objectsPresent.all() as Array<{ sha: string; size: number }>
  }

  /** Shas that no revision references. */
  unreferencedObjects(): string[] {
    return (this.queries.objectsUnreferenced.all() as Array<{ sha: string }>).map(r => r.sha)
  }

  /** Ids of the revisions that reference `sha`. */
  referencedBy(sha: string): string[] {
    return (this.queries.revisionsUsing.all(sha) as Array<{ revision_id: string }>).map(r => r.revision_id)
  }

  forgetObject(sha: string): void {
    this.queries.objectDelete.run(sha)
  }

  private toInfo(r: RevisionRow): RevisionInfo {
    const names = r.names === null ? [] : r.names.split('\n')
    return {
      id: r.id,
      name: names[0] ?? r.id.slice(0, 12),
      names,
      spec: r.spec,
      source: r.source,
      importedAt: r.imported_at,
      complete: r.complete === 1,
      objects: r.objects,
      missing: r.missing,
      bytes: r.bytes,
    }
  }
}

interface RevisionRow {
  id: string
  spec: string
  source: string
  imported_at: number
  complete: number
  names: string | null
  objects: number
  missing: number
  bytes: number
}
