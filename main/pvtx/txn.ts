/**
 * The pvtx transaction verbs (upstream pvtx_txn.c): begin, add, remove,
 * show, abort, commit, deploy. The state being built is PVTXDIR/current.json;
 * every change goes through the composition engine (shared/state/compose).
 * The queue verbs are in queue.ts.
 */
import { createHash, randomInt } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { BadInputError, ObjectMissingError, UsageError } from '../../shared/errors.js'
import { compose, EMPTY_STATE_TEXT, readStateDoc, type ComposeResult } from '../../shared/state/compose.js'
import { isSha } from '../../shared/state/types.js'
import type { PvtxCtrl } from './ctrl.js'
import { deployState } from './deploy.js'
import { noTransaction, transactionActive, withExit, wrongTransaction } from './errors.js'
import { ObjectsDir } from './objects.js'
import { ctrlSink, loadPackage, stateFileAt, type LibrarySource } from './sources.js'
import { PvtxDir, TxnStatus, type TxnRecord } from './status.js'

export interface PvtxComponents {
  /** Connects to pv-ctrl on first use. */
  ctrl: () => Promise<PvtxCtrl>
  /** The library, for names that are not files (null: none). */
  library: () => Promise<LibrarySource | null>
  /** Where `add -` reads from. */
  stdin: () => AsyncIterable<Uint8Array>
  warn: (message: string) => void
}

export interface AddResult {
  label: string
  objects: number
  result: ComposeResult
}

export const LOCAL_PREFIX = 'locals/'

/** upstream get_rev_name: locals/pvtx-<unix time>-<first 8 hex of the state's sha256>-<0..999>. */
export function autoRevisionName(state: Uint8Array, now = Date.now()): string {
  const hash = createHash('sha256').update(state).digest('hex').slice(0, 8)
  return `${LOCAL_PREFIX}pvtx-${Math.floor(now / 1000)}-${hash}-${randomInt(1000)}`
}

export class Pvtx {
  readonly dir: PvtxDir
  private readonly signal: AbortSignal | undefined

  constructor(
    readonly components: PvtxComponents,
    opts: { dir: string; signal?: AbortSignal },
  ) {
    this.dir = new PvtxDir(opts.dir)
    this.signal = opts.signal
  }

  /** The transaction in progress, or an error with `exit` when there is none. */
  async active(exit: number): Promise<TxnRecord> {
    const rec = await this.dir.load()
    if (rec === null || rec.status !== TxnStatus.ACTIVE) throw noTransaction(exit)
    return rec
  }

  /** The state a transaction starts from: current (pv-ctrl), empty, a file or folder, or a library revision. */
  async initialState(from: string | undefined): Promise<Uint8Array> {
    if (from === undefined || from === 'current') {
      const ctrl = await this.components.ctrl()
      const raw = await ctrl.getStep('current', this.signal)
      readStateDoc(raw, 'the running revision (pv-ctrl GET /steps/current)')
      return raw
    }
    if (from === 'empty') return new TextEncoder().encode(EMPTY_STATE_TEXT)
    const file = await stateFileAt(from)
    if (file !== null) {
      const raw = new Uint8Array(await readFile(file))
      readStateDoc(raw, file)
      return raw
    }
    const rev = (await (await this.components.library())?.find(from)) ?? null
    if (rev === null)
      throw new BadInputError(
        `${from}: not "current" or "empty", no state JSON there (a file, or a folder with json or .pvr/json), and no library revision of that name or id`,
      )
    return rev.raw
  }

  async begin(from?: string, objects?: string): Promise<TxnRecord> {
    const rec = await this.dir.load()
    if (rec?.status === TxnStatus.ACTIVE) throw transactionActive(255)
    const state = await this.initialState(from)
    let next: TxnRecord
    if (rec !== null && rec.status === TxnStatus.SET && rec.kind === 'queue') {
      // after `queue new`: the queue's transaction (local, the queue's objects folder) becomes active
      next = { ...rec, status: TxnStatus.ACTIVE }
    } else {
      await this.dir.reset()
      next = {
        kind: 'txn',
        status: TxnStatus.ACTIVE,
        isLocal: objects !== undefined,
        obj: objects !== undefined ? resolve(objects) : '',
        queue: '',
        count: 0,
        error: 0,
      }
    }
    await this.dir.writeJson(state)
    await this.dir.save(next)
    return next
  }

