/**
 * Every long operation started from the UI (upload, import, export, pull,
 * install, USB write) runs as a Transfer: progress, rate over a sliding
 * window, ETA, per-peer share, and cancel through its AbortController. The
 * registry emits 'transfer' events, throttled, to the event bus.
 *
 * A transfer started by an API request keeps that request (given by the
 * dispatcher through `withRequest`), so that once it failed or was cancelled
 * `retry` runs the same request again: Retry in Transfers and on the Peers row.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { AbortedError, BadInputError, NotFoundError, errorFromWire, toWireError } from '../../../shared/errors.js'
import type { Channel, Envelope } from '../../../shared/api/contract.js'
import type { TransferInfo, TransferKind } from '../../../shared/api/types.js'
import type { ApiEventBus } from './events.js'

/** The API request that started a transfer: what a retry runs again. */
export interface TransferRequest {
  channel: Channel
  req: unknown
}
interface RequestScope {
  request: TransferRequest
  retryOf: string | null
}

const WINDOW_MS = 5000
const EMIT_EVERY_MS = 250
const KEEP_FINISHED = 50

export interface TransferHandle {
  readonly id: string
  readonly signal: AbortSignal
  progress: (bytes: number, totalBytes?: number | null) => void
  /** Set a peer's running byte count (pulls). */
  peer: (peer: string, bytes: number) => void
  detail: (text: string | null) => void
  /** A better label once known (e.g. the revision's name after it is resolved). */
  rename: (label: string) => void
  /** The revision it moves (full id), once known. */
  revision: (id: string) => void
  /**
   * The work returned, but what it did failed (an install the device ended in
   * ERROR or WONTGO): the transfer ends failed with this error, not done.
   */
  fail: (err: unknown) => void
}

class Transfer implements TransferHandle {
  readonly id = randomBytes(6).toString('hex')
  readonly ac = new AbortController()
  readonly info: TransferInfo
  private samples: Array<[number, number]> = []
  /** Set by fail(): the outcome when the work returns. */
  failure: unknown = undefined
  /** The request that started it, when an API request did (then it can be retried). */
  request: TransferRequest | null = null
  private lastEmit = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly registry: TransferRegistry,
    kind: TransferKind,
    label: string,
    totalBytes: number | null,
    cancellable: boolean,
    unit: 'bytes' | 'items',
    scope: RequestScope | undefined,
  ) {
    const now = Date.now()
    this.info = {
      id: this.id,
      kind,
      label,
      state: 'running',
      unit,
      bytes: 0,
      totalBytes,
      rate: 0,
      etaSeconds: null,
      startedAt: now,
      endedAt: null,
      movedFrom: null,
      movedUntil: null,
      peers: [],
      detail: null,
      cancellable,
      error: null,
      retryable: scope !== undefined,
      retryOf: scope?.retryOf ?? null,
      retriedBy: null,
    }
    this.request = scope?.request ?? null
    this.samples.push([now, 0])
  }

  get signal(): AbortSignal {
    return this.ac.signal
  }

  progress(bytes: number, totalBytes?: number | null): void {
    if (this.info.state !== 'running') return
    const now = Date.now()
    this.info.movedFrom ??= now
    if (bytes !== this.info.bytes || this.info.movedUntil === null) this.info.movedUntil = now
    this.info.bytes = bytes
    if (totalBytes !== undefined) this.info.totalBytes = totalBytes
    this.samples.push([now, bytes])
    while (this.samples.length > 2 && now - this.samples[0][0] > WINDOW_MS) this.samples.shift()
    const [t0, b0] = this.samples[0]
    const secs = (now - t0) / 1000
    this.info.rate = secs > 0.2 ? Math.max(0, (bytes - b0) / secs) : this.info.rate
    const total = this.info.totalBytes
    this.info.etaSeconds = total !== null && this.info.rate > 0 ? Math.max(0, Math.round((total - bytes) / this.info.rate)) : null
    this.emitSoon()
  }

  peer(peer: string, bytes: number): void {
    const p = this.info.peers.find(x => x.peer === peer)
    if (p !== undefined) p.bytes = bytes
    else this.info.peers.push({ peer, bytes })
    this.emitSoon()
  }

  detail(text: string | null): void {
    this.info.detail = text
    this.emitNow()
  }

  rename(label: string): void {
    this.info.label = label
    this.emitNow()
  }

  revision(id: string): void {
    this.info.rev = id
    this.emitNow()
  }

  fail(err: unknown): void {
    this.failure = err
  }

  finish(state: 'done' | 'failed' | 'cancelled', err?: unknown): void {
    if (this.info.state !== 'running') return
    this.info.state = state
    this.info.endedAt = Date.now()
    this.info.rate = 0
    this.info.etaSeconds = null
    if (state === 'done' && this.info.totalBytes !== null) this.info.bytes = Math.max(this.info.bytes, this.info.totalBytes)
    if (err !== undefined) this.info.error = toWireError(err)
    this.emitNow()
  }

  private emitSoon(): void {
    const now = Date.now()
    if (now - this.lastEmit >= EMIT_EVERY_MS) {
      this.emitNow()
      return
    }
    this.timer ??= setTimeout(
      () => {
        this.timer = undefined
        this.emitNow()
      },
      EMIT_EVERY_MS - (now - this.lastEmit),
    )
  }

  emitNow(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    this.lastEmit = Date.now()
    this.registry.emit(this.snapshot())
  }

  snapshot(): TransferInfo {
    return { ...this.info, peers: this.info.peers.map(p => ({ ...p })), error: this.info.error === null ? null : { ...this.info.error } }
  }
}

