/**
 * The install history across processes: an install whose `fieldsync`
 * process is killed with -9 is marked INTERRUPTED by the next run, while an
 * install another live process is running stays STARTED. What an install
 * sent before the kill stays on record.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, startCli } from '../helpers/cli.js'
import { startHostileDevice } from '../helpers/hostile-device.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, makeRev, startSim } from './devices-harness.js'

describe('install history', () => {
  it('an install killed with -9 is INTERRUPTED at the next run; while it runs, another process sees it STARTED', async t => {
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    const rev = await makeRev(join(dir, 'src'), 'k9', [{ name: 'app', bytes: 100_000 }])
    await importRev(home, rev.tarball, 'site-app')
    // A device that never finishes: the install follows its progress until killed.
    const dev = await startHostileDevice(t, { progress: () => JSON.stringify({ status: 'INPROGRESS', 'status-msg': 'Update in progress', progress: 50 }) })
    const run = startCli(t, ['--home', home, 'install', 'site-app', '--device', dev.address, '--poll', '50'])
    await run.until(err => err.includes('INPROGRESS'))
    const during = await runCli(['--json', 'devices', 'show', '127.0.0.1'], { home })
    assert.equal(during.code, 0, during.stderr)
    assert.deepEqual(
      during.json().installs.map((i: { status: string }) => i.status),
      ['STARTED'],
      'the install of a live process is left alone',
    )
    run.child.kill('SIGKILL')
    assert.equal((await run.exited).signal, 'SIGKILL')
    const after = await runCli(['--json', 'devices', 'show', '127.0.0.1'], { home })
    assert.equal(after.code, 0, after.stderr)
    const [row] = after.json().installs as Array<{ status: string; statusMsg: string; step: string }>
    assert.equal(row.status, 'INTERRUPTED')
    assert.match(row.statusMsg, new RegExp(`pid ${String(run.pid)}\\b.*ended before the install finished`))
  })

  it('what an install sent before a kill -9 stays on record', async t => {
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    const rev = await makeRev(join(dir, 'src'), 'sent', [{ name: 'app', bytes: 300_000 }])
    await importRev(home, rev.tarball, 'site-app')
    // The device stays in TESTING for a minute: the install is killed while it follows the device, after the upload.
    const sim = await startSim(t, join(dir, 'dev'), ['--timing', 'testing=60000'])
    const run = startCli(t, ['--home', home, 'install', 'site-app', '--device', sim.http, '--poll', '50'])
    await run.until(err => err.includes('INPROGRESS'))
    run.child.kill('SIGKILL')
    assert.equal((await run.exited).signal, 'SIGKILL')
    const after = await runCli(['--json', 'devices', 'show', sim.http], { home })
    assert.equal(after.code, 0, after.stderr)
    const [row] = after.json().installs as Array<{ status: string; bytesSent: number; objectsSent: number }>
    assert.equal(row.status, 'INTERRUPTED')
    // Written during the upload, not only when the install ends (which a kill -9 never reaches).
    assert.equal(row.bytesSent, rev.bytes)
    assert.equal(row.objectsSent, rev.objects.length)
  })
})
