/**
 * pvtx's queue (upstream pvtx_txn.c pv_pvtx_queue_*): steps recorded in a
 * folder, replayed in name order onto a transaction by `queue process`.
 *
 *   <queue>/NNN__<part, '/' as %2F>.remove    an empty file: remove <part>
 *   <queue>/NNN__<package file name>/json     a package's state (its objects
 *                                            went to the queue's objects folder)
 *
 * NNN counts up from 000 in the status file. The queue's transaction is
 * local: `begin` after `queue new` (or `queue process <base>`) activates it
 * with the queue's objects folder.
 */
import { copyFile, mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { BadArchiveError, BadInputError, UsageError } from '../../shared/errors.js'
import { compose, readStateDoc, type ComposeOp } from '../../shared/state/compose.js'
import { noTransaction, transactionActive, withExit } from './errors.js'
import { ObjectsDir } from './objects.js'
import { readPackageFile, readPackageStream, sniffFile } from './package.js'
import { TxnStatus, writeAtomic, type TxnRecord } from './status.js'
import type { Pvtx } from './txn.js'

const STEP_PREFIX = /^\d+__/

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory()
  } catch {
    return false
  }
}

export class PvtxQueue {
  constructor(
    private readonly tx: Pvtx,
    private readonly signal?: AbortSignal,
  ) {}

  private async queue(exit: number): Promise<TxnRecord> {
    const q = await this.tx.dir.load()
    if (q === null || q.kind !== 'queue') throw withExit(new BadInputError('no queue: start one with `pvtx queue new <queue> <objects>`'), exit)
    if (!(await isDir(q.queue))) throw withExit(new BadInputError(`queue ${q.queue} does not exist`), exit)
    return q
  }

  /** The next step's file name (NNN__<name><suffix>); counts the step in the status file. */
  private async nextStep(q: TxnRecord, name: string, suffix: string): Promise<string> {
    const file = join(q.queue, `${String(q.count).padStart(3, '0')}__${name}${suffix}`)
    await this.tx.dir.save({ ...q, count: q.count + 1 })
    return file
  }

  async create(queue: string, objects: string): Promise<TxnRecord> {
    if (queue === undefined || queue === '') throw withExit(new UsageError('queue new: the queue folder is needed'), 1)
    if (objects === undefined || objects === '') throw withExit(new UsageError('queue new: the objects folder is needed'), 1)
    const rec = await this.tx.dir.load()
    if (rec?.status === TxnStatus.ACTIVE) throw transactionActive(12)
    await this.tx.dir.reset()
    const q: TxnRecord = { kind: 'queue', status: TxnStatus.SET, isLocal: true, obj: resolve(objects), queue: resolve(queue), count: 0, error: 0 }
    await mkdir(q.queue, { recursive: true, mode: 0o775 })
    await this.tx.dir.save(q)
    return q
  }

  async remove(part: string): Promise<string> {
    if (part === undefined || part === '') throw withExit(new UsageError('queue remove: a part name is needed'), 1)
    const q = await this.queue(1)
    const file = await this.nextStep(q, part.replaceAll('/', '%2F'), '.remove')
    await writeFile(file, '')
    return file
  }

  /** Stage a package: its state into the queue, its objects into the objects folder. */
  async unpack(what: string, stdin: () => AsyncIterable<Uint8Array>): Promise<string> {
    if (what === undefined || what === '') throw withExit(new UsageError('queue unpack: a package is needed (a file, or - for stdin)'), 1)
    const q = await this.queue(1)
    await mkdir(q.obj, { recursive: true, mode: 0o775 })
    const sink = new ObjectsDir(q.obj)
    let json: Uint8Array | null
    let name: string
    if (what.startsWith('-')) {
      json = (await readPackageStream(stdin(), 'auto', sink, { source: 'stdin', signal: this.signal })).json
      name = 'package'
    } else {
      const fmt = await sniffFile(what)
      name = basename(what)
      if (fmt === null) {
        readStateDoc(new Uint8Array(await readFile(what)), what)
        const file = join(await this.nextStep(q, name, ''), 'json')
        await mkdir(join(file, '..'), { recursive: true })
        await copyFile(what, file)
        return file
      }
      json = (await readPackageFile(what, fmt, sink, { signal: this.signal })).json
    }
    if (json === null) throw new BadArchiveError(`${what === '-' ? 'stdin' : what}: the archive has no 'json' entry: not a package (a pvr export)`)
    const file = join(await this.nextStep(q, name, ''), 'json')
    await mkdir(join(file, '..'), { recursive: true })
    await writeAtomic(file, json)
    return file
  }

  /** The queue's steps in order, as compose operations. */
  async steps(q: TxnRecord): Promise<ComposeOp[]> {
    const ops: ComposeOp[] = []
    const names = (await readdir(q.queue, { withFileTypes: true })).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    for (const e of names) {
      const decoded = e.name.replaceAll(/%2F/gi, '/')
      if (e.isFile() && decoded.endsWith('.remove')) {
        ops.push({ remove: decoded.replace(STEP_PREFIX, '').slice(0, -'.remove'.length) })
      } else if (e.isDirectory()) {
        const dir = join(q.queue, e.name)
        let json: Buffer
        try {
          json = await readFile(join(dir, 'json'))
        } catch {
          continue
        } // upstream skips a step folder without json
        ops.push({ add: new Uint8Array(json), label: e.name.replace(STEP_PREFIX, '') })
        await this.moveObjects(join(dir, 'objects'), q.obj)
      }
    }
    return ops
  }

  /** Objects a step folder holds itself go to the objects folder (upstream move_objects). */
  private async moveObjects(from: string, to: string): Promise<void> {
    let files: string[]
    try {
      files = await readdir(from)
    } catch {
      return
    }
    for (const f of files) await rename(join(from, f), join(to, f))
  }

  /** Replay the queue onto the transaction; `from` begins it first, `queue`+`objects` make the queue first. */
  async process(from?: string, queue?: string, objects?: string): Promise<void> {
    if (queue !== undefined && objects !== undefined) await this.create(queue, objects)
    const q = await this.queue(255)
    if (from !== undefined) await this.tx.begin(from, q.obj)
    const rec = await this.tx.dir.load()
    if (rec === null || rec.status !== TxnStatus.ACTIVE)
      throw noTransaction(3, 'no active transaction: begin one (`pvtx begin <base>`) or give `queue process` a base')
    const ops = await this.steps(q)
    const res = compose(await this.tx.dir.readJson(), ops, { baseLabel: "the transaction's state" })
    if (res.changed) await this.tx.dir.writeJson(res.raw)
  }
}
