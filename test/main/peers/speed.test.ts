/** SpeedWatch's rule (issue #15, item 6), on a clock the test drives. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { slowKind, SpeedWatch } from '../../../main/peers/pull/speed.js'
import { PullTuning } from '../../../main/peers/pull/tuning.js'

const noop = () => {}
const GRACE = PullTuning.slowGraceMs

/** A range that receives `perSec` bytes each second from `from` to `to` (ms). */
function feed(c: { arrived: (n: number, now: number) => void; written: (now: number) => void }, perSec: number, from: number, to: number): void {
  for (let t = from; t < to; t += 1000) {
    c.arrived(perSec, t)
    c.written(t)
  }
}

describe('peers: slow ranges', () => {
  it('within the grace period nothing is judged, however slow', () => {
    const w = new SpeedWatch()
    w.start('A', 'r', () => ['B'], noop, 0)
    for (let t = 0; t < GRACE; t += 1000) assert.deepEqual(w.check(t), [])
  })

  it('a range under the floor is cut, with or without other peers, as E_TIMEOUT', () => {
    const w = new SpeedWatch()
    const c = w.start('A', 'r', () => [], noop, 0)
    feed(c, 1, 0, GRACE + 1000)
    const cuts = w.check(GRACE + 1000)
    assert.deepEqual(
      cuts.map(x => x.kind),
      ['floor'],
    )
    const e = SpeedWatch.reason(cuts[0])
    assert.equal((e as { code?: string }).code, ErrorCodes.Timeout)
    assert.equal(slowKind(e), 'floor')
  })

  it('time spent writing on our side is not held against the peer', () => {
    const w = new SpeedWatch()
    const c = w.start('A', 'r', () => [], noop, 0)
    // One chunk, then our disk takes a minute to write it.
    c.arrived(1 << 20, 100)
    assert.deepEqual(w.check(60_000), [])
    c.written(60_000)
    assert.equal(c.netMs(60_500), 600)
    assert.deepEqual(w.check(60_500), [])
  })

  it('a range far slower than a peer that could take it is cut; not when nobody could', () => {
    const w = new SpeedWatch()
    // B finished an 8 MiB range in 100 ms of waiting.
    const b = w.start('B', 'rb', () => [], noop, 0)
    b.arrived(8 << 20, 100)
    b.written(100)
    w.end(b, true, 100)
    let takers: string[] = ['B']
    const c = w.start('A', 'ra', () => takers, noop, 0)
    feed(c, PullTuning.minRangeBytesPerSec * 2, 0, GRACE + 1000)
    const cuts = w.check(GRACE + 1000)
    assert.deepEqual(
      cuts.map(x => [x.kind, x.than?.peer]),
      [['relative', 'B']],
    )
    assert.equal(slowKind(SpeedWatch.reason(cuts[0])), 'relative')
    takers = []
    assert.deepEqual(w.check(GRACE + 1500), [])
  })

  it('a range that is only somewhat slower keeps going', () => {
    const w = new SpeedWatch()
    const b = w.start('B', 'rb', () => [], noop, 0)
    feed(b, 1 << 20, 0, GRACE + 1000)
    const c = w.start('A', 'ra', () => ['B'], noop, 0)
    feed(c, (1 << 20) / (PullTuning.slowFactor / 2), 0, GRACE + 1000)
    assert.deepEqual(w.check(GRACE + 1000), [])
  })
})
