/** The drivers' HTTP client against a real server: an answer over the cap is named as such, not as an unreachable device. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { PvrSdkDriver } from '../../../main/devices/index.js'
import { HttpClient } from '../../../main/devices/drivers/http.js'
import { oversizedProgress, startHostileDevice } from '../../helpers/hostile-device.js'

describe('device HTTP client', () => {
  it('an answer over the 64 MiB cap is E_PROTOCOL saying the answer was too large (not E_DEVICE_UNREACHABLE)', async t => {
    const dev = await startHostileDevice(t, { progress: () => ({ stream: () => oversizedProgress((64 << 20) + 1) }) })
    const driver = new PvrSdkDriver(dev.url)
    t.after(async () => {
      await driver.close()
    })
    const signal = new AbortController().signal
    await driver.open(signal)
    await assert.rejects(driver.progress('locals/x', signal), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, ErrorCodes.Protocol, err.message)
      assert.match(err.message, /answer .*over the 64 MiB cap/)
      assert.equal(err.details?.maxBytes, 64 << 20)
      return true
    })
  })

  it('an answer of exactly the cap is taken', async t => {
    const dev = await startHostileDevice(t, { progress: () => ({ stream: () => oversizedProgress(1000) }) })
    const http = new HttpClient('test')
    t.after(() => {
      http.close()
    })
    const signal = new AbortController().signal
    const a = await http.call({ method: 'GET', url: `${dev.url}/steps/x/progress`, signal, maxBody: 1000 })
    assert.equal(a.body.length, 1000)
    await assert.rejects(http.call({ method: 'GET', url: `${dev.url}/steps/x/progress`, signal, maxBody: 999 }), { code: ErrorCodes.Protocol })
  })
})
