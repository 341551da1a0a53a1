/** The main side of the read-back thread (readback-worker.ts). */
import { Worker } from 'node:worker_threads'
import type { FromWorker, ToWorker } from './readback-worker.js'

interface Pending {
  onBytes?: (n: number) => void
  resolve?: (r: { sha256: string; crc32: number; bytes: number }) => void
  reject?: (e: Error) => void
  failed?: Error
}

export class ReadBackThread {
  private readonly worker: Worker
  private nextId = 1
  private readonly files = new Map<number, Pending>()

  constructor() {
    this.worker = new Worker(new URL('./readback-worker.js', import.meta.url))
    this.worker.unref()
    this.worker.on('message', (m: FromWorker) => {
      const p = this.files.get(m.id)
      if (p === undefined) return
      if (m.type === 'progress') {
        p.onBytes?.(m.bytes)
        return
      }
      this.files.delete(m.id)
      if (m.type === 'done') p.resolve?.(m)
      else {
        const e = Object.assign(new Error(m.message), { code: m.code })
        if (p.reject !== undefined) p.reject(e)
        else p.failed = e
      }
    })
    this.worker.on('error', err => {
      this.failAll(err)
    })
    this.worker.on('exit', () => {
      this.failAll(new Error('the read-back thread stopped'))
    })
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.files) {
      this.files.delete(id)
      if (p.reject !== undefined) p.reject(err)
      else p.failed = err
    }
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m)
  }

  /**
   * Start following `file`; returns its id. `direct`: the file is written
   * with O_DIRECT, so the thread reads it with O_DIRECT too (straight from
   * the medium); otherwise, with `dropCache`, it drops the cached pages first.
   */
  open(file: string, dropCache: boolean, direct: boolean, onBytes?: (n: number) => void): number {
    const id = this.nextId++
    this.files.set(id, { onBytes })
    this.post({ type: 'open', id, file, dropCache, direct })
    return id
  }

  /** The first `upTo` bytes are on the medium (fdatasync done). */
  synced(id: number, upTo: number): void {
    this.post({ type: 'synced', id, upTo })
  }

  /** The file is complete and fsynced: the rest is read, then its hashes come back. */
  end(id: number, size: number): Promise<{ sha256: string; crc32: number; bytes: number }> {
    const p = this.files.get(id)
    if (p === undefined) return Promise.reject(new Error('read-back: unknown file'))
    if (p.failed !== undefined) {
      this.files.delete(id)
      return Promise.reject(p.failed)
    }
    return new Promise((resolve, reject) => {
      p.resolve = resolve
      p.reject = reject
      this.post({ type: 'end', id, size })
    })
  }

  /**
   * Forget a file that will not be finished (the write failed or was
   * cancelled): the thread stops reading it, and a pending `end` rejects.
   */
  close(id: number): void {
    const p = this.files.get(id)
    if (p === undefined) return
    this.files.delete(id)
    this.post({ type: 'close', id })
    p.reject?.(new Error('read-back cancelled'))
  }

  async stop(): Promise<void> {
    this.failAll(new Error('the read-back thread was stopped'))
    await this.worker.terminate()
  }
}

/** Read a whole file on the read-back thread (from the medium) and hash it; cancelled with `signal`. */
export async function readOnThread(
  rb: ReadBackThread,
  file: string,
  how: { direct: boolean; dropCache: boolean; onBytes: (n: number) => void },
  size: number,
  signal?: AbortSignal,
): Promise<{ sha256: string; bytes: number }> {
  const id = rb.open(file, how.dropCache, how.direct, how.onBytes)
  const stop = () => {
    rb.close(id)
  }
  signal?.addEventListener('abort', stop, { once: true })
  try {
    if (signal?.aborted === true) stop()
    return await rb.end(id, size)
  } finally {
    signal?.removeEventListener('abort', stop)
  }
}
