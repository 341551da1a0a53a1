/**
 * The real-device lane: Fieldsync's installer against upstream Pantavisor
 * itself (../shared/pantavisor-device: the real pantavisor binary with its
 * pv-ctrl, storage, update state machine, signature checks and rollback, in
 * appengine mode; only the container runtime is a stand-in). Fieldsync
 * reaches pv-ctrl through the kit's relay socket (`--device unix:<socket>`),
 * as it would from a management container. Every status Fieldsync reports
 * is compared with what the device itself says.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { skipWithoutKit, startKitDevice, type KitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { PINGER, readPkg, variant, WIFI, writePkg } from './revisions.js'
import { deviceJson } from './device.js'

interface Result { status: string, statusMsg: string, step: string, bytesSent: number, objectsSent: number, error?: { code: string, message: string } }

async function install (home: string, dev: KitDevice, rev: string, extra: string[] = []): Promise<{ code: number | null, res: Result, stderr: string }> {
  const r = await runCli(['--json', 'install', rev, '--device', `unix:${dev.socket}`, '--poll', '250', ...extra], { home, timeoutMs: 240_000 })
  return { code: r.code, res: r.json() as Result, stderr: r.stderr }
}

/** A library whose signature policy is the kit device's (secureboot disabled in its appengine config). */
async function library (home: string, policy = 'disabled'): Promise<void> {
  const r = await runCli(['trust', 'policy', policy], { home })
  assert.equal(r.code, 0, r.stderr)
}

async function imp (home: string, file: string, name: string): Promise<void> {
  const r = await runCli(['--json', 'import', file, '--name', name], { home })
  assert.equal(r.code, 0, r.stderr)
}

describe('real device: install through pv-ctrl', { concurrency: true }, () => {
  it('a whole revision (BSP + container) to DONE after the device reboots; then a changed container, only its object sent, to UPDATED; the reports equal the device\'s own progress', async (t) => {
    if (skipWithoutKit(t)) return
    const dir = await tempDir(t)
    const home = `${dir}/home`
    await library(home)
    const wifi = await readPkg(WIFI)
    const v1 = variant(wifi, { bsp: 'one' })
    const v2 = variant(wifi, { bsp: 'one', conf: { pvwificonnect: ['# v2'] } })
    await imp(home, await writePkg(dir, 'v1', v1), 'v1')
    await imp(home, await writePkg(dir, 'v2', v2), 'v2')
    const dev = await startKitDevice(t)
    const a = await install(home, dev, 'v1')
    assert.equal(a.code, 0, a.stderr + await dev.console())
    const pa = await deviceJson<{ status: string, 'status-msg': string }>(dev, `/steps/${a.res.step}/progress`)
    assert.equal(a.res.status, 'DONE')
    assert.equal(a.res.status, pa.status)
    assert.equal(a.res.statusMsg, pa['status-msg'])
    assert.equal(a.res.objectsSent, v1.objects.size)
    const b = await install(home, dev, 'v2')
    assert.equal(b.code, 0, b.stderr)
    const pb = await deviceJson<{ status: string, 'status-msg': string }>(dev, `/steps/${b.res.step}/progress`)
    assert.equal(b.res.status, 'UPDATED')
    assert.equal(b.res.status, pb.status)
    assert.equal(b.res.objectsSent, 1, 'only the changed lxc.container.conf')
    void PINGER
  })

  it('a container that dies in TESTING: ERROR with the device\'s message, and the device goes back to the revision it ran', async (t) => {
    if (skipWithoutKit(t)) return
    const dir = await tempDir(t)
    const home = `${dir}/home`
    await library(home)
    const wifi = await readPkg(WIFI)
    await imp(home, await writePkg(dir, 'good', variant(wifi, { bsp: 'one' })), 'good')
    await imp(home, await writePkg(dir, 'bad', variant(wifi, { bsp: 'one', conf: { pvwificonnect: ['# pvkit.exit-after = 1'] } })), 'bad')
    const dev = await startKitDevice(t)
    const a = await install(home, dev, 'good')
    assert.equal(a.res.status, 'DONE', a.stderr)
    const b = await install(home, dev, 'bad')
    assert.equal(b.code, 1)
    const pb = await deviceJson<{ status: string, 'status-msg': string }>(dev, `/steps/${b.res.step}/progress`)
    assert.equal(b.res.status, 'ERROR')
    assert.equal(pb.status, 'ERROR')
    assert.equal(b.res.statusMsg, pb['status-msg'])
    const meta = await deviceJson<Record<string, unknown>>(dev, '/device-meta')
    assert.equal(String(meta['pantavisor.revision']), a.res.step, 'rolled back to the last DONE revision')
  })
})
