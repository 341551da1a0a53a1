/** Typed progress of a pull: bytes, rate, ETA, and each peer's share. */
import { PullTuning } from './tuning.js'

export interface PeerProgress {
  bytes: number
  rate: number
}

export type PullEvent =
  | { type: 'resolved'; id: string; name: string | null; objects: number; bytes: number; peers: string[] }
  | {
      type: 'progress'
      id: string
      bytes: number
      totalBytes: number
      rate: number
      etaSeconds: number | null
      objectsDone: number
      objects: number
      peers: Record<string, PeerProgress>
    }
  | { type: 'object'; id: string; sha: string; size: number }
  | { type: 'peer-dropped'; id: string; peer: string; reason: string }
  | { type: 'liar'; id: string; peer: string; sha: string }

/** Bytes per second over a sliding window, in fixed buckets (cheap per chunk). */
class Rate {
  private static readonly BUCKET_MS = 100
  private readonly buckets = new Float64Array(Math.ceil(PullTuning.rateWindowMs / Rate.BUCKET_MS))
  private current = -1

  add(n: number, now: number): void {
    this.roll(now)
    this.buckets[this.current % this.buckets.length] += n
  }

  private roll(now: number): void {
    const b = Math.floor(now / Rate.BUCKET_MS)
    if (this.current < 0) this.current = b
    if (b === this.current) return
    const steps = Math.min(b - this.current, this.buckets.length)
    for (let i = 1; i <= steps; i++) this.buckets[(this.current + i) % this.buckets.length] = 0
    this.current = b
  }

  value(now: number, started: number): number {
    this.roll(now)
    const span = Math.max(Rate.BUCKET_MS, Math.min(now - started, PullTuning.rateWindowMs)) / 1000
    let n = 0
    for (const x of this.buckets) n += x
    return n / span
  }
}

export class ProgressTracker {
  bytes = 0
  objectsDone = 0
  readonly perPeer = new Map<string, { bytes: number; rate: Rate }>()
  private readonly rate = new Rate()
  private readonly started = Date.now()
  private lastEmit = 0

  constructor(
    private readonly id: string,
    public totalBytes: number,
    public objects: number,
    private readonly emit: (e: PullEvent) => void,
  ) {}

  add(peer: string, n: number): void {
    const now = Date.now()
    this.bytes += n
    this.rate.add(n, now)
    let p = this.perPeer.get(peer)
    if (p === undefined) {
      p = { bytes: 0, rate: new Rate() }
      this.perPeer.set(peer, p)
    }
    p.bytes += n
    p.rate.add(n, now)
    if (now - this.lastEmit >= PullTuning.progressIntervalMs) this.flush()
  }

  /** Bytes that arrived but must be fetched again (a failed range, a bad object): the total grows. */
  wasted(n: number): void {
    this.totalBytes += n
  }

  objectDone(): void {
    this.objectsDone++
  }

  flush(): void {
    const now = Date.now()
    this.lastEmit = now
    const rate = this.rate.value(now, this.started)
    const left = Math.max(0, this.totalBytes - this.bytes)
    const peers: Record<string, PeerProgress> = {}
    for (const [id, p] of this.perPeer) peers[id] = { bytes: p.bytes, rate: p.rate.value(now, this.started) }
    this.emit({
      type: 'progress',
      id: this.id,
      bytes: this.bytes,
      totalBytes: this.totalBytes,
      rate,
      etaSeconds: rate > 0 ? left / rate : null,
      objectsDone: this.objectsDone,
      objects: this.objects,
      peers,
    })
  }

  fromPeers(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [id, p] of this.perPeer) out[id] = p.bytes
    return out
  }
}
