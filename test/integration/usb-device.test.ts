/**
 * A stick made by `fieldsync usb export` installed into a device by the
 * steps of install.sh (under busybox sh and dash) and by the real
 * `pvcontrol steps install`. pvcontrol is upstream's script: taken from
 * ../shared/fixtures/upstream/pvcontrol or $PVCONTROL; the tests that need it
 * skip without it.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { makeParts, randomObject, has } from '../main/usb/helpers.js'
import { buildState, writeTarball } from '../helpers/revisions.js'
import { flipByte, tempDir } from '../helpers/tmp.js'
import { startDevice } from './usb-pvctrl.js'
import { PVCONTROL, skipWithoutUpstream, upstreamAbsent } from '../helpers/upstream.js'

const NO_PVCONTROL = upstreamAbsent(PVCONTROL, 'upstream pvcontrol (PVCONTROL)') ?? (has('curl') ? null : 'curl is not installed (pvcontrol runs it)')
const shells = [['busybox', 'sh'], ['dash']].filter(s => has(s[0]))

function sh(argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise(resolve => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, ...env }, cwd, timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err })
    })
  })
}

async function library(t: Parameters<typeof tempDir>[0]) {
  const home = await tempDir(t, 'fieldsync-usb-home-')
  const src = await tempDir(t)
  const p = await makeParts(src)
  const big = await randomObject(src, 'big.squashfs', 600_000)
  const revs: Record<string, Record<string, unknown>> = {
    'rev-a': buildState({ kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'app0', root: p.roots[0], config: p.configs[0] }] }),
    'rev-b': buildState({
      kernel: p.kernel,
      initrd: p.initrd,
      containers: [
        { name: 'app0', root: p.roots[0], config: p.configs[0] },
        { name: 'app1', root: big, config: p.configs[1] },
      ],
    }),
  }
  const all = [p.kernel, p.initrd, p.roots[0], p.configs[0], p.configs[1], big]
  for (const [name, state] of Object.entries(revs)) {
    const tar = join(src, `${name}.tar`)
    await writeTarball(
      tar,
      JSON.stringify(state),
      all.filter(o => Object.values(state).includes(o.sha)),
    )
    const r = await runCli(['import', '--name', name, tar], { home })
    assert.equal(r.code, 0, r.stderr)
  }
  return { home, revs }
}

function env(sock: string, shell: string[]): NodeJS.ProcessEnv {
  return { SOCKET: sock, CURL_CMD: 'curl', PVCONTROL: [...shell, PVCONTROL].join(' '), INTERVAL: '0.1', TIMEOUT: '30', TMPDIR: '/tmp' }
}

async function deviceObjects(dev: { get: (p: string) => Promise<{ body: Buffer }> }): Promise<Set<string>> {
  return new Set((JSON.parse((await dev.get('/objects')).body.toString()) as Array<{ sha256: string }>).map(o => o.sha256))
}

describe('usb: install.sh on a device', () => {
  for (const shell of shells) {
    it(`${shell.join(' ')}: install.sh checks, uploads what the device lacks with pvcontrol, stores the step, runs and follows the progress to the end`, async t => {
      if (skipWithoutUpstream(t, NO_PVCONTROL)) return
      const { home } = await library(t)
      const stick = await tempDir(t, 'fieldsync-stick-')
      const dev = await startDevice(t, await tempDir(t))
      t.diagnostic(`device: ${dev.kind}`)
      const ex = await runCli(['usb', 'export', 'rev-a', stick], { home })
      assert.equal(ex.code, 0, ex.stderr)
      const r = await sh([...shell, join(stick, 'install.sh'), 'rev-a'], env(dev.sock, shell))
      assert.equal(r.code, 0, `${dev.kind}: ${r.out}\n${r.err}`)
      assert.match(r.out, /locals\/rev-a: (DONE|UPDATED)/)
      const want = (await readFile(join(stick, 'rev-a.objects'), 'utf8'))
        .trim()
        .split('\n')
        .map(l => l.split(' ')[0])
      const have = await deviceObjects(dev)
      for (const s of want) assert.ok(have.has(s), `object ${s} on the device`)
      assert.deepEqual((await dev.get('/steps/locals/rev-a')).body, await readFile(join(stick, 'rev-a.json')))
    })
  }

  it('install.sh --inventory, then export --for-device sends only what the device lacks, split in parts; install.sh joins them', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    if (shells.length === 0) {
      t.skip('no busybox or dash')
      return
    }
    const shell = shells[0]
    const { home } = await library(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    const dev = await startDevice(t, await tempDir(t))
    t.diagnostic(`device: ${dev.kind}`)
    assert.equal((await runCli(['usb', 'export', 'rev-a', stick], { home })).code, 0)
    assert.equal((await sh([...shell, join(stick, 'install.sh'), 'rev-a'], env(dev.sock, shell))).code, 0)
    const inv = await sh([...shell, join(stick, 'install.sh'), '--inventory'], env(dev.sock, shell))
    assert.equal(inv.code, 0, inv.err)
    const before = await deviceObjects(dev)
    assert.deepEqual(
      new Set((JSON.parse(await readFile(join(stick, 'device-inventory.json'), 'utf8')) as { objects: Array<{ sha256: string }> }).objects.map(o => o.sha256)),
      before,
    )
    const ex = await runCli(['--json', 'usb', 'export', '--for-device', join(stick, 'device-inventory.json'), '--split-size', '200000', 'rev-b', stick], {
      home,
    })
    assert.equal(ex.code, 0, ex.stderr)
    const res = ex.json()
    assert.equal(res.revisions[0].included, 2) // big.squashfs and lxc1.conf
    assert.ok(res.revisions[0].files.length >= 3)
    const r = await sh([...shell, join(stick, 'install.sh'), 'rev-b'], { ...env(dev.sock, shell), WORKDIR: await tempDir(t) })
    assert.equal(r.code, 0, r.out + r.err)
    assert.match(r.out, /unpacking the 2 object\(s\) the device lacks/)
    assert.match(r.out, /locals\/rev-b: (DONE|UPDATED)/)
    assert.equal((await deviceObjects(dev)).size, before.size + 2)
  })

  it('the real pvcontrol steps install takes the exported tarball as it is', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    const { home } = await library(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    const dev = await startDevice(t, await tempDir(t))
    t.diagnostic(`device: ${dev.kind}`)
    assert.equal((await runCli(['usb', 'export', 'rev-b', stick], { home })).code, 0)
    const r = await sh(['sh', PVCONTROL, 'steps', 'install', join(stick, 'rev-b.pvrexport.tgz'), 'locals/from-pvcontrol'], {
      SOCKET: dev.sock,
      CURL_CMD: 'curl',
      TMPDIR: await tempDir(t),
    })
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /"revision":"locals\/from-pvcontrol"/)
    const want = (await readFile(join(stick, 'rev-b.objects'), 'utf8'))
      .trim()
      .split('\n')
      .map(l => l.split(' ')[0])
    const have = await deviceObjects(dev)
    assert.deepEqual(
      want.filter(s => !have.has(s)),
      [],
    )
    assert.deepEqual((await dev.get('/steps/locals/from-pvcontrol')).body, await readFile(join(stick, 'rev-b.json')))
  })

  it('install.sh refuses to run a revision whose objects the device lacks (a stick made for another device)', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    if (shells.length === 0) {
      t.skip('no busybox or dash')
      return
    }
    const shell = shells[shells.length - 1]
    const { home } = await library(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    const dev = await startDevice(t, await tempDir(t))
    t.diagnostic(`device: ${dev.kind}`)
    // an inventory that claims the device has everything of rev-a: the tarball carries no object
    const shown = (await runCli(['--json', 'show', 'rev-a'], { home })).json() as { parts: Array<{ objects: Array<{ sha: string; size: number }> }> }
    await writeFile(join(stick, 'other-device.json'), JSON.stringify(shown.parts.flatMap(p => p.objects).map(o => ({ sha256: o.sha, size: String(o.size) }))))
    assert.equal((await runCli(['usb', 'export', '--for-device', join(stick, 'other-device.json'), 'rev-a', stick], { home })).code, 0)
    const r = await sh([...shell, join(stick, 'install.sh'), 'rev-a'], env(dev.sock, shell))
    assert.equal(r.code, 1)
    assert.match(r.err, /not on the device, so it is not run/)
    const steps = JSON.parse((await dev.get('/steps')).body.toString()) as Array<{ name: string }>
    assert.ok(!steps.some(x => x.name === 'locals/rev-a'), 'no step stored, nothing run')
  })

  it('install.sh refuses a damaged tarball before talking to the device', async t => {
    if (shells.length === 0) {
      t.skip('no busybox or dash')
      return
    }
    const { home } = await library(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    assert.equal((await runCli(['usb', 'export', 'rev-a', stick], { home })).code, 0)
    await flipByte(join(stick, 'rev-a.pvrexport.tgz'), 5000)
    for (const shell of shells) {
      const r = await sh([...shell, join(stick, 'install.sh'), 'rev-a'], { PVCONTROL: 'false-pvcontrol-never-called' })
      assert.equal(r.code, 1)
      assert.match(r.err, /damaged/)
      assert.doesNotMatch(r.err, /cannot talk to Pantavisor/)
      const c = await sh([...shell, join(stick, 'install.sh'), '--check'], {})
      assert.equal(c.code, 1)
    }
    assert.deepEqual(
      (await readdir(stick)).filter(n => n.endsWith('.tmp')),
      [],
    )
  })

  it('install.sh is POSIX sh: both shells parse it, and it lists the revisions', async t => {
    if (shells.length === 0) {
      t.skip('no busybox or dash')
      return
    }
    const { home } = await library(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    assert.equal((await runCli(['usb', 'export', 'rev-a', 'rev-b', stick], { home })).code, 0)
    for (const shell of shells) {
      assert.equal((await sh([...shell, '-n', join(stick, 'install.sh')], {})).code, 0)
      const r = await sh([...shell, join(stick, 'install.sh')], {})
      assert.equal(r.code, 0)
      assert.match(r.out, /rev-a +\(4 objects, 1 file\)/)
      assert.match(r.out, /rev-b +\(6 objects, 1 file\)/)
    }
  })
})
