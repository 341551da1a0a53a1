/**
 * pantavisor.md §8 corrections that only the real device can show, against
 * upstream Pantavisor itself (the device kit), beside what Fieldsync and its
 * simulator do. The other corrections are tested beside the code they
 * correct: BSP-less states (devices-package, devices-sim-upstream), `**` in
 * signature globs (main/trust/fnmatch), pvr's post (devices-install),
 * partial uploads (realdevice/usb, devices-sim-upstream), fallbear
 * (devices-install's SSH tests), unregistered devices (devices-discovery),
 * embed@1 (main/devices/sim-parser), the Dev CA (devices-sim-upstream,
 * realdevice/secureboot).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { kitDir, skipWithoutKit, startKitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { WIFI } from './revisions.js'

describe('real device: the corrections of pantavisor.md §8', { concurrency: true }, () => {
  it('pv-ctrl serves only callers inside the device (ctrl/ctrl_util.c pv_ctrl_utils_is_req_ok, ctrl_caller.c): from outside its namespaces it answers 500 "Internal Error" (on /steps "Internal error, unknown caller", ctrl/ctrl.c), and Fieldsync says why and what to do', async t => {
    if (skipWithoutKit(t)) return
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    assert.equal((await runCli(['import', WIFI, '--name', 'wifi'], { home })).code, 0)
    assert.equal((await runCli(['trust', 'policy', 'disabled'], { home })).code, 0, 'the kit device checks no signatures')
    const dev = await startKitDevice(t)
    const status = JSON.parse(execFileSync(join(await kitDir(), 'pv-device'), ['status', dev.dir]).toString()) as { pantavisor_pid: string }
    // The device's own socket, reached from the host through its mount namespace, not through the kit's relay.
    const inside = `/proc/${status.pantavisor_pid}/root/run/pantavisor/pv/pv-ctrl`
    const r = await runCli(['--json', 'install', 'wifi', '--device', `unix:${inside}`, '--dry-run'], { home })
    assert.equal(r.code, 1, r.stdout)
    const e = (r.json() as { error: { code: string; message: string } }).error
    assert.equal(e.code, 'E_DEVICE_REFUSED')
    assert.match(e.message, /pv-ctrl answered 500 "Internal Error": it serves only callers inside the device/)
    // Through the relay, inside the device, the same request is answered.
    const ok = await runCli(['--json', 'install', 'wifi', '--device', `unix:${dev.socket}`, '--dry-run'], { home })
    assert.equal(ok.code, 0, ok.stderr)
  })

  it('threshold garbage collection is off by default (config.c: PV_STORAGE_GC_THRESHOLD 0), on the device and in device-sim', async t => {
    if (skipWithoutKit(t)) return
    const dev = await startKitDevice(t)
    const conf = await dev.pvcontrol(['conf', 'ls'])
    assert.equal(conf.code, 0, conf.stderr)
    const entry = (JSON.parse(conf.stdout) as Array<{ key: string; value: string; modified: string }>).find(c => c.key === 'PV_STORAGE_GC_THRESHOLD')
    assert.deepEqual(entry, { key: 'PV_STORAGE_GC_THRESHOLD', value: '0', modified: 'default' })
    const help = await runCli(['device-sim', '--help'], {})
    assert.match(help.stdout, /--gc-threshold <percent>[^\n]*\n?[^-]*\(default: 0\)/)
  })
})
