/**
 * "Safe to remove" and eject, on a real FAT32 stick (mkfs.vfat image, loop
 * or fusefat mount; root only): `fieldsync usb export` says the stick can
 * be removed only once the stick's file system is synced (`sync -f`), never
 * before; `fieldsync usb eject` unmounts it (no udisks here: umount), and
 * where the user may not unmount it, says what to do instead.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, type CliRun } from '../helpers/cli.js'
import { cliBin, vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fatStick, has } from '../main/usb/helpers.js'

type T = Parameters<typeof tempDir>[0]

async function libraryWithRevision(t: T): Promise<string> {
  const home = await tempDir(t, 'fieldsync-eject-home-')
  const r = await runCli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'watchdog_pinger'], { home })
  assert.equal(r.code, 0, r.stderr)
  return home
}

/**
 * A `sync` first on PATH that tells the test it was called (FIFO `started`)
 * and waits for the test's word (FIFO `release`): `ok` runs the real sync,
 * anything else fails as a stick that cannot be written back would.
 */
async function heldSync(
  t: T,
): Promise<{ path: string; started: () => Promise<string>; release: (word: 'ok' | 'fail') => Promise<void>; unblock: () => Promise<void> }> {
  const dir = await tempDir(t, 'fieldsync-sync-shim-')
  const real = execFileSync('sh', ['-c', 'command -v sync'], { encoding: 'utf8' }).trim()
  for (const f of ['started', 'release']) execFileSync('mkfifo', [join(dir, f)])
  await writeFile(
    join(dir, 'sync'),
    `#!/bin/sh\nprintf '%s\\n' "$*" > '${dir}/started'\nword=$(cat '${dir}/release')\n[ "$word" = ok ] && exec ${real} "$@"\necho 'sync: error syncing: Input/output error' >&2\nexit 1\n`,
  )
  await chmod(join(dir, 'sync'), 0o755)
  return {
    path: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    started: async () => (await readFile(join(dir, 'started'), 'utf8')).trim(),
    release: async word => {
      await writeFile(join(dir, 'release'), `${word}\n`)
    },
    // The sync was never called: end the test's own wait on `started`.
    unblock: async () => {
      await writeFile(join(dir, 'started'), '')
    },
  }
}

function mounted(point: string): Promise<boolean> {
  return readFile('/proc/self/mountinfo', 'utf8').then(text => text.split('\n').some(l => l.split(' ')[4] === point))
}

describe('fieldsync usb: safe to remove, and eject', { timeout: 180_000 }, () => {
  it('export says "Safe to remove" only after the stick\'s file system is synced, and not at all when the sync fails', async t => {
    const stick = await fatStick(t, 64)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    if (!has('mkfifo')) {
      t.skip('mkfifo (coreutils) is not installed')
      return
    }
    const home = await libraryWithRevision(t)
    const shim = await heldSync(t)

    // The sync is held: every file is written, read back and fsynced, but the CLI has said nothing yet.
    let ended = false
    const run = runCli(['usb', 'export', 'watchdog_pinger', stick.dir], { home, env: { PATH: shim.path } }).then(r => {
      ended = true
      return r
    })
    const first = await Promise.race([shim.started(), run.then(() => null)])
    if (first === null) await shim.unblock()
    assert.equal(first, `-f ${stick.dir}`, "sync -f on the stick's folder (syncfs of its file system), before the export ends")
    assert.equal(ended, false, 'nothing is said while the file system is not synced')
    assert.ok((await readdir(stick.dir)).includes('fieldsync-manifest.json'), 'the files are in place before the sync')
    await shim.release('ok')
    const ok: CliRun = await run
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /Safe to remove/)
    assert.match(ok.stdout, new RegExp(`fieldsync usb eject ${stick.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))

    // The sync fails: the export stands (read back), but the stick is not called safe to remove.
    const failing = runCli(['--json', 'usb', 'export', 'watchdog_pinger', stick.dir], { home, env: { PATH: shim.path } })
    await shim.started()
    await shim.release('fail')
    const bad = await failing
    assert.equal(bad.code, 0, bad.stderr)
    const doc = bad.json()
    assert.equal(doc.safeToRemove, false)
    assert.equal(doc.sync.how, 'failed')
    assert.match(doc.sync.problem, /Input\/output error/)
    // The same in text: no "Safe to remove", and what to do instead.
    const third = runCli(['usb', 'export', 'watchdog_pinger', stick.dir], { home, env: { PATH: shim.path } })
    await shim.started()
    await shim.release('fail')
    const said = await third
    assert.doesNotMatch(said.stdout, /Safe to remove/)
    assert.match(said.stdout, /NOT confirmed on the stick/)
  })

  it('eject unmounts the stick (no udisks here: umount), and --json says how', async t => {
    const stick = await fatStick(t, 48)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    const home = await libraryWithRevision(t)
    const w = await runCli(['--json', 'usb', 'export', 'watchdog_pinger', stick.dir], { home })
    assert.equal(w.code, 0, w.stderr)
    assert.equal(w.json().safeToRemove, true)
    assert.equal(w.json().sync.how, 'syncfs')
    assert.equal(await mounted(stick.dir), true)
    // udisks is not installed here (nor could it run in the test's namespace): the fallback is umount, as root.
    const e = await runCli(['--json', 'usb', 'eject', stick.dir], { home })
    assert.equal(e.code, 0, e.stdout + e.stderr)
    const r = e.json()
    assert.equal(r.ejected, true)
    assert.equal(r.how, has('udisksctl') && r.source.startsWith('/dev/') ? 'udisks' : 'umount')
    assert.equal(r.mountPoint, stick.dir)
    assert.equal(await mounted(stick.dir), false, 'the stick is no longer mounted')
  })

  it('eject where this user may not unmount the stick: not ejected, exit 1, and what to do instead', async t => {
    const stick = await fatStick(t, 48)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    // A technician without root, and without udisks: neither umount nor fusermount lets them.
    await chmod(dirname(stick.dir), 0o755)
    const cwd = await tempDir(t, 'fieldsync-eject-nobody-')
    await chmod(cwd, 0o777)
    await mkdir(join(cwd, 'home'))
    await chmod(join(cwd, 'home'), 0o777)
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [cliBin, '--home', join(cwd, 'home'), '--json', 'usb', 'eject', stick.dir], {
        cwd,
        uid: 65534,
        gid: 65534,
        env: { PATH: process.env.PATH, HOME: cwd },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('error', reject)
      child.on('close', code => {
        resolve({ code, stdout, stderr })
      })
    })
    assert.equal(out.code, 1, out.stdout + out.stderr)
    const r = JSON.parse(out.stdout)
    assert.equal(r.ejected, false)
    assert.equal(r.how, 'none')
    assert.equal(r.mountPoint, stick.dir)
    assert.match(r.advice, /file manager/)
    assert.equal(await mounted(stick.dir), true, 'still mounted: nothing was pulled from under anyone')
  })

  it("eject of a folder on the laptop's own disk: nothing to eject, nothing unmounted", async t => {
    const dir = await tempDir(t, 'fieldsync-eject-notastick-')
    const e = await runCli(['--json', 'usb', 'eject', dir])
    assert.equal(e.code, 1, e.stdout + e.stderr)
    const r = e.json()
    assert.equal(r.ejected, false)
    assert.match(r.message, /nothing to eject/)
  })
})
