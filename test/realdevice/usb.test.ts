/**
 * Sticks on a real device: install.sh, as Fieldsync writes it, run inside
 * upstream Pantavisor (the device kit) with upstream pvcontrol from the
 * device's own /usr/bin, as a technician or a management container would.
 * The stick is a folder the device sees under /var.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { fillStorage, skipWithoutKit, startKitDevice, type KitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { deviceGet, deviceJson } from './device.js'
import { PINGER, readPkg, variant, WIFI, writePkg } from './revisions.js'

async function library(t: { after: (fn: () => Promise<void>) => void }): Promise<{ home: string; dir: string }> {
  const dir = await tempDir(t)
  const home = join(dir, 'home')
  assert.equal((await runCli(['trust', 'policy', 'disabled'], { home })).code, 0)
  return { home, dir }
}

/** Write the stick into the device's /var/stick (as if mounted there). */
async function stickFor(home: string, dev: KitDevice, revs: string[]): Promise<string> {
  const host = join(dev.varDir, 'stick')
  await mkdir(host, { recursive: true })
  const r = await runCli(['usb', 'export', ...revs, host], { home, timeoutMs: 120_000 })
  assert.equal(r.code, 0, r.stderr)
  return '/var/stick'
}

async function installSh(dev: KitDevice, args: string[], env: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return await dev.exec(['env', 'INTERVAL=1', 'TIMEOUT=120', 'WORKDIR=/var/work', ...env, 'sh', '/var/stick/install.sh', ...args])
}

describe("real device: install.sh from a stick, with the device's own pvcontrol", { concurrency: true }, () => {
  it("checks the stick, uploads, stores the step, runs it and follows it to the device's final state", async t => {
    if (skipWithoutKit(t)) return
    const { home, dir } = await library(t)
    const wifi = await readPkg(WIFI)
    assert.equal((await runCli(['import', await writePkg(dir, 'site', variant(wifi, { bsp: 'one' })), '--name', 'site'], { home })).code, 0)
    const dev = await startKitDevice(t)
    await dev.exec(['mkdir', '-p', '/var/work'])
    await stickFor(home, dev, ['site'])
    const r = await installSh(dev, ['site'])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const p = await deviceJson<{ status: string }>(dev, '/steps/locals/site/progress')
    assert.match(r.stdout, new RegExp(`locals/site: ${p.status}`))
    assert.equal(p.status, 'DONE')
  })

  it('a device that runs out of room keeps a partial object and answers 200: install.sh says so and runs nothing; once room is made, the same command sends it again and installs', async t => {
    // Upstream: ctrl/ctrl_objects_ep.c and ctrl/ctrl_upload.c answer a full
    // upload 200, then 507, and leave the partial objects/<sha>.
    if (skipWithoutKit(t)) return
    const { home, dir } = await library(t)
    const wifi = await readPkg(WIFI)
    assert.equal((await runCli(['import', await writePkg(dir, 'site', variant(wifi, { bsp: 'one' })), '--name', 'site'], { home })).code, 0)
    const dev = await startKitDevice(t, { storageMiB: 48 })
    await dev.exec(['mkdir', '-p', '/var/work'])
    await stickFor(home, dev, ['site'])
    // The unpacked objects go to a work folder outside the device's storage; the storage keeps 1 MiB free:
    // the 3.5 MB root.squashfs does not fit.
    await dev.exec(['mount', '-t', 'tmpfs', 'tmpfs', '/var/work'])
    const free = await fillStorage(dev, 1024)
    const r = await installSh(dev, ['site'])
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /kept only part of \d+ object\(s\) of site: its storage is full/)
    const steps = await deviceJson<Array<{ name: string }>>(dev, '/steps')
    assert.ok(!steps.some(s => s.name === 'locals/site'), 'no step stored')
    const objs = await deviceJson<Array<{ sha256: string; size: string }>>(dev, '/objects')
    const root = wifi.state['pvwificonnect/root.squashfs'] as string
    const partial = objs.find(o => o.sha256 === root)
    assert.ok(partial !== undefined && Number(partial.size) < (wifi.objects.get(root) as Buffer).length, 'the device kept a partial object')
    await free()
    const again = await installSh(dev, ['site'])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.match(again.stdout, /uploading object [0-9a-f]{64}/)
    assert.match(again.stdout, /locals\/site: DONE/)
  })

  it("the network installer on the same full device: the device's late 507 is read as the answer (E_NO_SPACE naming the object), no step; after room is made the rerun completes", async t => {
    if (skipWithoutKit(t)) return
    const { home, dir } = await library(t)
    const wifi = await readPkg(WIFI)
    assert.equal((await runCli(['import', await writePkg(dir, 'site', variant(wifi, { bsp: 'one' })), '--name', 'site'], { home })).code, 0)
    const dev = await startKitDevice(t, { storageMiB: 48 })
    const free = await fillStorage(dev, 1024)
    // --ignore-space: past the preflight, which reads the device's free space and would refuse.
    const args = ['--json', 'install', 'site', '--device', `unix:${dev.socket}`, '--poll', '250', '--ignore-space']
    const r = await runCli(args, { home, timeoutMs: 120_000 })
    assert.equal(r.code, 1, r.stderr)
    const out = r.json() as { error: { code: string; message: string } }
    assert.equal(out.error.code, 'E_NO_SPACE')
    assert.match(out.error.message, /no room for object [0-9a-f]{64}/)
    const steps = await deviceJson<Array<{ name: string }>>(dev, '/steps')
    assert.equal(steps.length, 1, 'only the factory revision')
    await free()
    const ok = await runCli(args, { home, timeoutMs: 240_000 })
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal((ok.json() as { status: string }).status, 'DONE')
    void readFile
  })
})

