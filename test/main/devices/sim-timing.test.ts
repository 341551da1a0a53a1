/** The simulator's `--timing` knob: some delays set by hand, validated before the device starts. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FAST_TIMING, parseTiming } from '../../../main/devices/sim/index.js'

describe('device-sim --timing', () => {
  it('sets the named delays and nothing else', () => {
    assert.deepEqual(parseTiming('testing=3000'), { testingMs: 3000 })
    assert.deepEqual(parseTiming('pickup=0, inprogress=0,testing=0,reboot=5'), { pickupMs: 0, inprogressMs: 0, testingMs: 0, rebootDownMs: 5 })
    assert.deepEqual({ ...FAST_TIMING, ...parseTiming('testing=0') }.inprogressMs, FAST_TIMING.inprogressMs)
  })

  it('refuses what is not name=ms pairs of known names', () => {
    for (const bad of ['', 'testing', 'testing=', 'testing=-1', 'testing=1.5', 'nap=10', 'testing=10;pickup=1', 'testing=99999999'])
      assert.equal(parseTiming(bad), null, bad)
  })
})