export class TransferRegistry {
  private readonly transfers = new Map<string, Transfer>()
  private readonly scope = new AsyncLocalStorage<RequestScope>()
  /** Retries waiting for their new transfer to start, by the id of the one they retry. */
  private readonly retrying = new Map<string, (id: string) => void>()

  constructor(private readonly components: { events: ApiEventBus }) {}

  emit(info: TransferInfo): void {
    this.components.events.emit('transfer', info)
  }

  /**
   * Run `fn` as a transfer. Its signal aborts on cancel or on stop(), and when
   * `signal` (the caller's) aborts, if given.
   */
  async run<R>(
    kind: TransferKind,
    label: string,
    fn: (t: TransferHandle) => Promise<R>,
    opts: { totalBytes?: number | null; cancellable?: boolean; signal?: AbortSignal; unit?: 'bytes' | 'items' } = {},
  ): Promise<R> {
    const scope = this.scope.getStore()
    const t = new Transfer(this, kind, label, opts.totalBytes ?? null, opts.cancellable ?? true, opts.unit ?? 'bytes', scope)
    this.transfers.set(t.id, t)
    this.prune()
    if (scope?.retryOf != null) {
      const old = this.transfers.get(scope.retryOf)
      if (old !== undefined) {
        old.info.retriedBy = t.id
        old.emitNow()
      }
      this.retrying.get(scope.retryOf)?.(t.id)
    }
    const onOuter = () => {
      t.ac.abort(new AbortedError(`${label}: cancelled`))
    }
    opts.signal?.addEventListener('abort', onOuter, { once: true })
    t.emitNow()
    try {
      const r = await fn(t)
      if (t.failure !== undefined) t.finish('failed', t.failure)
      else t.finish('done')
      return r
    } catch (err) {
      t.finish(t.signal.aborted ? 'cancelled' : 'failed', t.signal.aborted ? new AbortedError(`${label}: cancelled`) : err)
      throw err
    } finally {
      opts.signal?.removeEventListener('abort', onOuter)
    }
  }

  /** Run `fn`, the handler of `request`: the transfers it starts keep the request, to be retried. */
  async withRequest<R>(request: TransferRequest, fn: () => Promise<R>, retryOf: string | null = null): Promise<R> {
    return await this.scope.run({ request, retryOf }, fn)
  }

  /**
   * Run a failed or cancelled transfer's request again through `dispatch`;
   * resolves with the new transfer's id once it started, or rejects with the
   * request's error if it failed before starting one (the revision is gone,
   * the LAN node stopped...).
   */
  async retry(id: string, dispatch: (request: TransferRequest, retryOf: string) => Promise<Envelope<unknown>>): Promise<string> {
    const t = this.transfers.get(id)
    if (t === undefined) throw new NotFoundError(`transfer ${id}: no such transfer (it was cleared); start it again from its screen`)
    if (t.info.state === 'running' || t.info.state === 'done')
      throw new BadInputError(`${t.info.label}: it ${t.info.state === 'done' ? 'succeeded' : 'still runs'}; only a failed or cancelled transfer is retried`)
    if (t.info.retriedBy !== null) throw new BadInputError(`${t.info.label}: it was retried already; see the newer transfer`)
    const request = t.request
    if (request === null)
      throw new BadInputError(`${t.info.label}: it cannot run again from here (an upload's bytes are in the browser); start it again from its screen`)
    if (this.retrying.has(id)) throw new BadInputError(`${t.info.label}: a retry is starting already`)
    return await new Promise<string>((resolve, reject) => {
      let started = false
      this.retrying.set(id, newId => {
        started = true
        this.retrying.delete(id)
        resolve(newId)
      })
      void dispatch(request, id).then(env => {
        if (started) return
        this.retrying.delete(id)
        reject(env.ok ? new BadInputError(`${t.info.label}: there was nothing to do again`) : errorFromWire(env.error))
      })
    })
  }

  list(): TransferInfo[] {
    return [...this.transfers.values()].map(t => t.snapshot()).sort((a, b) => b.startedAt - a.startedAt)
  }

  running(): number {
    let n = 0
    for (const t of this.transfers.values()) if (t.info.state === 'running') n++
    return n
  }

  cancel(id: string): boolean {
    const t = this.transfers.get(id)
    if (t === undefined || t.info.state !== 'running' || !t.info.cancellable) return false
    t.ac.abort(new AbortedError(`${t.info.label}: cancelled`))
    t.detail('cancelling')
    return true
  }

  /** Forget finished transfers. */
  clear(): number {
    let n = 0
    for (const [id, t] of this.transfers)
      if (t.info.state !== 'running') {
        this.transfers.delete(id)
        n++
      }
    return n
  }

  /** Abort everything in flight. */
  stop(): void {
    for (const t of this.transfers.values()) if (t.info.state === 'running') t.ac.abort(new AbortedError(`${t.info.label}: the app is stopping`))
  }

  private prune(): void {
    const finished = [...this.transfers.values()].filter(t => t.info.state !== 'running')
    for (const t of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.transfers.delete(t.id)
  }
}