  async add(what: string): Promise<AddResult> {
    if (what === undefined || what === '')
      throw withExit(new UsageError('add: a package is needed: a file (tar, tgz, tar.bz2 or state JSON), - for stdin, or a library revision'), 255)
    const rec = await this.active(1)
    const local = rec.isLocal ? new ObjectsDir(rec.obj) : null
    const sink = local ?? ctrlSink(this.components.ctrl, this.signal)
    const pkg = await loadPackage(what, { sink, stdin: this.components.stdin, library: this.components.library, local, signal: this.signal })
    const current = await this.dir.readJson()
    const result = compose(current, [{ add: pkg.json, label: pkg.label }], { baseLabel: "the transaction's state" })
    await this.dir.writeJson(result.raw)
    for (const w of result.warnings) this.components.warn(w)
    return { label: pkg.label, objects: pkg.objects, result }
  }

  async remove(part: string): Promise<ComposeResult> {
    if (part === undefined || part === '') throw withExit(new UsageError('remove: a part name is needed'), 4)
    await this.active(3)
    const result = compose(await this.dir.readJson(), [{ remove: part }], { baseLabel: "the transaction's state" })
    if (result.changed) await this.dir.writeJson(result.raw)
    for (const w of result.warnings) this.components.warn(w)
    return result
  }

  async show(): Promise<Buffer> {
    await this.active(11)
    return await this.dir.readJson()
  }

  async abort(): Promise<boolean> {
    const rec = await this.dir.load()
    if (rec === null) return false
    await this.dir.clear()
    return true
  }

  /** Send the state to the device as a new step (and run it with `run`); returns the revision name. */
  async commit(name?: string, opts: { run?: boolean } = {}): Promise<string> {
    const rec = await this.active(11)
    if (rec.isLocal) throw wrongTransaction(true, 12)
    if (name !== undefined && name !== '') {
      if (!name.startsWith(LOCAL_PREFIX))
        throw withExit(new BadInputError(`${name}: a revision made by pvtx is local: its name must start with '${LOCAL_PREFIX}'`), 255)
      const { localRevisionNameProblem } = await import('../../shared/state/validate.js')
      const problem = localRevisionNameProblem(name.slice(LOCAL_PREFIX.length))
      if (problem !== null) throw withExit(new BadInputError(`${name}: ${problem}`), 255)
    }
    const state = new Uint8Array(await this.dir.readJson())
    const rev = name !== undefined && name !== '' ? name : autoRevisionName(state)
    const ctrl = await this.components.ctrl()
    // The device does not check objects before it runs a step: a missing one fails later, after a reboot.
    const shas = readStateDoc(state, "the transaction's state")
      .members.filter(m => m.type === 'string' && isSha(m.raw))
      .map(m => m.raw)
    const have = await ctrl.listObjects(this.signal)
    const missing = [...new Set(shas.filter(sha => !have.has(sha)))]
    if (missing.length > 0) {
      throw withExit(
        new ObjectMissingError(
          `the device lacks ${missing.length} object(s) the state needs (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}); add the packages that carry them`,
          { missing },
        ),
        255,
      )
    }
    await ctrl.putStep(rev, state, this.signal)
    await this.dir.save({ ...rec, status: TxnStatus.COMMITED })
    if (opts.run === true) await ctrl.run(rev, this.signal)
    return rev
  }

  async deploy(dir: string): Promise<void> {
    if (dir === undefined || dir === '') throw withExit(new UsageError('deploy: the folder to deploy to is needed'), 1)
    const rec = await this.active(11)
    if (!rec.isLocal) throw wrongTransaction(false, 255)
    await deployState(await this.dir.readJson(), rec.obj, dir, { warn: this.components.warn })
    await this.dir.save({ ...rec, status: TxnStatus.DEPLOYED })
  }
}
