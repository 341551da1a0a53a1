/**
 * Every long operation started from the UI (upload, import, export, pull,
 * install, USB write) runs as a Transfer: progress, rate over a sliding
 * window, ETA, per-peer share, and cancel through its AbortController. The
 * registry emits 'transfer' events, throttled, to the event bus.
 */
import { randomBytes } from 'node:crypto'
import { AbortedError, toWireError } from '../../../shared/errors.js'
import type { TransferInfo, TransferKind } from '../../../shared/api/types.js'
import type { ApiEventBus } from './events.js'

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
  private lastEmit = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly registry: TransferRegistry,
    kind: TransferKind,
    label: string,
    totalBytes: number | null,
    cancellable: boolean,
    unit: 'bytes' | 'items',
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
    }
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
    const t = new Transfer(this, kind, label, opts.totalBytes ?? null, opts.cancellable ?? true, opts.unit ?? 'bytes')
    this.transfers.set(t.id, t)
    this.prune()
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
