/**
 * The simulator and the real device, same scenario, same answers (issue #13:
 * "the simulator's tests and the kit's tests run the same scenarios where
 * both can, and agree"). One sequence of Fieldsync installs through pv-ctrl
 * runs against upstream Pantavisor (the kit, over its relay socket) and
 * against `fieldsync device-sim` (its pv-ctrl socket); the final statuses
 * and what each device keeps must be the same:
 *   1. a package (watchdog_pinger, no BSP), composed onto what the device runs;
 *   2. a second package (pvwificonnect): the first stays;
 *   3. a whole revision with another BSP: it replaces everything, and reboots;
 *   4. the same revision again under another name: nothing is sent.
 * Upstream: a change of the BSP, or of a platform whose restart policy is
 * `system`, needs a reboot and ends DONE; other changes end UPDATED
 * (pantavisor state.c pv_state_stop_platforms). This test found the
 * simulator rebooting on BSP changes only (main/devices/sim/reboot.ts).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { skipWithoutKit, startKitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { json, startSim } from '../integration/devices-harness.js'
import { deviceJson } from './device.js'
import { PINGER, readPkg, variant, WIFI, writePkg } from './revisions.js'

interface Outcome {
  status: string
  objectsSent: number
  keeps: string[]
}

async function scenario(home: string, socket: string, current: () => Promise<Record<string, unknown>>): Promise<Outcome[]> {
  const out: Outcome[] = []
  for (const [rev, name] of [
    ['pinger', 'a'],
    ['wifi', 'b'],
    ['whole', 'c'],
    ['whole', 'd'],
  ]) {
    const r = await runCli(['--json', 'install', rev, '--device', `unix:${socket}`, '--name', name, '--poll', '250'], { home, timeoutMs: 240_000 })
    assert.equal(r.code, 0, `${rev}: ${r.stdout} ${r.stderr}`)
    const res = r.json() as { status: string; objectsSent: number }
    const state = await current()
    const keeps = ['watchdog_pinger/run.json', 'pvwificonnect/run.json'].filter(k => k in state)
    out.push({ status: res.status, objectsSent: rev === 'whole' && name === 'd' ? res.objectsSent : -1, keeps })
  }
  return out
}

describe('the simulator agrees with the real device', () => {
  it('packages composed onto the running state, then a whole revision with a new BSP, then the same again: same statuses, same parts kept', async t => {
    if (skipWithoutKit(t)) return
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    assert.equal((await runCli(['trust', 'policy', 'disabled'], { home })).code, 0)
    const wifi = await readPkg(WIFI)
    for (const [file, name] of [
      [PINGER, 'pinger'],
      [WIFI, 'wifi'],
      [await writePkg(dir, 'whole', variant(wifi, { bsp: 'agree' })), 'whole'],
    ]) {
      assert.equal((await runCli(['import', file, '--name', name], { home })).code, 0)
    }
    const kit = await startKitDevice(t)
    const sim = await startSim(t, join(dir, 'sim'))
    const onKit = await scenario(home, kit.socket, async () => await deviceJson<Record<string, unknown>>(kit, '/steps/current'))
    const onSim = await scenario(home, sim.socket, async () => await json<Record<string, unknown>>(sim.socket, '/steps/current'))
    assert.deepEqual(onSim, onKit)
    // And what that is: watchdog_pinger (no group, no restart policy: a system-restart platform) reboots to DONE,
    // pvwificonnect (restart_policy container) ends UPDATED and both stay, the new BSP reboots to DONE and holds
    // only what it carries, and the same state again under another name changes nothing that needs a reboot.
    assert.deepEqual(onKit, [
      { status: 'DONE', objectsSent: -1, keeps: ['watchdog_pinger/run.json'] },
      { status: 'UPDATED', objectsSent: -1, keeps: ['watchdog_pinger/run.json', 'pvwificonnect/run.json'] },
      { status: 'DONE', objectsSent: -1, keeps: ['pvwificonnect/run.json'] },
      { status: 'UPDATED', objectsSent: 0, keeps: ['pvwificonnect/run.json'] },
    ])
  })
})
