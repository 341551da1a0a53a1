/**
 * `fieldsync rollout --via ssh` against two simulated devices, each behind a
 * real sshd whose forced command enters containers as Pantavisor's
 * fallbear-cmd does, with pv-ctrl where a management container sees it.
 * The devices differ: one has pvr-sdk, the other's management container is
 * `tools`. One key for both; each device is entered as the container
 * remembered for it, so the rollout needs no --ssh-user.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, type CliRun } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { has, importRev, makeRev, sshdProblem, sshLogins, startSim, startSshd } from './devices-harness.js'

interface Result {
  summary: { devices: number; succeeded: number; failed: number }
  devices: Array<{ device: string; outcome: string }>
  plans?: Array<{ deviceId: string; error: { code: string } | null }>
}

function result(r: CliRun): Result {
  try {
    return r.json() as Result
  } catch {
    throw new Error(`not JSON (exit ${String(r.code)}): ${r.stdout}\n${r.stderr}`)
  }
}

describe('rollout over SSH', () => {
  it('two devices with different management containers: refused by name until the container is known, then both updated without --ssh-user', async t => {
    const why = sshdProblem() ?? (has('curl') ? null : 'no curl')
    if (why !== null) {
      t.skip(why)
      return
    }
    const dir = await tempDir(t, 'rollout-ssh-')
    const home = join(dir, 'home')
    const rev = await makeRev(join(dir, 'src'), 'fleet', [{ name: 'app', bytes: 120_000 }])
    await importRev(home, rev.tarball, 'site-app')
    // Device B runs a state whose one container, tools, has the management role (no roles: upstream's default).
    const toolsFactory = await makeRev(join(dir, 'factory'), 'tools', [{ name: 'tools', bytes: 50_000 }])
    const a = await startSim(t, join(dir, 'devA'))
    const b = await startSim(t, join(dir, 'devB'), ['--factory', toolsFactory.tarball])
    const sa = await startSshd(t, join(dir, 'sshdA'), { containers: ['pvr-sdk'], pvCtrl: a.socket })
    // sshd looks a login name up before its forced command runs: pvr-sdk is a name there, and fallbear-cmd finds no such container.
    const sb = await startSshd(t, join(dir, 'sshdB'), {
      containers: ['tools', 'app'],
      pvCtrl: b.socket,
      behave: { 'pvr-sdk': 'echo "no container found: pvr-sdk" >&2; exit 1' },
    })
    await writeFile(join(sb.dir, 'authorized_keys'), await readFile(`${sa.key}.pub`))
    const A = `127.0.0.1:${sa.port}`
    const B = `127.0.0.1:${sb.port}`
    const ssh = ['--via', 'ssh', '--ssh-key', sa.key]

    const dry = await runCli(['--json', 'rollout', 'site-app', '--devices', `${A},${B}`, '--dry-run', ...ssh], { home, timeoutMs: 60_000 })
    assert.equal(dry.code, 0, dry.stderr)
    const plans = result(dry).plans ?? []
    assert.equal(plans.find(p => p.deviceId === A)?.error, null)
    assert.equal(plans.find(p => p.deviceId === B)?.error?.code, 'E_DEVICE_REFUSED', 'no pvr-sdk on B: refused by name')

    const choose = await runCli(['--json', 'install', 'site-app', '--device', B, '--dry-run', '--ssh-user', 'tools', ...ssh], { home, timeoutMs: 60_000 })
    assert.equal(choose.code, 0, choose.stderr)

    const r = await runCli(['--json', 'rollout', 'site-app', '--devices', `${A},${B}`, '--parallel', '2', '--poll', '50', ...ssh], { home, timeoutMs: 180_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual([result(r).summary.succeeded, result(r).summary.failed], [2, 0])
    assert.ok((await sshLogins(sa)).every(l => l === 'pvr-sdk'))
    const lb = await sshLogins(sb)
    assert.equal(lb[0], 'pvr-sdk', 'the first try on B, without a choice')
    assert.ok(
      lb.slice(1).every(l => l === 'tools'),
      `B entered as tools from then on: ${lb.join(' ')}`,
    )
  })
})