describe('real device: install.sh and a device busy with an update', () => {
  it('while an update runs, pv-ctrl answers the next run command 503 with Retry-After (ctrl/ctrl_cmd.c); install.sh keeps asking with a growing interval and runs the revision once the update ends', async t => {
    // Upstream: ctrl/ctrl_cmd.c pv_ctrl_cmd_add refuses LOCAL_RUN while
    // pv->update is set ("Cannot do this operation while update is ongoing",
    // 503, Retry-After 600); ctrl/ctrl_commands_ep.c sends the header.
    if (skipWithoutKit(t)) return
    const { home, dir } = await library(t)
    const wifi = await readPkg(WIFI)
    const container = Object.keys(wifi.state)
      .find(k => k.endsWith('/lxc.container.conf'))
      ?.split('/')[0] as string
    const base = variant(wifi, { bsp: 'one' })
    for (const [name, p] of [
      ['site', base],
      ['site-b', variant(base, { conf: { [container]: ['# b'] } })],
      ['site-c', variant(base, { conf: { [container]: ['# c'] } })],
    ] as const)
      assert.equal((await runCli(['import', await writePkg(dir, name, p), '--name', name], { home })).code, 0)
    const dev = await startKitDevice(t)
    await dev.exec(['mkdir', '-p', '/var/work'])
    await stickFor(home, dev, ['site', 'site-b', 'site-c'])
    const first = await installSh(dev, ['site'])
    assert.equal(first.code, 0, first.stdout + first.stderr)

    // site-b changes a container only: no reboot, and the device holds the update (INPROGRESS, TESTING) for a while.
    // Stored first, then run by hand, so that its progress is asked only once the device runs it.
    const stored = await installSh(dev, ['--no-run', 'site-b'])
    assert.equal(stored.code, 0, stored.stdout + stored.stderr)
    const run = await dev.exec(['pvcontrol', 'commands', 'run', 'locals/site-b'])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    let seen = ''
    for (let i = 0; i < 600 && !/^(INPROGRESS|TESTING)$/.test(seen); i++) {
      const r = await deviceGet(dev, '/steps/locals/site-b/progress')
      seen = r.status === 200 ? ((JSON.parse(r.body) as { status?: string }).status ?? '') : ''
      if (/^(DONE|UPDATED|ERROR|WONTGO)$/.test(seen))
        assert.fail(`site-b ended (${seen}: ${r.body}) before site-c could ask: the device's update window was missed`)
    }
    const c = await installSh(dev, ['site-c'], ['BUSY_WAIT=240'])
    assert.equal(c.code, 0, c.stdout + c.stderr)
    const waits = [...c.stdout.matchAll(/the device is busy .*asking again in (\d+) s/g)].map(m => Number(m[1]))
    assert.ok(waits.length >= 1, `install.sh was told the device is busy at least once:\n${c.stdout}`)
    for (let i = 1; i < waits.length; i++) assert.ok((waits[i] as number) >= (waits[i - 1] as number), `the interval grows: ${waits.join(', ')}`)
    const pc = await deviceJson<{ status: string }>(dev, '/steps/locals/site-c/progress')
    assert.match(pc.status, /^(DONE|UPDATED)$/)
    assert.match(c.stdout, new RegExp(`locals/site-c: ${pc.status}`))
    const pb = await deviceJson<{ status: string }>(dev, '/steps/locals/site-b/progress')
    assert.match(pb.status, /^(DONE|UPDATED)$/, 'the update that held the device ended as it would have alone')
  })
})

