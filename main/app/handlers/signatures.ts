/**
 * Signature verdicts for the UI, off the API thread (issue #15, item 15): a
 * worker thread (signature-worker.ts) verifies each revision's state, and the
 * verdicts are cached per revision and trust-store version, so a library
 * listing costs one verification per revision until the trust store or the
 * policy changes. A hostile state is bounded by the verifier's own limits
 * (trust/verify.ts SignatureLimits); a verification that still runs past the
 * deadline is reported INVALID ("took too long") and the worker is replaced.
 */
import { Worker } from 'node:worker_threads'
import type { SignatureReportView, SignatureStatus } from '../../../shared/api/types.js'
import type { Logger } from '../../../shared/log.js'
import type { Library } from '../../store/library.js'
import type { TrustStore } from '../../trust/store.js'
import type { FromSignatureWorker, ToSignatureWorker } from './signature-worker.js'

/** `anchors`: fingerprints of the trust entries its valid signatures rest on (for the Trust screen). */
export interface SignatureVerdict {
  status: SignatureStatus
  view: SignatureReportView | null
  anchors: string[]
}

/** Verdicts kept (one per revision and trust version; a few hundred bytes each without their report view). */
const MAX_CACHED = 2000
/** A verification that takes longer than this is abandoned (the verifier's limits keep real ones far below). */
const DEADLINE_MS = 60_000

interface Job {
  n: number
  id: string
  key: string
  raw: Uint8Array
  version: string
  done: (v: SignatureVerdict) => void
  timer: NodeJS.Timeout | null
}

export class SignatureChecks {
  private worker: Worker | null = null
  private readonly cache = new Map<string, SignatureVerdict>()
  private readonly inflight = new Map<string, Promise<SignatureVerdict>>()
  private readonly jobs = new Map<number, Job>()
  private next = 0
  private stopped = false

  constructor(
    private readonly c: { library: Library; trust: () => TrustStore; fresh: () => Promise<void>; home: string; log: Logger },
    private readonly o: { deadlineMs?: number } = {},
  ) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true
    const w = this.worker
    this.worker = null
    for (const j of this.jobs.values()) this.finish(j, failed('the app is stopping'), false)
    if (w !== null) await w.terminate()
  }

  /** The verdict on revision `id` with the trust store as it is now; undefined when its state cannot be read. */
  async verdict(id: string): Promise<SignatureVerdict | undefined> {
    let raw: Uint8Array
    try {
      raw = this.c.library.state(id).raw
    } catch {
      return undefined
    }
    // What another process changed on disk counts (`fieldsync trust add` while the app runs).
    await this.c.fresh()
    const version = this.c.trust().version()
    const key = `${id}:${version}`
    const hit = this.cache.get(key)
    if (hit !== undefined) {
      this.cache.delete(key)
      this.cache.set(key, hit)
      return hit
    }
    let p = this.inflight.get(key)
    if (p === undefined) {
      p = new Promise<SignatureVerdict>(resolve => {
        this.post({ n: ++this.next, id, key, raw, version, done: resolve, timer: null })
      })
      this.inflight.set(key, p)
    }
    return await p
  }

  private post(j: Job): void {
    if (this.stopped) {
      j.done(failed('the app is stopping'))
      return
    }
    this.jobs.set(j.n, j)
    j.timer = setTimeout(() => {
      this.timedOut(j)
    }, this.o.deadlineMs ?? DEADLINE_MS)
    this.spawn().postMessage({ n: j.n, raw: j.raw, version: j.version } satisfies ToSignatureWorker)
  }

  private spawn(): Worker {
    if (this.worker !== null) return this.worker
    const w = new Worker(new URL('./signature-worker.js', import.meta.url), { workerData: { home: this.c.home } })
    w.unref()
    w.on('message', (m: FromSignatureWorker) => {
      const j = this.jobs.get(m.n)
      if (j === undefined) return
      this.finish(j, m.ok ? { status: m.status, view: m.view, anchors: m.anchors } : failed(m.message), m.ok)
    })
    w.on('error', err => {
      this.c.log.error('signature worker failed: %s', err.message)
      if (this.worker === w) this.worker = null
      for (const j of this.jobs.values()) this.finish(j, failed(`the signature check failed: ${err.message}`), false)
    })
    this.worker = w
    return w
  }

  /** A verification past its deadline: INVALID; the worker is replaced and the other jobs go to the new one. */
  private timedOut(j: Job): void {
    this.c.log.error('signature check of %s took over %d ms: abandoned', j.id, this.o.deadlineMs ?? DEADLINE_MS)
    const w = this.worker
    this.worker = null
    const others = [...this.jobs.values()].filter(x => x !== j)
    this.finish(j, failed(`checking its signatures took over ${Math.round((this.o.deadlineMs ?? DEADLINE_MS) / 1000)} s`), true)
    void w?.terminate()
    for (const x of others) {
      if (x.timer !== null) clearTimeout(x.timer)
      this.jobs.delete(x.n)
      this.post(x)
    }
  }

  private finish(j: Job, v: SignatureVerdict, keep: boolean): void {
    if (j.timer !== null) clearTimeout(j.timer)
    this.jobs.delete(j.n)
    this.inflight.delete(j.key)
    if (keep) {
      this.cache.set(j.key, v)
      for (const k of this.cache.keys()) {
        if (this.cache.size <= MAX_CACHED) break
        this.cache.delete(k)
      }
    }
    j.done(v)
  }
}

function failed(why: string): SignatureVerdict {
  return { status: { state: 'invalid', summary: `INVALID: ${why}` }, view: null, anchors: [] }
}
