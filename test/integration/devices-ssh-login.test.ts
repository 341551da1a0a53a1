/**
 * Which container `fieldsync install --via ssh` logs in as, against a real
 * sshd whose forced command behaves as upstream's fallbear-cmd (pantavisor
 * debug.c, tools/fallbear-cmd: the login name is the container to enter; a
 * name that is no running container gets "no container found: <name>"),
 * driving the device simulator's pv-ctrl: the management role read from the
 * state the device runs (parser/parser_system1.c), the technician's choice
 * remembered per device, and a wrong container refused by name.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, type CliRun } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { deviceSteps, has, importRev, makeRev, sshdProblem, sshLogins, startSim, startSshd } from './devices-harness.js'

interface Plan {
  commit: { possible: boolean }
  ssh: { container: string; source: string; next: string; hostKey: { fingerprint: string; pinned: string } | null } | null
  error?: { code: string; message: string }
}

function plan(r: CliRun): Plan {
  try {
    return r.json() as Plan
  } catch {
    throw new Error(`not JSON (exit ${String(r.code)}): ${r.stdout}\n${r.stderr}`)
  }
}

describe('the SSH login: the container the device says, else the one chosen, remembered per device', () => {
  it('a wrong container is refused by name; the state tells the management role; a chosen container is used again without the flag', async t => {
    const why = sshdProblem() ?? (has('curl') ? null : 'no curl')
    if (why !== null) {
      t.skip(why)
      return
    }
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    // app and web say no roles: upstream gives them the management role by default (platforms.c).
    const rev = await makeRev(join(dir, 'src'), 'r1', [
      { name: 'app', bytes: 200_000 },
      { name: 'web', bytes: 100_000 },
    ])
    await importRev(home, rev.tarball, 'site-app')
    const sim = await startSim(t, join(dir, 'dev'))
    const sshd = await startSshd(t, join(dir, 'sshd'), { containers: ['pvr-sdk', 'app', 'web'] })
    const device = `127.0.0.1:${sshd.port}`
    const base = ['--json', 'install', 'site-app', '--device', device, '--via', 'ssh', '--ssh-key', sshd.key, '--ssh-socket', sim.socket, '--poll', '50']
    const run = async (...extra: string[]): Promise<CliRun> => await runCli([...base, ...extra], { home, timeoutMs: 90_000 })

    // 1. root, as Fieldsync used to log in: fallbear's own refusal, named, before anything is sent.
    const wrong = await run('--ssh-user', 'root', '--dry-run')
    assert.equal(wrong.code, 1, wrong.stderr)
    const e = plan(wrong).error
    assert.equal(e?.code, 'E_DEVICE_REFUSED')
    for (const named of ['"root"', device, 'no container found: root', '--ssh-user', 'pvr-sdk'])
      assert.ok(e?.message.includes(named), `the message names ${named}: ${e?.message}`)
    assert.deepEqual(await deviceSteps(sim.socket), ['0'])

    // 2. Nothing known: pvr-sdk. The factory state gives it the management role; the install replaces it with app and web.
    const first = await run('--commit')
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stderr, /logging in as pvr-sdk/)

    // 3. The state learnt at the last login (the factory's) says pvr-sdk; the state it runs now says app, web.
    const third = await run('--dry-run')
    assert.equal(third.code, 0, third.stderr)
    assert.deepEqual(plan(third).ssh && { c: plan(third).ssh?.container, s: plan(third).ssh?.source, n: plan(third).ssh?.next }, {
      c: 'pvr-sdk',
      s: 'state',
      n: 'app',
    })
    assert.equal(plan(third).commit.possible, true)
    assert.equal(plan(third).ssh?.hostKey?.pinned, 'known')

    // 4. The technician chooses web (one of the management containers): remembered once the login works.
    const chosen = await run('--dry-run', '--ssh-user', 'web')
    assert.equal(chosen.code, 0, chosen.stderr)
    const again = await run('--dry-run')
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual([plan(again).ssh?.container, plan(again).ssh?.source], ['web', 'setting'])
    const show = await runCli(['--json', 'devices', 'show', device], { home })
    assert.equal(show.code, 0, show.stderr)
    assert.deepEqual((show.json() as { ssh: unknown }).ssh, { container: 'web', source: 'setting', chosen: 'web', mgmt: ['app', 'web'] })

    // 5. A wrong name is not remembered, and the refusal names the management containers the device's state gives.
    const wrong2 = await run('--dry-run', '--ssh-user', 'root')
    assert.equal(wrong2.code, 1)
    assert.equal(plan(wrong2).error?.code, 'E_DEVICE_REFUSED')
    assert.ok(plan(wrong2).error?.message.includes('app, web'), plan(wrong2).error?.message)
    const last = await run('--dry-run')
    assert.equal(last.code, 0, last.stderr)
    assert.equal(plan(last).ssh?.container, 'web')

    const logins = await sshLogins(sshd)
    assert.equal(logins[0], 'root')
    assert.ok(logins.includes('web') && logins.includes('root'))
    assert.equal(logins[logins.length - 1], 'web', 'the last install logged in as the remembered container')
  })
})
