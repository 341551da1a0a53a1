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
import { BugError, errorFromWire, PolicyRefusedError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { Library } from '../../store/library.js'
import type { TrustStore } from '../../trust/store.js'
import type { FromSignatureWorker, ToSignatureWorker } from './signature-worker.js'
import type { CompositionVerdict } from '../../trust/composition.js'

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

/** A policy check (checkPolicy in the worker): settles when the worker answers, or fails at the deadline. */
interface PolicyJob {
  n: number
  op: 'policy' | 'composition'
  raw: Uint8Array
  origins?: Uint8Array[]
  version: string
  resolve: (v: CompositionVerdict | undefined) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout | null
}

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
  private readonly policyJobs = new Map<number, PolicyJob>()
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
    for (const j of this.policyJobs.values()) this.settle(j, new PolicyRefusedError('the app is stopping: the signature policy was not checked'))
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

  /**
   * The signature policy's verdict on a state about to go to a device or a
   * stick (an install, a rollout, a USB write; a composed state too): resolves
   * when the policy lets it through, rejects with the PolicyRefusedError
   * checkPolicy gives otherwise, all in the worker.
   */
  async policy(raw: Uint8Array): Promise<void> {
    await this.c.fresh()
    const version = this.c.trust().version()
    await new Promise<CompositionVerdict | undefined>((resolve, reject) => {
      this.postPolicy({ n: ++this.next, op: 'policy', raw, version, resolve, reject, timer: null })
    })
  }

  /** The signature verdict on a composed state (compositionVerdict), in the worker: what the compose preview and a package's install plan show. */
  async composition(raw: Uint8Array, origins: Uint8Array[]): Promise<CompositionVerdict> {
    await this.c.fresh()
    const version = this.c.trust().version()
    const v = await new Promise<CompositionVerdict | undefined>((resolve, reject) => {
      this.postPolicy({ n: ++this.next, op: 'composition', raw, origins, version, resolve, reject, timer: null })
    })
    if (v === undefined) throw new BugError('the signature worker answered a composition without its verdict')
    return v
  }

  private postPolicy(j: PolicyJob): void {
    if (this.stopped) {
      j.reject(new PolicyRefusedError('the app is stopping: the signature policy was not checked'))
      return
    }
    this.policyJobs.set(j.n, j)
    const ms = this.o.deadlineMs ?? DEADLINE_MS
    j.timer = setTimeout(() => {
      this.c.log.error('signature policy check took over %d ms: abandoned', ms)
      this.settle(j, new PolicyRefusedError(`refused: checking its signatures took over ${Math.round(ms / 1000)} s`))
      this.replaceWorker()
    }, ms)
    this.spawn().postMessage({ n: j.n, op: j.op, raw: j.raw, origins: j.origins, version: j.version } satisfies ToSignatureWorker)
  }

  private settle(j: PolicyJob, err: Error | null, v?: CompositionVerdict): void {
    if (j.timer !== null) clearTimeout(j.timer)
    this.policyJobs.delete(j.n)
    if (err === null) j.resolve(v)
    else j.reject(err)
  }

  /** A worker stuck past a deadline is dropped; the jobs it held go to a new one. */
  private replaceWorker(): void {
    const w = this.worker
    this.worker = null
    void w?.terminate()
    const verdicts = [...this.jobs.values()]
    const policies = [...this.policyJobs.values()]
    for (const x of verdicts) {
      if (x.timer !== null) clearTimeout(x.timer)
      this.jobs.delete(x.n)
    }
    for (const x of policies) {
      if (x.timer !== null) clearTimeout(x.timer)
      this.policyJobs.delete(x.n)
    }
    for (const x of verdicts) this.post(x)
    for (const x of policies) this.postPolicy(x)
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
    this.spawn().postMessage({ n: j.n, op: 'verdict', raw: j.raw, version: j.version } satisfies ToSignatureWorker)
  }

  private spawn(): Worker {
    if (this.worker !== null) return this.worker
    const w = new Worker(new URL('./signature-worker.js', import.meta.url), { workerData: { home: this.c.home } })
    w.unref()
    w.on('message', (m: FromSignatureWorker) => {
      const p = this.policyJobs.get(m.n)
      if (p !== undefined) {
        if (m.ok) this.settle(p, null, 'composition' in m ? m.composition : undefined)
        else this.settle(p, m.error !== undefined ? errorFromWire(m.error) : new PolicyRefusedError(`refused: the signature check failed: ${m.message}`))
        return
      }
      const j = this.jobs.get(m.n)
      if (j === undefined) return
      if (!m.ok) this.finish(j, failed(m.message), false)
      else if ('status' in m) this.finish(j, { status: m.status, view: m.view, anchors: m.anchors }, true)
    })
    w.on('error', err => {
      this.c.log.error('signature worker failed: %s', err.message)
      if (this.worker === w) this.worker = null
      for (const j of this.jobs.values()) this.finish(j, failed(`the signature check failed: ${err.message}`), false)
      for (const j of this.policyJobs.values()) this.settle(j, new PolicyRefusedError(`refused: the signature check failed: ${err.message}`))
    })
    this.worker = w
    return w
  }

  /** A verification past its deadline: INVALID; the worker is replaced and the other jobs go to the new one. */
  private timedOut(j: Job): void {
    this.c.log.error('signature check of %s took over %d ms: abandoned', j.id, this.o.deadlineMs ?? DEADLINE_MS)
    this.finish(j, failed(`checking its signatures took over ${Math.round((this.o.deadlineMs ?? DEADLINE_MS) / 1000)} s`), true)
    this.replaceWorker()
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
