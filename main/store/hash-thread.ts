/**
 * sha256 on a worker thread, of bytes in shared slots (slots.ts): the writer
 * fills a slot, hands it to the disk and to this thread at once, and takes it
 * back when both are done. sha256 (0.8 s of CPU per GiB here) then runs on the
 * other core beside the copy, and no byte is copied for it.
 *
 *   main -> worker  {op:'slab', slab, sab} | {op:'update', key, slab, offset, len} | {op:'digest', key} | {op:'drop', key}
 *   worker -> main  {op:'hashed', key} (one per update, in order) | {op:'digest', key, digest} | {op:'error', key, error}
 */
import { createHash, type Hash } from 'node:crypto'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { slabMemory, type Slot } from './slots.js'

type ToWorker =
  | { op: 'slab'; slab: number; sab: SharedArrayBuffer }
  | { op: 'update'; key: number; slab: number; offset: number; len: number }
  | { op: 'digest'; key: number }
  | { op: 'drop'; key: number }
type FromWorker = { op: 'hashed'; key: number } | { op: 'digest'; key: number; digest: string } | { op: 'error'; key: number; error: string }

const MARK = 'fieldsync-hash-thread'

function workerMain(): void {
  const port = parentPort!
  const slabs = new Map<number, SharedArrayBuffer>()
  const hashes = new Map<number, Hash>()
  port.on('message', (m: ToWorker) => {
    if (m.op === 'slab') {
      slabs.set(m.slab, m.sab)
      return
    }
    try {
      if (m.op === 'update') {
        const sab = slabs.get(m.slab)
        if (sab === undefined) throw new Error(`unknown slab ${m.slab}`)
        let h = hashes.get(m.key)
        if (h === undefined) hashes.set(m.key, (h = createHash('sha256')))
        h.update(new Uint8Array(sab, m.offset, m.len))
        port.postMessage({ op: 'hashed', key: m.key } satisfies FromWorker)
      } else if (m.op === 'digest') {
        const h = hashes.get(m.key) ?? createHash('sha256')
        hashes.delete(m.key)
        port.postMessage({ op: 'digest', key: m.key, digest: h.digest('hex') } satisfies FromWorker)
      } else {
        hashes.delete(m.key)
      }
    } catch (err) {
      hashes.delete(m.key)
      port.postMessage({ op: 'error', key: m.key, error: (err as Error).message } satisfies FromWorker)
    }
  })
}

if (!isMainThread && parentPort !== null && workerData === MARK) workerMain()

interface Waiter {
  resolve: (v: string) => void
  reject: (e: Error) => void
}
interface Stream {
  acks: Waiter[]
  digest: Waiter[]
  failed?: Error
}

/** One running sha256 on the hashing thread. */
export interface SlotHash {
  /** Hash `len` bytes of the slot; resolves once they are hashed (the slot may then be reused). */
  update: (slot: Slot, len: number) => Promise<void>
  /** The digest of everything given (after every update). */
  digest: () => Promise<string>
  drop: () => void
}

/** The main thread's handle on the hashing thread, started on first use. */
export class HashThread {
  private worker: Worker | undefined
  private sentSlabs = new Set<number>()
  private readonly streams = new Map<number, Stream>()
  private seq = 0
  private waiting = 0

  private get w(): Worker {
    if (this.worker === undefined) {
      const w = new Worker(new URL(import.meta.url), { workerData: MARK })
      w.unref()
      w.on('message', (m: FromWorker) => {
        this.onMessage(m)
      })
      const fail = (err: Error): void => {
        if (this.worker !== w) return
        this.worker = undefined
        this.sentSlabs = new Set()
        for (const s of this.streams.values()) this.fail(s, err)
      }
      w.on('error', fail)
      w.on('exit', code => {
        fail(new Error(`hashing thread exited (${code})`))
      })
      this.worker = w
    }
    return this.worker
  }

  open(): SlotHash {
    const key = ++this.seq
    const s: Stream = { acks: [], digest: [] }
    this.streams.set(key, s)
    return {
      update: async (slot, len) => {
        if (s.failed !== undefined) throw s.failed
        const w = this.w
        if (!this.sentSlabs.has(slot.slab)) {
          w.postMessage({ op: 'slab', slab: slot.slab, sab: slabMemory(slot.slab) } satisfies ToWorker)
          this.sentSlabs.add(slot.slab)
        }
        const done = this.expect(s.acks)
        w.postMessage({ op: 'update', key, slab: slot.slab, offset: slot.offset, len } satisfies ToWorker)
        await done
      },
      digest: async () => {
        if (s.failed !== undefined) throw s.failed
        const w = this.w
        const done = this.expect(s.digest)
        w.postMessage({ op: 'digest', key } satisfies ToWorker)
        try {
          return await done
        } finally {
          this.streams.delete(key)
        }
      },
      drop: () => {
        if (!this.streams.delete(key)) return
        this.worker?.postMessage({ op: 'drop', key } satisfies ToWorker)
        this.fail(s, new Error('hash dropped'))
      },
    }
  }

  async stop(): Promise<void> {
    const w = this.worker
    this.worker = undefined
    this.sentSlabs = new Set()
    for (const s of this.streams.values()) this.fail(s, new Error('the hashing thread was stopped'))
    if (w !== undefined) await w.terminate()
  }

  /** A promise for the next answer in `queue`; the thread keeps the process alive while any is awaited. */
  private async expect(queue: Waiter[]): Promise<string> {
    return await new Promise<string>((resolve, reject) => {
      if (this.waiting++ === 0) this.worker?.ref()
      queue.push({ resolve, reject })
    })
  }

  private settle(x: Waiter, v: string | Error): void {
    if (--this.waiting === 0) this.worker?.unref()
    if (typeof v === 'string') x.resolve(v)
    else x.reject(v)
  }

  private onMessage(m: FromWorker): void {
    const s = this.streams.get(m.key)
    if (s === undefined) return
    if (m.op === 'hashed') {
      const x = s.acks.shift()
      if (x !== undefined) this.settle(x, '')
    } else if (m.op === 'digest') {
      const x = s.digest.shift()
      if (x !== undefined) this.settle(x, m.digest)
    } else {
      this.fail(s, new Error(`hashing failed: ${m.error}`))
    }
  }

  private fail(s: Stream, err: Error): void {
    s.failed ??= err
    for (const x of [...s.acks.splice(0), ...s.digest.splice(0)]) this.settle(x, err)
  }
}
