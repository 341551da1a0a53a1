import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { defaultStep, stepFromName, STEP_NAME_MAX } from '../../../main/devices/names.js'

const ID = '3e2b2fca03c09044b30f73febab69fefc5313d9cb39aa5dfe3f71fc5fc4b84b7'

describe('step names', () => {
  it('default: the revision name made safe, then 8 characters of the id; at most 64 after locals/', () => {
    assert.equal(defaultStep('pvwificonnect', ID), 'locals/pvwificonnect-3e2b2fca')
    assert.equal(defaultStep('site a/b: v2', ID), 'locals/site-a-b-v2-3e2b2fca')
    assert.equal(defaultStep('3e2b2fca03c0', ID), 'locals/rev-3e2b2fca', 'an unnamed revision shows its id as name')
    const long = defaultStep('x'.repeat(200), ID)
    assert.equal(long.length - 'locals/'.length, STEP_NAME_MAX)
    assert.ok(long.endsWith('-3e2b2fca'))
    assert.ok(!long.slice('locals/'.length).includes('/'))
  })

  it('--name takes NAME or locals/NAME and refuses what the device refuses (E_USAGE)', () => {
    assert.equal(stepFromName('kitchen'), 'locals/kitchen')
    assert.equal(stepFromName('locals/kitchen'), 'locals/kitchen')
    for (const bad of ['a/b', 'locals/a/b', 'x'.repeat(65), '', 'with space']) {
      assert.throws(
        () => stepFromName(bad),
        (e: { code?: string }) => e.code === 'E_USAGE',
        bad,
      )
    }
  })
})
