/**
 * Hashing partial objects on a worker thread, so that sha256 (about 1 s of
 * CPU per GiB here) runs beside the network stack instead of in its way. The
 * worker reads the file's bytes back as far as the main thread says they
 * are written, in order, one file at a time per key. The ranges are written
 * with O_DIRECT (so they are not in the page cache), and the worker reads them
 * with O_DIRECT too, into a page-aligned buffer, from the block boundary at or
 * before where it stopped (direct reads start and end on block boundaries):
 * no page-cache page is allocated for them on either side. Where the file
 * system refuses O_DIRECT, it reads through the page cache.
 *
 *   main -> worker  {op:'advance', key, path, to, directIo} | {op:'digest', key} | {op:'drop', key}
 *   worker -> main  {key, at} (hashed up to) | {key, digest} | {key, error}
 */
import { createHash, type Hash } from 'node:crypto'
import { constants as fsc } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'
import { DIRECT_ALIGN, directIoAllowed } from '../../store/appender.js'
import { alignedBuffer } from '../../store/slots.js'

/** Bytes read per read(2). */
const READ_BYTES = 1 << 20

type ToWorker = { op: 'advance'; key: string; path: string; to: number; directIo: boolean } | { op: 'digest'; key: string } | { op: 'drop'; key: string }
type FromWorker = { key: string; at: number } | { key: string; digest: string } | { key: string; error: string }

interface FileState {
  hash: Hash
  at: number
  fh: FileHandle | undefined
  direct: boolean
  path: string
  chain: Promise<void>
  buf: Buffer | undefined
}

async function openForHash(s: FileState, path: string, directIo: boolean): Promise<void> {
  if (directIoAllowed(directIo)) {
    try {
      s.fh = await open(path, fsc.O_RDONLY | fsc.O_DIRECT)
      s.direct = true
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
    }
  }
  s.fh = await open(path, 'r')
  s.direct = false
}

/** Hash the file of `s` on from `s.at` to `to`. */
async function hashTo(s: FileState, to: number, directIo: boolean): Promise<void> {
  if (s.fh === undefined) await openForHash(s, s.path, directIo)
  // One buffer per file: reads of different files run at once.
  const buf = (s.buf ??= alignedBuffer(READ_BYTES))
  while (s.at < to) {
    const fh = s.fh as FileHandle
    // A direct read starts on a block boundary and reads whole blocks; only the bytes from `at` to `to` count.
    const from = s.direct ? s.at - (s.at % DIRECT_ALIGN) : s.at
    const skip = s.at - from
    const want = s.direct ? Math.min(buf.length, roundUp(to - from, DIRECT_ALIGN)) : Math.min(buf.length, to - from)
    let bytesRead: number
    try {
      ;({ bytesRead } = await fh.read(buf, 0, want, from))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || !s.direct) throw err
      // The file system took O_DIRECT at open but refuses these reads: go through the page cache.
      await fh.close()
      s.fh = await open(s.path, 'r')
      s.direct = false
      continue
    }
    const end = Math.min(from + bytesRead, to)
    if (end <= s.at) throw new Error(`${s.path}: shorter than ${to} bytes`)
    s.hash.update(buf.subarray(skip, end - from))
    s.at = end
  }
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m
}

function workerMain(): void {
  const port = parentPort!
  const files = new Map<string, FileState>()
  const run = (key: string, fn: (s: FileState) => Promise<void>, path?: string) => {
    let s = files.get(key)
    if (s === undefined) {
      s = { hash: createHash('sha256'), at: 0, fh: undefined, direct: false, path: path ?? '', chain: Promise.resolve(), buf: undefined }
      files.set(key, s)
    }
    const st = s
    st.chain = st.chain
      .then(() => fn(st))
      .catch((err: Error) => {
        port.postMessage({ key, error: err.message } satisfies FromWorker)
      })
  }
  port.on('message', (m: ToWorker) => {
    if (m.op === 'advance') {
      run(
        m.key,
        async s => {
          await hashTo(s, m.to, m.directIo)
          port.postMessage({ key: m.key, at: s.at } satisfies FromWorker)
        },
        m.path,
      )
    } else if (m.op === 'digest') {
      run(m.key, async s => {
        port.postMessage({ key: m.key, digest: s.hash.copy().digest('hex') } satisfies FromWorker)
      })
    } else {
      const s = files.get(m.key)
      files.delete(m.key)
      if (s !== undefined)
        void s.chain
          .then(() => s.fh?.close())
          .then(() => {
            s.buf = undefined
          })
    }
  })
}

if (!isMainThread && parentPort !== null) workerMain()

interface Pending {
  onAt: (at: number) => void
  digest: Array<(d: string) => void>
  fail: (e: Error) => void
}

/** The main thread's handle on the hashing thread (one per pull). */
export class HashWorker {
  /** `directIo`: read with O_DIRECT where it works (EnvSettings.directIo, through the library's ObjectStore). */
  constructor(private readonly opts: { directIo: boolean }) {}

  private worker?: Worker
  private readonly files = new Map<string, Pending>()
  private seq = 0

  private get w(): Worker {
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
      this.worker.on('error', err => {
        for (const p of this.files.values()) p.fail(err)
      })
    }
    return this.worker
  }

  /** A fresh hash for `path`; `onAt` hears how far it got. */
  open(path: string, onAt: (at: number) => void, fail: (e: Error) => void): HashHandle {
    const key = `${++this.seq}`
    this.files.set(key, { onAt, digest: [], fail })
    const w = this.w
    return {
      advance: (to: number) => {
        w.postMessage({ op: 'advance', key, path, to, directIo: this.opts.directIo } satisfies ToWorker)
      },
      digest: async () =>
        await new Promise<string>(resolve => {
          this.files.get(key)?.digest.push(resolve)
          w.postMessage({ op: 'digest', key } satisfies ToWorker)
        }),
      drop: () => {
        this.files.delete(key)
        w.postMessage({ op: 'drop', key } satisfies ToWorker)
      },
    }
  }

  async stop(): Promise<void> {
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
