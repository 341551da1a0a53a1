/**
 * The real-device lane for issue #18: `fieldsync rollout` onto three real
 * Pantavisor devices (the device kit, reached through each one's pv-ctrl
 * relay socket, --via pv-ctrl). A revision goes to all three, the canary
 * first: every device ends where the device itself says (its own progress
 * and the revision it runs), and the report's rows are the install
 * histories. Then a revision whose container dies in TESTING goes to the
 * canary: the device says ERROR and rolls back, and the rollout stops there:
 * the other two devices are not started and were asked for nothing (no
 * object, no step).
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { kitProblem, skipWithoutKit, startKitDevice, type KitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { deviceJson } from './device.js'
import { readPkg, variant, WIFI, writePkg } from './revisions.js'

interface Row {
  device: string
  canary: boolean
  state: string
  outcome: string
  message: string | null
  revisionBefore: string | null
  revisionAfter: string | null
  bytesSent: number
  installId: number | null
}
interface Result {
  stopped: string | null
  summary: { devices: number; succeeded: number; failed: number; skipped: number; notStarted: number }
  devices: Row[]
  seconds: number
}
interface Install {
  id: number
  status: string
  statusMsg: string | null
  bytesSent: number
  step: string | null
}
type Progress = { status: string; 'status-msg': string }

async function history(home: string, device: string): Promise<Install[]> {
  const r = await runCli(['--json', 'devices', 'show', device], { home })
  assert.equal(r.code, 0, r.stderr)
  return (r.json() as { installs: Install[] }).installs
}

/** What a device holds: its steps and objects (what a rollout would have written to). */
async function holdings(dev: KitDevice): Promise<string> {
  const steps = await deviceJson<Array<{ name: string }>>(dev, '/steps')
  const objects = await deviceJson<Array<{ sha256: string }>>(dev, '/objects')
  return JSON.stringify({ steps: steps.map(s => s.name).sort(), objects: objects.map(o => o.sha256).sort() })
}

