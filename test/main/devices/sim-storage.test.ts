import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DeviceStorage } from '../../../main/devices/sim/storage.js'
import { tempDir } from '../../helpers/tmp.js'

describe('device-sim storage', () => {
  it('overlapping writes of one small file: every read is one whole version, every write lands, no temporary file stays', async t => {
    const st = new DeviceStorage(await tempDir(t), null)
    await st.start()
    const file = st.progressPath('locals/x')
    const versions = Array.from({ length: 8 }, (_, i) => JSON.stringify({ status: 'INPROGRESS', 'status-msg': 'x'.repeat(i * 5000) }))
    await st.writeSmall(file, versions[0])
    let reading = true
    const seen = new Set<string>()
    const reader = (async () => {
      while (reading) {
        const s = await readFile(file, 'utf8')
        assert.ok(versions.includes(s), `a read returned ${s.length} bytes that are no version of the file`)
        seen.add(s)
      }
    })()
    try {
      // Writes started together, as a timer and a request on the simulated device can.
      for (let round = 0; round < 40; round++)
        await Promise.all(
          versions.map(async v => {
            await st.writeSmall(file, v)
          }),
        )
    } finally {
      reading = false
      await reader
    }
    assert.ok(versions.includes(await readFile(file, 'utf8')))
    assert.deepEqual(await readdir(join(file, '..')), ['progress'])
  })
})
