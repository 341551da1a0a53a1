/**
 * What others wrote reaches the terminal as text, never as control
 * sequences, and not in megabytes: a device's status message (through a real
 * `fieldsync install` against a device that sends escape sequences and 50 MB),
 * state keys in `diff`, and a file's name kept as a revision's source.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { startHostileDevice } from '../helpers/hostile-device.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, makeRev } from './devices-harness.js'

/** Anything a terminal would act on rather than show. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

const ESCAPES = '\x1b]0;owned\x07\x1b[2J\x9b31m\u202egnp.exe'

describe('hostile text on the terminal', () => {
  it('a device status message with escape sequences and 50 MB: escaped and cut on the terminal, kept up to 4096 characters in JSON', async t => {
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    const rev = await makeRev(join(dir, 'src'), 'msg', [{ name: 'app', bytes: 50_000 }])
    await importRev(home, rev.tarball, 'site-app')
    // The 50 MB for the first install; 1 MB is as far over the caps for the second, and cheaper.
    let body = JSON.stringify({ status: 'UPDATED', 'status-msg': ESCAPES + 'A'.repeat(50 << 20), progress: 100 })
    const dev = await startHostileDevice(t, { progress: () => body })
    const text = await runCli(['install', 'site-app', '--device', dev.address, '--poll', '50'], { home })
    assert.equal(text.code, 0, text.stderr.slice(0, 2000))
    for (const [what, out] of [
      ['stdout', text.stdout],
      ['stderr', text.stderr],
    ]) {
      assert.ok(!CONTROL.test(out), `${what} holds a control character: ${JSON.stringify(out.slice(0, 300))}`)
      assert.ok(out.length < 8192, `${what}: ${out.length} characters`)
    }
    assert.match(text.stdout, /\(\\x1b\]0;owned\\x07\\x1b\[2J\\x9b31m\\u\{202e\}gnp\.exeA+… \(\d+ more characters\)\)/)
    body = JSON.stringify({ status: 'UPDATED', 'status-msg': ESCAPES + 'A'.repeat(1 << 20), progress: 100 })
    const json = await runCli(['--json', 'install', 'site-app', '--device', dev.address, '--poll', '50', '--name', 'again'], { home })
    assert.equal(json.code, 0)
    assert.ok(!CONTROL.test(json.stderr))
    const msg = json.json().statusMsg as string
    assert.ok(msg.startsWith(ESCAPES + 'AAA'), 'JSON keeps the text as the device sent it')
    assert.match(msg, /^[^]{4096} \[\d+ more characters cut\]$/)
    const show = await runCli(['devices', 'show', '127.0.0.1'], { home })
    assert.equal(show.code, 0, show.stderr)
    assert.ok(!CONTROL.test(show.stdout), JSON.stringify(show.stdout))
    assert.match(show.stdout, /UPDATED .*\\x1b\]0;owned/)
    const history = await runCli(['--json', 'devices', 'show', '127.0.0.1'], { home })
    assert.ok(history.json().installs.every((i: { statusMsg: string }) => i.statusMsg.length < 4200))
  })

  it('state keys in diff and a file name kept as the source: escaped on the terminal, as they are in JSON', async t => {
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    execFileSync('tar', ['-xf', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '-C', dir])
    const state = JSON.parse(await readFile(join(dir, 'json'), 'utf8')) as Record<string, unknown>
    const key = `config/${ESCAPES}.json`
    state[key] = { a: 1 }
    const evil = join(dir, `x${ESCAPES}y.json`)
    await writeFile(evil, JSON.stringify(state))
    await mkdir(join(dir, 'copy'))
    await copyFile(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), join(dir, 'copy', 'a.tar'))
    assert.equal((await runCli(['import', join(dir, 'copy', 'a.tar'), '--name', 'a'], { home })).code, 0)
    const imp = await runCli(['import', evil, '--objects', join(dir, 'objects'), '--name', 'b'], { home })
    assert.equal(imp.code, 0, imp.stderr)
    const diff = await runCli(['diff', 'a', 'b'], { home })
    assert.equal(diff.code, 0, diff.stderr)
    assert.ok(!CONTROL.test(diff.stdout), JSON.stringify(diff.stdout))
    assert.match(diff.stdout, /^\+ config\/\\x1b\]0;owned\\x07/m)
    assert.deepEqual(
      (await runCli(['--json', 'diff', 'a', 'b'], { home })).json().added.map((e: { key: string }) => e.key),
      [key],
    )
    const show = await runCli(['show', 'b'], { home })
    assert.ok(!CONTROL.test(show.stdout), JSON.stringify(show.stdout))
    assert.match(show.stdout, /^source .*x\\x1b\]0;owned\\x07\\x1b\[2J/m)
    assert.equal((await runCli(['--json', 'show', 'b'], { home })).json().revision.source, evil)
  })
})