describe(
  'real devices: a rollout',
  { skip: kitProblem() !== null && process.env.CI !== 'true' ? `real Pantavisor device: ${kitProblem() ?? ''}` : false },
  () => {
    const cleanups: Array<() => Promise<void>> = []
    const scope = {
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    }
    let home = ''
    let dir = ''
    let devs: KitDevice[] = []
    let ids: string[] = []
    let good = ''

    before(async () => {
      dir = await tempDir(scope)
      home = `${dir}/home`
      assert.equal((await runCli(['trust', 'policy', 'disabled'], { home })).code, 0, "the kit device's policy: secureboot disabled")
      const wifi = await readPkg(WIFI)
      for (const [name, pkg] of [
        ['good', variant(wifi, { bsp: 'one' })],
        ['bad', variant(wifi, { bsp: 'one', conf: { pvwificonnect: ['# pvkit.exit-after = 1'] } })],
      ] as const) {
        const r = await runCli(['import', await writePkg(dir, name, pkg), '--name', name], { home })
        assert.equal(r.code, 0, r.stderr)
      }
      devs = await Promise.all([0, 1, 2].map(async () => await startKitDevice(scope)))
      ids = devs.map(d => `unix:${d.socket}`)
      const add = await runCli(['--json', 'devices', '--no-mdns', ...ids.flatMap(id => ['--device', id])], { home })
      assert.equal(add.code, 0, add.stderr)
    })
    after(async () => {
      for (const c of cleanups.reverse()) await c()
    })

    it("a revision to three devices, one of them the canary: all end DONE, as each device says, and the report's rows are their install histories", async t => {
      if (skipWithoutKit(t)) return
      const report = `${dir}/site.json`
      const t0 = Date.now()
      const r = await runCli(
        [
          '--json',
          'rollout',
          'good',
          '--devices',
          ids.join(','),
          '--canary',
          ids[1],
          '--parallel',
          '2',
          '--via',
          'pv-ctrl',
          '--poll',
          '250',
          '--report',
          report,
        ],
        { home, timeoutMs: 300_000 },
      )
      t.diagnostic(`rollout of a whole revision to 3 real devices (canary, then 2 at once): ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      assert.equal(r.code, 0, r.stderr + (await devs[1].console()).slice(-3000))
      const res = r.json() as Result
      assert.deepEqual(res.summary, { devices: 3, succeeded: 3, failed: 0, skipped: 0, notStarted: 0, stopped: 0 })
      assert.deepEqual(JSON.parse(await readFile(report, 'utf8')).devices, res.devices, 'the report file is the result')
      for (const [i, dev] of devs.entries()) {
        const row = res.devices.find(x => x.device === ids[i])
        assert.ok(row !== undefined, ids[i])
        assert.equal(row.canary, i === 1)
        assert.equal(row.outcome, 'DONE', 'a new BSP: a reboot update, DONE')
        assert.equal(row.revisionBefore, '0')
        const step = row.revisionAfter ?? ''
        const p = await deviceJson<Progress>(dev, `/steps/${step}/progress`)
        assert.deepEqual([row.outcome, row.message], [p.status, p['status-msg']], `${ids[i]}: the row says what the device says`)
        const meta = await deviceJson<Record<string, unknown>>(dev, '/device-meta')
        assert.equal(String(meta['pantavisor.revision']), step, `${ids[i]} runs the step the report names`)
        const h = await history(home, ids[i])
        assert.equal(h.length, 1, `${ids[i]}: one install`)
        assert.deepEqual(
          [h[0].id, h[0].status, h[0].statusMsg, h[0].bytesSent, h[0].step],
          [row.installId, row.outcome, row.message, row.bytesSent, row.revisionAfter],
          `${ids[i]}: the report's row is its install history`,
        )
        good = step
      }
      const first = res.devices.find(x => x.canary)
      assert.ok(first !== undefined && first.bytesSent > 0)
    })

    it('a canary whose container dies: the device says ERROR and rolls back, and the other two devices are not touched', async t => {
      if (skipWithoutKit(t)) return
      assert.notEqual(good, '', 'the first rollout ran')
      const held = await Promise.all(devs.map(holdings))
      const t0 = Date.now()
      const r = await runCli(
        ['--json', 'rollout', 'bad', '--devices', ids.join(','), '--canary', ids[0], '--parallel', '2', '--via', 'pv-ctrl', '--poll', '250'],
        {
          home,
          timeoutMs: 300_000,
        },
      )
      t.diagnostic(`rollout stopped by its failing canary on a real device: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      assert.equal(r.code, 1, r.stderr)
      const res = r.json() as Result
      assert.deepEqual(res.summary, { devices: 3, succeeded: 0, failed: 1, skipped: 0, notStarted: 2, stopped: 0 })
      assert.ok(res.stopped !== null, 'the rollout says why it stopped')
      const canary = res.devices.find(x => x.device === ids[0])
      assert.ok(canary !== undefined && canary.canary)
      assert.equal(canary.outcome, 'ERROR')
      const h0 = await history(home, ids[0])
      const step = h0[0].step ?? ''
      const p = await deviceJson<Progress>(devs[0], `/steps/${step}/progress`)
      assert.deepEqual([canary.outcome, canary.message], [p.status, p['status-msg']], "the canary's row says what the device says")
      const meta = await deviceJson<Record<string, unknown>>(devs[0], '/device-meta')
      assert.equal(String(meta['pantavisor.revision']), good, 'the canary rolled back to the revision it ran')
      assert.deepEqual([h0[0].id, h0[0].status, h0[0].bytesSent], [canary.installId, canary.outcome, canary.bytesSent], "the canary's row is its history")
      for (const i of [1, 2]) {
        const row = res.devices.find(x => x.device === ids[i])
        assert.ok(row !== undefined)
        assert.deepEqual([row.state, row.outcome, row.bytesSent], ['not-started', 'NOT_STARTED', 0])
        assert.equal(await holdings(devs[i]), held[i], `${ids[i]} was asked for nothing: no object, no step`)
        const meta = await deviceJson<Record<string, unknown>>(devs[i], '/device-meta')
        assert.equal(String(meta['pantavisor.revision']), good, `${ids[i]} still runs what it ran`)
        const h = await history(home, ids[i])
        assert.deepEqual([h[0].id, h[0].status, h[0].bytesSent], [row.installId, 'NOT_STARTED', 0], `${ids[i]}: the report's row is its history`)
      }
    })
  },
)
