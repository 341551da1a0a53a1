/**
 * SpeedWatch: judges each range in flight by the rate its peer sends it
 * (issue #15, item 6). The idle timeout only catches silence, so a peer that
 * drips a byte every few seconds would hold its ranges, and the pull, for
 * ever. After a grace period a range is cut (its written prefix is kept; the
 * rest goes back to the queue, to another peer if one can take it) when, over
 * the last window:
 *
 * - floor: it came slower than PullTuning.minRangeBytesPerSec, whoever else
 *   there is (counts as a failed request: a peer whose ranges keep failing so
 *   is dropped, and a pull with no other peer fails with E_TIMEOUT);
 * - relative: it came more than PullTuning.slowFactor times slower than
 *   another peer that could take it over sends a range (the slow peer then
 *   gets work only when no faster one can take it).
 *
 * Only time spent waiting for the peer counts: while we write a chunk (disk,
 * hashing) the clock is ours, so a slow disk here never convicts a peer.
 */
import { TimeoutError } from '../../../shared/errors.js'
import { PullTuning } from './tuning.js'
import { formatRate } from '../../../shared/units.js'

export type SlowKind = 'floor' | 'relative'

interface Sample {
  net: number
  bytes: number
}

/** One range in flight: bytes, and time spent waiting for its peer. */
export class RangeClock {
  bytes = 0
  private readonly started: number
  private ownMs = 0
  private writingSince = -1
  private samples: Sample[] = [{ net: 0, bytes: 0 }]

  constructor(
    readonly peer: string,
    readonly what: string,
    readonly takers: () => string[],
    readonly cut: (reason: Error) => void,
    now: number,
  ) {
    this.started = now
  }

  /** A chunk arrived; our write of it starts (the time until `written` is ours). */
  arrived(n: number, now: number): void {
    this.bytes += n
    this.writingSince = now
  }

  written(now: number): void {
    if (this.writingSince < 0) return
    this.ownMs += now - this.writingSince
    this.writingSince = -1
  }

  /** Milliseconds spent waiting for the peer. */
  netMs(now: number): number {
    return now - this.started - this.ownMs - (this.writingSince >= 0 ? now - this.writingSince : 0)
  }

  /** Bytes per second over the last window of waiting, or undefined within the grace period. */
  sample(now: number): number | undefined {
    const net = this.netMs(now)
    this.samples.push({ net, bytes: this.bytes })
    if (net < PullTuning.slowGraceMs) return undefined
    // The newest sample at least one window old (the first, {0, 0}, always is: grace >= window).
    let i = 0
    while (i + 1 < this.samples.length && this.samples[i + 1].net <= net - PullTuning.slowWindowMs) i++
    this.samples = this.samples.slice(i)
    const s = this.samples[0]
    return ((this.bytes - s.bytes) * 1000) / Math.max(1, net - s.net)
  }
}

export interface SlowCut {
  clock: RangeClock
  kind: SlowKind
  rate: number
  than?: { peer: string; rate: number }
}

export class SpeedWatch {
  private readonly live = new Set<RangeClock>()
  /** Per peer: the rate of its recently finished ranges (moving average). */
  private readonly finished = new Map<string, number>()

  start(peer: string, what: string, takers: () => string[], cut: (reason: Error) => void, now = Date.now()): RangeClock {
    const c = new RangeClock(peer, what, takers, cut, now)
    this.live.add(c)
    return c
  }

  end(c: RangeClock, ok: boolean, now = Date.now()): void {
    this.live.delete(c)
    // Small ranges say little about a peer's rate.
    if (!ok || c.bytes < PullTuning.slowMinSampleBytes) return
    const rate = (c.bytes * 1000) / Math.max(1, c.netMs(now))
    const prev = this.finished.get(c.peer)
    this.finished.set(c.peer, prev === undefined ? rate : (prev + rate) / 2)
  }

  /** The ranges to cut now (the caller cuts them). */
  check(now = Date.now()): SlowCut[] {
    const rates = new Map<RangeClock, number | undefined>()
    const peerRate = new Map<string, number>(this.finished)
    for (const c of this.live) {
      const r = c.sample(now)
      rates.set(c, r)
      if (r !== undefined && r > (peerRate.get(c.peer) ?? 0)) peerRate.set(c.peer, r)
    }
    const out: SlowCut[] = []
    for (const [c, rate] of rates) {
      if (rate === undefined) continue
      if (rate < PullTuning.minRangeBytesPerSec) {
        out.push({ clock: c, kind: 'floor', rate })
        continue
      }
      let than: { peer: string; rate: number } | undefined
      for (const p of c.takers()) {
        const r = peerRate.get(p) ?? 0
        if (r > (than?.rate ?? 0)) than = { peer: p, rate: r }
      }
      if (than !== undefined && rate * PullTuning.slowFactor < than.rate) out.push({ clock: c, kind: 'relative', rate, than })
    }
    return out
  }

  /** The error a cut range fails with (E_TIMEOUT; `details.slow` says which rule). */
  static reason(cut: SlowCut): Error {
    const c = cut.clock
    const at = `${c.what} from peer ${c.peer}: ${formatRate(cut.rate)} over the last ${PullTuning.slowWindowMs / 1000} s`
    const msg =
      cut.kind === 'floor'
        ? `${at}, under the minimum of ${formatRate(PullTuning.minRangeBytesPerSec)}`
        : `${at}, over ${PullTuning.slowFactor} times slower than peer ${cut.than!.peer} (${formatRate(cut.than!.rate)}): its rest goes to the faster peer`
    return new TimeoutError(msg, { slow: cut.kind, peer: c.peer, rate: Math.round(cut.rate) })
  }
}

/** Was this range cut by SpeedWatch, and by which rule? */
export function slowKind(err: unknown): SlowKind | undefined {
  const d = (err as { details?: { slow?: unknown } } | null)?.details
  return d?.slow === 'floor' || d?.slow === 'relative' ? d.slow : undefined
}
