/**
 * Leases: how processes that write one library home (CLI commands, the app,
 * `serve` and the pulls it runs) stay out of each other's way.
 *
 * A lease is a row in `<home>/leases.db` (a small SQLite file beside the
 * index, not part of the library: it holds only who is at work now). SQLite
 * is the arbiter: every lease is taken and every object decision made in a
 * BEGIN IMMEDIATE transaction, so two processes never decide at once. A row
 * records the process (pid, and on Linux its boot id and start time, so a
 * recycled pid does not pass for the dead process); a lease whose process is
 * gone (a `kill -9`, a crash) counts for nothing and is swept by the next
 * process that looks.
 *
 * - A **shared** lease is taken by every writer (import, pull, verify) for
 *   the length of its work; any number may run together.
 * - An **exclusive** lease (gc, verify --repair: they delete or move objects)
 *   waits until no other lease is live, and holds off new shared ones.
 * - A **hold** names an object a shared lease relies on or is writing. It is
 *   taken before the writer looks whether the object is there; an object a
 *   live lease holds is never removed by another writer's rollback.
 * - A **claim** is a hold that says "I am fetching this one" (a pull): a
 *   second pull in another process waits for the object instead of writing
 *   the same partial file.
 */
import { join } from 'node:path'
import { processAlive, processIdentity } from './process-identity.js'
import { BUSY_WAIT_MS, Database } from './sqlite.js'
import { AbortedError, BugError, BusyError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'

export type LeaseKind = 'shared' | 'exclusive'

/** How long waits last unless the caller says otherwise, and how often a waiter looks again. */
export const LeaseTuning = {
  /** A writer waits this long for a gc or verify --repair to finish. */
  sharedWaitMs: 10 * 60_000,
  /** gc and verify --repair wait this long for writers to finish (`--wait`). */
  exclusiveWaitMs: 60_000,
  pollMs: 100,
}

/** Another process's lease, as a waiter sees it. */
export interface LeaseHolder {
  pid: number
  kind: LeaseKind
  /** What it is doing (`import big.tgz`). */
  what: string
  /** Its command line (`fieldsync --home ... import big.tgz`). */
  command: string
  since: number
}

export interface AcquireOptions {
  signal?: AbortSignal
  /** How long to wait for conflicting leases (0: refuse at once). */
  waitMs?: number
  /** Called once when the lease has to wait, with who it waits for. */
  onWait?: (holder: LeaseHolder, waitMs: number) => void
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS leases (
  id       INTEGER PRIMARY KEY,
  kind     TEXT NOT NULL,
  pid      INTEGER NOT NULL,
  identity TEXT NOT NULL,        -- boot id and start time of the process ('' where unknown)
  what     TEXT NOT NULL,
  command  TEXT NOT NULL,
  since    INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS holds (
  lease    INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
  sha      TEXT NOT NULL,
  fetching INTEGER NOT NULL DEFAULT 0,  -- 1: this lease is fetching the object (a claim)
  PRIMARY KEY (lease, sha)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_sha ON holds(sha);
`

interface LeaseRow {
  id: number
  kind: LeaseKind
  pid: number
  identity: string
  what: string
  command: string
  since: number
}

export class Lease {
  private released = false
  constructor(
    private readonly book: LeaseBook,
    readonly id: number,
    readonly kind: LeaseKind,
    readonly what: string,
  ) {}

  get active(): boolean {
    return !this.released
  }

  /** Hold these objects: from now on no other writer's rollback removes them. */
  hold(shas: Iterable<string>): void {
    if (this.released) throw new BugError(`lease ${this.id} (${this.what}) used after release`)
    this.book.hold(this.id, shas)
  }

  /**
   * Claim objects to fetch: those no other live lease is fetching become
   * this lease's (`mine`); the others are someone else's to bring (`theirs`).
   */
  claim(shas: Iterable<string>): { mine: string[]; theirs: string[] } {
    if (this.released) throw new BugError(`lease ${this.id} (${this.what}) used after release`)
    return this.book.claim(this.id, shas)
  }

  /** Whether another live lease is fetching `sha` (see claim). */
  fetchingElsewhere(sha: string): boolean {
    return this.book.fetchingElsewhere(this.id, sha)
  }

  /** Let go of the lease and its holds (idempotent; a failure is logged, the process's death releases it anyway). */
  release(): void {
    if (this.released) return
    this.released = true
    this.book.release(this.id)
  }
}

export class LeaseBook {
  readonly file: string
  private db: Database | undefined
  private ready = false
  private readonly log: Logger
  private readonly mine = new Set<number>()
  /** This process's start (process-identity.ts), recorded with its pid in each of its leases ('' where /proc cannot tell). */
  private readonly identity = processIdentity(process.pid) ?? ''

  constructor(components: { log: Logger }, opts: { home: string }) {
    this.file = join(opts.home, 'leases.db')
    this.log = components.log.child('leases')
  }

  /**
   * Ready the book. `leases.db` itself opens at the first lease or decision
   * (every one of them is a transaction there): a process that only reads
   * the library (`fieldsync ls`, `show`) never opens it.
   */
  start(): void {
    this.ready = true
  }

  private open(): Database {
    const db = new Database(this.file)
    try {
      db.pragma(`busy_timeout = ${BUSY_WAIT_MS}`)
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
      db.transaction(() => {
        db.exec(SCHEMA)
      }).immediate()
    } catch (err) {
      db.close()
      throw err
    }
    return db
  }

  stop(): void {
    for (const id of [...this.mine]) this.release(id)
    this.ready = false
    this.db?.close()
    this.db = undefined
  }

  private get conn(): Database {
    if (!this.ready) throw new BugError('LeaseBook not started')
    this.db ??= this.open()
    return this.db
  }

  /**
   * Take a lease, waiting (up to `waitMs`) while conflicting ones are live.
   * Throws BusyError naming the other process when the wait runs out.
   */
  async acquire(kind: LeaseKind, what: string, opts: AcquireOptions = {}): Promise<Lease> {
    const waitMs = opts.waitMs ?? (kind === 'exclusive' ? LeaseTuning.exclusiveWaitMs : LeaseTuning.sharedWaitMs)
    const deadline = Date.now() + waitMs
    let told = false
    for (;;) {
      if (opts.signal?.aborted === true) throw new AbortedError(`${what}: cancelled while waiting for another Fieldsync process`)
      const got = this.tryAcquire(kind, what)
      if (typeof got === 'number') return new Lease(this, got, kind, what)
      if (Date.now() >= deadline) throw busyError(kind, what, got, waitMs)
      if (!told) {
        told = true
        opts.onWait?.(got, waitMs)
      }
      await delay(Math.min(LeaseTuning.pollMs, Math.max(1, deadline - Date.now())), opts.signal)
    }
  }

  /** The lease id, or the live lease in the way. */
  private tryAcquire(kind: LeaseKind, what: string): number | LeaseHolder {
    const db = this.conn
    return db
      .transaction((): number | LeaseHolder => {
        const live = this.sweep()
        const blocking = kind === 'exclusive' ? live : live.filter(l => l.kind === 'exclusive')
        if (blocking.length > 0) {
          const b = blocking[0]
          return { pid: b.pid, kind: b.kind, what: b.what, command: b.command, since: b.since }
        }
        const id = Number(
          db
            .prepare('INSERT INTO leases (kind, pid, identity, what, command, since) VALUES (?, ?, ?, ?, ?, ?)')
            .run(kind, process.pid, this.identity, what, commandLine(), Date.now()).lastInsertRowid,
        )
        this.mine.add(id)
        return id
      })
      .immediate()
  }

  /** Delete the leases of dead processes; returns the live ones. Inside a transaction. */
  private sweep(): LeaseRow[] {
    const db = this.conn
    const rows = db.prepare('SELECT id, kind, pid, identity, what, command, since FROM leases ORDER BY id').all() as LeaseRow[]
    const live: LeaseRow[] = []
    for (const r of rows) {
      if (processAlive(r.pid, r.identity === '' ? null : r.identity)) live.push(r)
      else {
        this.log('lease %d of dead process %d (%s) swept', r.id, r.pid, r.what)
        db.prepare('DELETE FROM leases WHERE id = ?').run(r.id)
      }
    }
    return live
  }

  hold(lease: number, shas: Iterable<string>): void {
    const db = this.conn
    const ins = db.prepare('INSERT OR IGNORE INTO holds (lease, sha) VALUES (?, ?)')
    db.transaction(() => {
      for (const s of shas) ins.run(lease, s)
    }).immediate()
  }

  claim(lease: number, shas: Iterable<string>): { mine: string[]; theirs: string[] } {
    const db = this.conn
    const other = db.prepare('SELECT 1 FROM holds WHERE sha = ? AND lease <> ? AND fetching = 1 LIMIT 1')
    const mark = db.prepare('INSERT INTO holds (lease, sha, fetching) VALUES (?, ?, 1) ON CONFLICT (lease, sha) DO UPDATE SET fetching = 1')
    const out = { mine: [] as string[], theirs: [] as string[] }
    db.transaction(() => {
      this.sweep()
      for (const sha of shas) {
        if (other.get(sha, lease) !== undefined) out.theirs.push(sha)
        else {
          mark.run(lease, sha)
          out.mine.push(sha)
        }
      }
    }).immediate()
    return out
  }

  fetchingElsewhere(lease: number, sha: string): boolean {
    const db = this.conn
    return db
      .transaction(() => {
        this.sweep()
        return db.prepare('SELECT 1 FROM holds WHERE sha = ? AND lease <> ? AND fetching = 1 LIMIT 1').get(sha, lease) !== undefined
      })
      .immediate()
  }

  release(lease: number): void {
    this.mine.delete(lease)
    try {
      this.conn.prepare('DELETE FROM leases WHERE id = ?').run(lease)
    } catch (err) {
      // A full disk can refuse even a delete (the WAL grows first): the
      // lease dies with this process, and the next process sweeps it.
      this.log.error('releasing lease %d failed: %s', lease, (err as Error).message)
    }
  }

  /**
   * Run `fn` in one IMMEDIATE transaction of the lease book, with dead
   * leases swept and `heldByOthers(sha)` telling whether another live lease
   * holds an object. `fn` must not await (house rule 7): it may unlink files
   * synchronously, which is what makes a check and a removal one step.
   */
  decide<T>(lease: number | undefined, fn: (heldByOthers: (sha: string) => boolean) => T): T {
    const db = this.conn
    const q = db.prepare('SELECT 1 FROM holds WHERE sha = ? AND lease IS NOT ? LIMIT 1')
    return db
      .transaction(() => {
        this.sweep()
        return fn(sha => q.get(sha, lease ?? null) !== undefined)
      })
      .immediate()
  }
}

function busyError(kind: LeaseKind, what: string, h: LeaseHolder, waitMs: number): Error {
  const secs = Math.round(waitMs / 1000)
  const doing = h.kind === 'exclusive' ? 'is tidying' : 'is writing'
  const wait = waitMs === 0 ? 'it did not wait' : `it waited ${secs} s`
  const hint = kind === 'exclusive' ? 'try again when it has finished (or give --wait more seconds)' : 'try again when it has finished'
  return new BusyError(
    `another Fieldsync process (pid ${h.pid}, \`${h.command}\`: ${h.what}) ${doing} this library; ${what} needs it to itself and ${wait}: ${hint}`,
    { pid: h.pid, command: h.command, what: h.what, kind: h.kind },
  )
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise(resolve => {
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** This process's command line, short: `fieldsync --home /x import big.tgz`. */
function commandLine(): string {
  const args = process.argv.slice(2).join(' ')
  const line = /fieldsync(\.js)?$/.test(process.argv[1] ?? '') ? `fieldsync ${args}` : `${process.title} ${args}`
  return line.length > 200 ? line.slice(0, 197) + '...' : line.trim()
}
