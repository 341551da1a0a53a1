/**
 * Hashing partial objects on a worker thread, so that sha256 (about 1 s of
 * CPU per GiB here) runs beside the network stack instead of in its way. The
 * worker reads the file's bytes back (from the page cache) as far as the
 * main thread says they are written, in order, one file at a time per key.
 *
 *   main -> worker  {op:'advance', key, path, to} | {op:'digest', key} | {op:'drop', key}
 *   worker -> main  {key, at} (hashed up to) | {key, digest} | {key, error}
 */
import { createHash, type Hash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'

type ToWorker = { op: 'advance', key: string, path: string, to: number } | { op: 'digest', key: string } | { op: 'drop', key: string }
type FromWorker = { key: string, at: number } | { key: string, digest: string } | { key: string, error: string }

interface FileState { hash: Hash, at: number, fh: FileHandle | undefined, path: string, chain: Promise<void>, buf: Buffer | undefined }

function workerMain (): void {
  const port = parentPort!
  const files = new Map<string, FileState>()
  const run = (key: string, fn: (s: FileState) => Promise<void>, path?: string) => {
    let s = files.get(key)
    if (s === undefined) {
      s = { hash: createHash('sha256'), at: 0, fh: undefined, path: path ?? '', chain: Promise.resolve(), buf: undefined }
      files.set(key, s)
    }
    const st = s
    st.chain = st.chain.then(() => fn(st)).catch((err: Error) => { port.postMessage({ key, error: err.message } satisfies FromWorker) })
  }
  port.on('message', (m: ToWorker) => {
    if (m.op === 'advance') {
      run(m.key, async s => {
        s.fh ??= await open(m.path, 'r')
        // One buffer per file: reads of different files run at once.
        const buf = s.buf ??= Buffer.allocUnsafe(1 << 20)
        while (s.at < m.to) {
          const { bytesRead } = await s.fh.read(buf, 0, Math.min(buf.length, m.to - s.at), s.at)
          if (bytesRead === 0) throw new Error(`${m.path}: shorter than ${m.to} bytes`)
          s.hash.update(buf.subarray(0, bytesRead))
          s.at += bytesRead
        }
        port.postMessage({ key: m.key, at: s.at } satisfies FromWorker)
      }, m.path)
    } else if (m.op === 'digest') {
      run(m.key, async s => { port.postMessage({ key: m.key, digest: s.hash.copy().digest('hex') } satisfies FromWorker) })
    } else {
      const s = files.get(m.key)
      files.delete(m.key)
      if (s !== undefined) void s.chain.then(() => s.fh?.close()).then(() => { s.buf = undefined })
    }
  })
}

if (!isMainThread && parentPort !== null) workerMain()

interface Pending { onAt: (at: number) => void, digest: Array<(d: string) => void>, fail: (e: Error) => void }

/** The main thread's handle on the hashing thread (one per pull). */
export class HashWorker {
  private worker?: Worker
  private readonly files = new Map<string, Pending>()
  private seq = 0

  private get w (): Worker {
    if (this.worker === undefined) {
      this.worker = new Worker(new URL(import.meta.url))
      this.worker.unref()
      this.worker.on('message', (m: FromWorker) => {
        const p = this.files.get(m.key)
        if (p === undefined) return
        if ('at' in m) p.onAt(m.at)
        else if ('digest' in m) p.digest.shift()?.(m.digest)
        else p.fail(new Error(`hashing failed: ${m.error}`))
      })
      this.worker.on('error', (err) => { for (const p of this.files.values()) p.fail(err) })
    }
    return this.worker
  }

  /** A fresh hash for `path`; `onAt` hears how far it got. */
  open (path: string, onAt: (at: number) => void, fail: (e: Error) => void): HashHandle {
    const key = `${++this.seq}`
    this.files.set(key, { onAt, digest: [], fail })
    const w = this.w
    return {
      advance: (to: number) => { w.postMessage({ op: 'advance', key, path, to } satisfies ToWorker) },
      digest: async () => await new Promise<string>((resolve) => { this.files.get(key)?.digest.push(resolve); w.postMessage({ op: 'digest', key } satisfies ToWorker) }),
      drop: () => { this.files.delete(key); w.postMessage({ op: 'drop', key } satisfies ToWorker) },
    }
  }

  async stop (): Promise<void> {
    const w = this.worker
    this.worker = undefined
    if (w !== undefined) await w.terminate()
  }
}

export interface HashHandle {
  /** Hash on up to byte `to` (the bytes before it are written). */
  advance: (to: number) => void
  /** The digest of everything hashed so far (call once all is advanced). */
  digest: () => Promise<string>
  drop: () => void
}
