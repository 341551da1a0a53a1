/**
 * A package composed on the laptop for one device's stick: install.sh
 * --inventory carries the state the device runs, `usb export --for-device`
 * composes the package onto it (the engine of `fieldsync compose`), and
 * install.sh installs the composed whole state with pvcontrol, only while
 * the device still runs the state it was composed onto. Against the device
 * simulator (`device-sim --fast --no-mdns`) with upstream pvcontrol.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { has, tarList } from '../main/usb/helpers.js'
import { PVCONTROL, skipWithoutUpstream, upstreamAbsent } from '../helpers/upstream.js'
import { tempDir } from '../helpers/tmp.js'
import { PINGER, readPkg, variant, WIFI, writePkg } from '../realdevice/revisions.js'
import { hasSimulator, startDevice } from './usb-pvctrl.js'

const NO_PVCONTROL = upstreamAbsent(PVCONTROL, 'upstream pvcontrol (PVCONTROL)') ?? (has('curl') ? null : 'curl is not installed (pvcontrol runs it)')
const SHELL = [['busybox', 'sh'], ['dash']].find(s => has(s[0]))

function sh(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise(resolve => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, ...env }, timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err })
    })
  })
}

type Ctx = import('node:test').TestContext

/** A library with two whole revisions (a BSP and watchdog_pinger) and the pvwificonnect package; a stick with the two whole ones. */
async function setUp(t: Ctx) {
  const dir = await tempDir(t)
  const home = join(dir, 'home')
  assert.equal((await runCli(['trust', 'policy', 'disabled'], { home })).code, 0)
  const pinger = await readPkg(PINGER)
  for (const [name, file] of [
    ['base', await writePkg(dir, 'base', variant(pinger, { bsp: 'one' }))],
    ['base2', await writePkg(dir, 'base2', variant(pinger, { bsp: 'two' }))],
    ['wifi', WIFI],
  ]) {
    const r = await runCli(['import', file, '--name', name], { home })
    assert.equal(r.code, 0, r.stderr)
  }
  const stick = await tempDir(t, 'fieldsync-stick-')
  assert.equal((await runCli(['usb', 'export', 'base', 'base2', stick], { home })).code, 0)
  const dev = await startDevice(t, await tempDir(t))
  const shell = SHELL as string[]
  const env = {
    SOCKET: dev.sock,
    CURL_CMD: 'curl',
    PVCONTROL: [...shell, PVCONTROL].join(' '),
    PVTX: '/nonexistent/pvtx',
    INTERVAL: '0.1',
    TIMEOUT: '30',
    TMPDIR: '/tmp',
    WORKDIR: await tempDir(t),
  }
  const installSh = async (...args: string[]) => await sh([...shell, join(stick, 'install.sh'), ...args], env)
  return { home, stick, dev, installSh, wifi: await readPkg(WIFI) }
}

async function stepNames(dev: { get: (p: string) => Promise<{ body: Buffer }> }): Promise<string[]> {
  return (JSON.parse((await dev.get('/steps')).body.toString()) as Array<{ name: string }>).map(s => s.name)
}

