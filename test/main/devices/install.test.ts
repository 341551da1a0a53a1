/** The Installer in-process with the pvr-sdk driver against an in-process simulator: events and plan. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { silentLogger } from '../../../shared/log.js'
import { App } from '../../../main/app/index.js'
import { DeviceStore, Installer, PvrSdkDriver, type InstallEvent } from '../../../main/devices/index.js'
import { DeviceSimulator } from '../../../main/devices/sim/index.js'
import { tempDir } from '../../helpers/tmp.js'
import { makeRev } from '../../integration/devices-harness.js'

describe('Installer', () => {
  it('reports phases in order, upload bytes with rate and ETA, device progress, and a plan that matches what it sends', async t => {
    const dir = await tempDir(t)
    const app = new App({ home: join(dir, 'home'), log: silentLogger() })
    await app.start()
    t.after(async () => {
      await app.stop()
    })
    const rev = await makeRev(join(dir, 'src'), 'ev', [{ name: 'app', bytes: 2_000_000 }])
    await app.importer.importPath(rev.tarball, { name: 'ev' })
    const sim = new DeviceSimulator(
      { log: silentLogger() },
      { dir: join(dir, 'dev'), http: '127.0.0.1:0', fast: true, outcome: 'updated', assumePvrSdkProgress: true },
    )
    await sim.start()
    t.after(async () => {
      await sim.stop()
    })
    const store = new DeviceStore(app.library.db)
    const installer = new Installer({ library: app.library, devices: store, log: silentLogger(), trust: app.trust })
    const signal = new AbortController().signal
    const base = { rev: 'ev', deviceId: 'sim', signal, pollMs: 30 }
    const plan = await installer.plan({ ...base, driver: new PvrSdkDriver(sim.pvrUrl as string) })
    assert.equal(plan.bytesToSend, rev.bytes)
    assert.equal(plan.problems.length, 0)
    const events: InstallEvent[] = []
    const res = await installer.install({ ...base, driver: new PvrSdkDriver(sim.pvrUrl as string), onEvent: e => events.push(e) })
    assert.ok('status' in res)
    assert.equal(res.status, 'UPDATED')
    assert.equal(res.bytesSent, plan.bytesToSend)
    const phases = events.filter(e => e.type === 'phase').map(e => (e as { phase: string }).phase)
    assert.deepEqual(phases, ['preflight', 'upload', 'step', 'run', 'progress', 'final'])
    const ups = events.filter((e): e is Extract<InstallEvent, { type: 'upload' }> => e.type === 'upload')
    assert.ok(ups.length >= rev.objects.length)
    assert.equal(ups[ups.length - 1].bytes, rev.bytes)
    assert.ok(ups.every((u, i) => i === 0 || u.bytes >= ups[i - 1].bytes))
    assert.ok(ups[ups.length - 1].rate > 0)
    const statuses = events.filter(e => e.type === 'progress').map(e => (e as { status: string }).status)
    assert.equal(statuses[statuses.length - 1], 'UPDATED')
    assert.ok(statuses.includes('TESTING'))
    assert.equal(store.installs('sim')[0].status, 'UPDATED')
  })
})