describe("real device: a package from a stick, composed by the device's own pvtx", () => {
  it('watchdog_pinger, then pvwificonnect (no BSP): install.sh composes each onto what the device runs (pvtx begin current, add, commit) and the device keeps every part; with no pvtx it refuses and installs nothing', async t => {
    if (skipWithoutKit(t)) return
    const { home } = await library(t)
    assert.equal((await runCli(['import', PINGER, '--name', 'pinger'], { home })).code, 0)
    assert.equal((await runCli(['import', WIFI, '--name', 'wifi'], { home })).code, 0)
    const dev = await startKitDevice(t)
    await dev.exec(['mkdir', '-p', '/var/work'])
    await stickFor(home, dev, ['pinger', 'wifi'])
    const factory = await deviceJson<Record<string, unknown>>(dev, '/steps/current')

    // A device without pvtx: the package is not sent as the device's whole state.
    const none = await installSh(dev, ['--name', 'nopvtx', 'wifi'], ['PVTX=/nonexistent/pvtx'])
    assert.equal(none.code, 1, none.stdout + none.stderr)
    assert.match(none.stderr, /wifi is a package \(no BSP\).*\/nonexistent\/pvtx is not here/)
    assert.ok(!(await deviceJson<Array<{ name: string }>>(dev, '/steps')).some(s => s.name === 'locals/nopvtx'), 'no step stored')

    const one = await installSh(dev, ['pinger'])
    assert.equal(one.code, 0, one.stdout + one.stderr)
    assert.match(one.stdout, /pinger is a package: composing it onto what the device runs/)
    assert.match(one.stdout, /locals\/pinger: (DONE|UPDATED)/)
    const two = await installSh(dev, ['wifi'])
    assert.equal(two.code, 0, two.stdout + two.stderr)
    assert.match(two.stdout, /locals\/wifi: (DONE|UPDATED)/)
    const now = await deviceJson<Record<string, unknown>>(dev, '/steps/locals/wifi')
    for (const k of Object.keys(factory)) assert.deepEqual(now[k], factory[k], `${k}: what the device ran stays`)
    assert.ok('watchdog_pinger/run.json' in now && 'pvwificonnect/run.json' in now, 'both packages are in the state the device runs')
    const pvtxShow = await dev.exec(['pvtx', 'show'])
    assert.notEqual(pvtxShow.code, 0, 'no transaction is left open')
  })
})

describe("real device: a package composed on the laptop from the device's inventory", () => {
  it('install.sh --inventory carries the state the device runs; usb export --for-device composes the package onto it; install.sh installs it with pvcontrol (no pvtx) and the device keeps every part; a stick composed onto a state the device no longer runs is refused until a new inventory', async t => {
    if (skipWithoutKit(t)) return
    const { home } = await library(t)
    assert.equal((await runCli(['import', PINGER, '--name', 'pinger'], { home })).code, 0)
    assert.equal((await runCli(['import', WIFI, '--name', 'wifi'], { home })).code, 0)
    const dev = await startKitDevice(t)
    await dev.exec(['mkdir', '-p', '/var/work'])
    const host = join(dev.varDir, 'stick')
    await stickFor(home, dev, ['pinger'])
    const noPvtx = ['PVTX=/nonexistent/pvtx']
    const inventory = async (): Promise<string> => {
      const inv = await installSh(dev, ['--inventory'])
      assert.equal(inv.code, 0, inv.stdout + inv.stderr)
      return join(host, 'device-inventory.json')
    }
    const exportFor = async (inv: string, rev: string): Promise<{ revisions: Array<{ onto?: { revision: string } }> }> => {
      const r = await runCli(['--json', 'usb', 'export', '--for-device', inv, rev, host], { home, timeoutMs: 120_000 })
      assert.equal(r.code, 0, r.stderr)
      return r.json() as { revisions: Array<{ onto?: { revision: string } }> }
    }
    const factory = await deviceJson<Record<string, unknown>>(dev, '/steps/current')
    const first = await inventory()
    const doc = JSON.parse(await readFile(first, 'utf8')) as { revision: string; current: Record<string, unknown> }
    assert.deepEqual(doc.current, factory, 'the inventory carries what the device runs')
    const firstCopy = join(host, 'first-inventory.json')
    await writeFile(firstCopy, await readFile(first))

    assert.equal((await exportFor(first, 'pinger')).revisions[0].onto?.revision, doc.revision)
    const one = await installSh(dev, ['pinger'], noPvtx)
    assert.equal(one.code, 0, one.stdout + one.stderr)
    assert.match(one.stdout, /composed on the laptop onto what this device runs/)
    assert.match(one.stdout, /locals\/pinger: (DONE|UPDATED)/)

    // wifi composed onto the factory state, which the device no longer runs: refused, nothing stored.
    await exportFor(firstCopy, 'wifi')
    const stale = await installSh(dev, ['wifi'], noPvtx)
    assert.equal(stale.code, 1, stale.stdout + stale.stderr)
    assert.match(stale.stderr, /now runs another state \(revision locals\/pinger\).*Take a new inventory/s)
    assert.ok(!(await deviceJson<Array<{ name: string }>>(dev, '/steps')).some(s => s.name === 'locals/wifi'), 'no step stored')

    assert.equal((await exportFor(await inventory(), 'wifi')).revisions[0].onto?.revision, 'locals/pinger')
    const two = await installSh(dev, ['wifi'], noPvtx)
    assert.equal(two.code, 0, two.stdout + two.stderr)
    assert.match(two.stdout, /locals\/wifi: (DONE|UPDATED)/)
    const now = await deviceJson<Record<string, unknown>>(dev, '/steps/current')
    for (const k of Object.keys(factory)) assert.deepEqual(now[k], factory[k], `${k}: what the device ran stays`)
    assert.ok('watchdog_pinger/run.json' in now && 'pvwificonnect/run.json' in now, 'both packages are in the state the device runs')
  })
})