describe("usb: a package composed on the laptop from the device's inventory", () => {
  it('the inventory carries the running state; export --for-device composes the package onto it and carries only the objects the device lacks; install.sh installs the composed state with pvcontrol (no pvtx) and the device keeps every part', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    if (SHELL === undefined || !hasSimulator()) {
      t.skip('needs busybox or dash, and the simulator in this build')
      return
    }
    const { home, stick, dev, installSh, wifi } = await setUp(t)
    const base = await installSh('base')
    assert.equal(base.code, 0, base.out + base.err)

    const inv = await installSh('--inventory')
    assert.equal(inv.code, 0, inv.err)
    const doc = JSON.parse(await readFile(join(stick, 'device-inventory.json'), 'utf8')) as {
      format: string
      revision: string
      current: Record<string, unknown>
      objects: unknown[]
    }
    assert.equal(doc.format, 'fieldsync-device-inventory@1')
    assert.equal(doc.revision, 'locals/base')
    assert.deepEqual(doc.current, JSON.parse((await dev.get('/steps/current')).body.toString()))

    const ex = await runCli(['--json', 'usb', 'export', '--for-device', join(stick, 'device-inventory.json'), 'wifi', stick], { home })
    assert.equal(ex.code, 0, ex.stderr)
    const r = (ex.json() as { revisions: Array<{ name: string; id: string; included: number; onto?: { revision: string } }> }).revisions[0]
    assert.equal(r.name, 'wifi')
    assert.equal(r.onto?.revision, 'locals/base')
    // Only pvwificonnect's objects travel: the device holds the BSP and watchdog_pinger.
    const wifiObjects = [...wifi.objects.keys()]
    assert.equal(r.included, wifiObjects.length)
    assert.deepEqual(
      tarList(join(stick, 'wifi.pvrexport.tgz'))
        .filter(n => n.startsWith('objects/') && n !== 'objects/')
        .map(n => n.slice(8))
        .sort(),
      wifiObjects.sort(),
    )
    const composed = JSON.parse(await readFile(join(stick, 'wifi.json'), 'utf8')) as Record<string, unknown>
    for (const k of Object.keys(doc.current))
      if (!k.startsWith('pvwificonnect/')) assert.deepEqual(composed[k], doc.current[k], `${k} of what the device runs stays`)
    for (const k of Object.keys(wifi.state)) if (k !== '#spec') assert.deepEqual(composed[k], wifi.state[k], `${k} of the package`)
    assert.match(await readFile(join(stick, 'wifi.onto'), 'utf8'), /^state_sha256 [0-9a-f]{64}\nrevision locals\/base\n/)
    assert.equal((await runCli(['usb', 'verify', stick], { home })).code, 0, 'SHA256SUMS and the manifest list wifi.onto')

    // No pvtx on this device (PVTX points nowhere): the composed state needs none.
    const run = await installSh('wifi')
    assert.equal(run.code, 0, run.out + run.err)
    assert.match(run.out, /composed on the laptop onto what this device runs \(revision locals\/base\)/)
    assert.match(run.out, /locals\/wifi: (DONE|UPDATED)/)
    assert.deepEqual((await dev.get('/steps/locals/wifi')).body, await readFile(join(stick, 'wifi.json')))
    assert.deepEqual(JSON.parse((await dev.get('/steps/current')).body.toString()), composed)
  })

  it('a device that runs another state than the one composed onto: install.sh refuses, telling to take a new inventory, and installs nothing; a new inventory and export then install', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    if (SHELL === undefined || !hasSimulator()) {
      t.skip('needs busybox or dash, and the simulator in this build')
      return
    }
    const { home, stick, dev, installSh } = await setUp(t)
    assert.equal((await installSh('base')).code, 0)
    assert.equal((await installSh('--inventory')).code, 0)
    assert.equal((await runCli(['usb', 'export', '--for-device', join(stick, 'device-inventory.json'), 'wifi', stick], { home })).code, 0)
    // The device moves on before the stick comes back.
    assert.equal((await installSh('base2')).code, 0)
    const before = (await dev.get('/objects')).body.toString()

    const refused = await installSh('wifi')
    assert.equal(refused.code, 1, refused.out + refused.err)
    assert.match(refused.err, /now runs another state \(revision locals\/base2\)/)
    assert.match(refused.err, /Take a new inventory \(sh install\.sh --inventory\)/)
    assert.ok(!(await stepNames(dev)).includes('locals/wifi'), 'no step stored')
    assert.equal((await dev.get('/objects')).body.toString(), before, 'no object sent')

    assert.equal((await installSh('--inventory')).code, 0)
    const again = await runCli(['--json', 'usb', 'export', '--for-device', join(stick, 'device-inventory.json'), 'wifi', stick], { home })
    assert.equal(again.code, 0, again.stderr)
    assert.equal((again.json() as { revisions: Array<{ onto?: { revision: string } }> }).revisions[0].onto?.revision, 'locals/base2')
    const ok = await installSh('wifi')
    assert.equal(ok.code, 0, ok.out + ok.err)
    const now = JSON.parse((await dev.get('/steps/locals/wifi')).body.toString()) as Record<string, unknown>
    assert.equal((now['bsp/run.json'] as { pvkit: string }).pvkit, 'two', 'composed onto what the device runs now')
  })
})
