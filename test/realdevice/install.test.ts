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
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { watch } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { cliBin } from '../helpers/paths.js'
import { skipWithoutKit, startKitDevice, type KitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { PINGER, readPkg, variant, WIFI, writePkg } from './revisions.js'
import { deviceJson } from './device.js'

interface Result {
  status: string
  statusMsg: string
  step: string
  bytesSent: number
  objectsSent: number
  error?: { code: string; message: string }
}

async function install(home: string, dev: KitDevice, rev: string, extra: string[] = []): Promise<{ code: number | null; res: Result; stderr: string }> {
  const r = await runCli(['--json', 'install', rev, '--device', `unix:${dev.socket}`, '--poll', '250', ...extra], { home, timeoutMs: 240_000 })
  return { code: r.code, res: r.json() as Result, stderr: r.stderr }
}

/** A library whose signature policy is the kit device's (secureboot disabled in its appengine config). */
async function library(home: string, policy = 'disabled'): Promise<void> {
  const r = await runCli(['trust', 'policy', policy], { home })
  assert.equal(r.code, 0, r.stderr)
}

async function imp(home: string, file: string, name: string): Promise<void> {
  const r = await runCli(['--json', 'import', file, '--name', name], { home })
  assert.equal(r.code, 0, r.stderr)
}

describe('real device: install through pv-ctrl', { concurrency: true }, () => {
  it("a whole revision (BSP + container) to DONE after the device reboots; then a changed container, only its object sent, to UPDATED; the reports equal the device's own progress", async t => {
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
    assert.equal(a.code, 0, a.stderr + (await dev.console()))
    const pa = await deviceJson<{ status: string; 'status-msg': string }>(dev, `/steps/${a.res.step}/progress`)
    assert.equal(a.res.status, 'DONE')
    assert.equal(a.res.status, pa.status)
    assert.equal(a.res.statusMsg, pa['status-msg'])
    assert.equal(a.res.objectsSent, v1.objects.size)
    const b = await install(home, dev, 'v2')
    assert.equal(b.code, 0, b.stderr)
    const pb = await deviceJson<{ status: string; 'status-msg': string }>(dev, `/steps/${b.res.step}/progress`)
    assert.equal(b.res.status, 'UPDATED')
    assert.equal(b.res.status, pb.status)
    assert.equal(b.res.objectsSent, 1, 'only the changed lxc.container.conf')
    void PINGER
  })

  it("a container that dies in TESTING: ERROR with the device's message, and the device goes back to the revision it ran", async t => {
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
    const pb = await deviceJson<{ status: string; 'status-msg': string }>(dev, `/steps/${b.res.step}/progress`)
    assert.equal(b.res.status, 'ERROR')
    assert.equal(pb.status, 'ERROR')
    assert.equal(b.res.statusMsg, pb['status-msg'])
    const meta = await deviceJson<Record<string, unknown>>(dev, '/device-meta')
    assert.equal(String(meta['pantavisor.revision']), a.res.step, 'rolled back to the last DONE revision')
  })
})

describe('real device: an install cut short', () => {
  it('killed with -9 during an upload: the device keeps a partial object; the rerun sends it again and nothing that arrived whole, and the device runs the revision', async t => {
    if (skipWithoutKit(t)) return
    const dir = await tempDir(t)
    const home = `${dir}/home`
    await library(home)
    const wifi = await readPkg(WIFI)
    // A 128 MiB kernel (the appengine ignores BSP contents): a window to cut the upload in.
    const big = variant(wifi, { bsp: 'big' })
    const kernel = randomBytes(128 << 20)
    const ksha = createHash('sha256').update(kernel).digest('hex')
    big.objects.delete(big.state['bsp/kernel.img'] as string)
    big.state['bsp/kernel.img'] = ksha
    big.objects.set(ksha, kernel)
    await imp(home, await writePkg(dir, 'big', big), 'big')
    const dev = await startKitDevice(t)
    const objDir = join(dev.varDir, 'pantavisor', 'storage', 'objects')
    // pv-ctrl creates objects/<sha> when the upload's headers arrive and takes the body into
    // memory before it writes (evhttp): cut the install as soon as the file appears.
    const appeared = new Promise<void>(resolve => {
      const w = watch(objDir, (_e, f) => {
        if (f === ksha) {
          w.close()
          resolve()
        }
      })
    })
    const child = spawn(process.execPath, [cliBin, '--home', home, '--json', 'install', 'big', '--device', `unix:${dev.socket}`], { stdio: 'ignore' })
    await Promise.race([
      appeared,
      new Promise((_resolve, reject) =>
        child.once('exit', () => {
          reject(new Error('the install ended before it could be cut'))
        }),
      ),
    ])
    // Freeze it first, so that what it already handed to the socket is all the device gets.
    child.kill('SIGSTOP')
    await new Promise(resolve => setTimeout(resolve, 1000))
    child.kill('SIGKILL')
    await new Promise(resolve => child.once('exit', resolve))
    const objs = await deviceJson<Array<{ sha256: string; size: string }>>(dev, '/objects')
    const whole = objs.filter(o => big.objects.get(o.sha256)?.length === Number(o.size))
    const partial = objs.find(o => o.sha256 === ksha)
    assert.ok(partial === undefined || Number(partial.size) < kernel.length, 'the kernel did not arrive whole')
    const steps = await deviceJson<Array<{ name: string }>>(dev, '/steps')
    assert.equal(steps.length, 1, 'no step was created')
    const r = await install(home, dev, 'big')
    assert.equal(r.code, 0, r.stderr)
    const total = [...big.objects.values()].reduce((n, b) => n + b.length, 0)
    assert.equal(r.res.bytesSent, total - whole.reduce((n, o) => n + Number(o.size), 0), 'only what did not arrive whole is sent again')
    assert.equal(r.res.status, 'DONE')
  })
})
