/** The `fieldsync usb` commands as a technician runs them: JSON documents, exit codes, error codes. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, watch } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { cliBin } from '../helpers/paths.js'
import { buildState, writeTarball } from '../helpers/revisions.js'
import { flipByte, tempDir } from '../helpers/tmp.js'
import { makeParts, randomObject } from '../main/usb/helpers.js'

async function laptop(t: Parameters<typeof tempDir>[0], src: string, p: Awaited<ReturnType<typeof makeParts>>, names: string[]): Promise<string> {
  const home = await tempDir(t, 'fieldsync-usb-home-')
  const specs: Record<string, Parameters<typeof buildState>[0]> = {
    'rev-a': { kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'app0', root: p.roots[0], config: p.configs[0] }] },
    'rev-b': {
      kernel: p.kernel,
      initrd: p.initrd,
      containers: [
        { name: 'app0', root: p.roots[0], config: p.configs[0] },
        { name: 'app1', root: p.roots[1], config: p.configs[1] },
      ],
    },
  }
  for (const n of names) {
    const s = specs[n]
    const tar = join(src, `${n}.tar`)
    await writeTarball(tar, JSON.stringify(buildState(s)), [s.kernel, s.initrd, ...s.containers.flatMap(c => [c.root, c.config])])
    assert.equal((await runCli(['import', '--name', n, tar], { home })).code, 0)
  }
  return home
}

describe('fieldsync usb (CLI)', () => {
  it('inventory, export --for-peer, verify, import: one JSON document each; the second laptop gets exactly what it lacked', async t => {
    const src = await tempDir(t)
    const p = await makeParts(src)
    const alice = await laptop(t, src, p, ['rev-a', 'rev-b'])
    const bob = await laptop(t, src, p, ['rev-a'])
    const stick = await tempDir(t, 'fieldsync-stick-')
    const inv = await runCli(['--json', 'usb', 'inventory', stick], { home: bob })
    assert.equal(inv.code, 0, inv.stderr)
    assert.equal(inv.json().objects, 4)
    const ex = await runCli(['--json', 'usb', 'export', '--for-peer', join(stick, 'fieldsync-inventory.json'), 'rev-b', stick], { home: alice })
    assert.equal(ex.code, 0, ex.stderr)
    assert.equal(ex.json().mode, 'peer')
    assert.equal(ex.json().revisions[0].included, 2)
    const v = await runCli(['--json', 'usb', 'verify', stick])
    assert.equal(v.code, 0, v.stderr)
    assert.equal(v.json().ok, true)
    const imp = await runCli(['--json', 'usb', 'import', stick], { home: bob })
    assert.equal(imp.code, 0, imp.stderr)
    const r = imp.json()
    assert.deepEqual(new Set(r.revisions[0].newObjects), new Set([p.roots[1].sha, p.configs[1].sha]))
    assert.equal(r.revisions[0].complete, true)
    const ls = await runCli(['--json', 'ls'], { home: bob })
    assert.deepEqual(
      ls
        .json()
        .map((x: { name: string; complete: boolean }) => [x.name, x.complete])
        .sort(),
      [
        ['rev-a', true],
        ['rev-b', true],
      ],
    )
  })

  it('a damaged stick: verify and import exit 1 and say which file; usage errors exit 2', async t => {
    const src = await tempDir(t)
    const p = await makeParts(src)
    const alice = await laptop(t, src, p, ['rev-a'])
    const stick = await tempDir(t, 'fieldsync-stick-')
    assert.equal((await runCli(['usb', 'export', 'rev-a', stick], { home: alice })).code, 0)
    await flipByte(join(stick, 'rev-a.pvrexport.tgz'), 3000)
    const v = await runCli(['usb', 'verify', stick])
    assert.equal(v.code, 1)
    assert.match(v.stdout, /CORRUPT +rev-a\.pvrexport\.tgz/)
    const bob = await tempDir(t)
    const imp = await runCli(['--json', 'usb', 'import', stick], { home: bob })
    assert.equal(imp.code, 1)
    assert.equal(imp.json().revisions[0].error.code, 'E_STICK_CORRUPT')
    assert.deepEqual((await runCli(['--json', 'ls'], { home: bob })).json(), [])
    assert.equal((await runCli(['usb', 'export', stick], { home: alice })).code, 2)
    const nf = await runCli(['--json', 'usb', 'import', src], { home: bob })
    assert.equal(nf.code, 1)
    assert.equal(nf.json().error.code, 'E_NOT_FOUND')
  })

  it('killed -9 once the first revision is listed: the stick verifies, and the rerun writes only what is not there', async t => {
    const src = await tempDir(t)
    const p = await makeParts(src)
    const alice = await laptop(t, src, p, ['rev-a'])
    const big = await randomObject(src, 'big.squashfs', 96 << 20)
    const spec = { kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'big', root: big, config: p.configs[2] }] }
    await writeTarball(join(src, 'big.tar'), JSON.stringify(buildState(spec)), [p.kernel, p.initrd, big, p.configs[2]])
    assert.equal((await runCli(['import', '--name', 'rev-big', join(src, 'big.tar')], { home: alice })).code, 0)
    const stick = await tempDir(t, 'fieldsync-stick-')
    // The manifest appears once rev-a is committed; the kill comes while rev-big is being written.
    const watcher = watch(stick)
    t.after(() => {
      watcher.close()
    })
    const child = spawn(process.execPath, [cliBin, '--home', alice, 'usb', 'export', 'rev-a', 'rev-big', stick], { stdio: 'ignore' })
    const exited = new Promise<void>(resolve =>
      child.once('exit', () => {
        resolve()
      }),
    )
    t.after(() => {
      child.kill('SIGKILL')
    })
    await new Promise<void>(resolve => {
      const check = () => {
        if (existsSync(join(stick, 'fieldsync-manifest.json'))) {
          watcher.off('change', check)
          resolve()
        }
      }
      watcher.on('change', check)
      check()
    })
    child.kill('SIGKILL')
    await exited
    const after = await runCli(['--json', 'usb', 'verify', stick])
    assert.equal(after.code, 0, after.stdout + after.stderr)
    assert.equal(after.json().revisions[0].name, 'rev-a')
    const rerun = await runCli(['--json', 'usb', 'export', 'rev-a', 'rev-big', stick], { home: alice })
    assert.equal(rerun.code, 0, rerun.stderr)
    const res = rerun.json() as { revisions: Array<{ name: string; written: boolean }> }
    assert.deepEqual(
      res.revisions.map(r => r.name),
      ['rev-a', 'rev-big'],
    )
    assert.equal(res.revisions[0].written, false, 'rev-a was on the stick already')
    const v = await runCli(['--json', 'usb', 'verify', stick])
    assert.equal(v.code, 0, v.stdout)
    assert.deepEqual(
      v.json().revisions.map((r: { name: string; ok: boolean }) => [r.name, r.ok]),
      [
        ['rev-a', true],
        ['rev-big', true],
      ],
    )
    assert.deepEqual(
      (await readdir(stick)).filter(f => f.endsWith('.tmp')),
      [],
      "the killed run's temporary file is gone",
    )
  })
})
