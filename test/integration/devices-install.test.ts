/**
 * `fieldsync install` against the device simulator, through both drivers:
 * pvr-sdk over HTTP, and SSH through a real OpenSSH sshd on loopback driving
 * pv-ctrl with curl. Each failure path gives its outcome and exit code, and
 * never leaves a step on the device whose objects are missing.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { canonicalizeJsonText } from '../../shared/state/index.js'
import { runCli, type CliRun } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import {
  DEV_CA,
  deviceObjects,
  deviceSteps,
  fullRevisionOf,
  has,
  importRev,
  json,
  makeRev,
  sentObjects,
  sshdProblem,
  startSim,
  startSshd,
  WIFI_TGZ,
  type Sim,
  type TestRev,
} from './devices-harness.js'

interface Out {
  device: string
  revision: string
  step: string
  status: string
  statusMsg: string
  bytesSent: number
  objectsSent: number
  seconds: number
  uploadSeconds?: number
  error?: { code: string; message: string }
}

function out(r: CliRun): Out {
  try {
    return r.json() as Out
  } catch {
    throw new Error(`not JSON (exit ${String(r.code)}): ${r.stdout}\n${r.stderr}`)
  }
}

/** Every step on the device has all its objects there (the rule the installer keeps). */
async function noStepWithoutObjects(sim: Sim): Promise<void> {
  const objs = await deviceObjects(sim.socket)
  for (const step of await deviceSteps(sim.socket)) {
    const state = await json<Record<string, unknown>>(sim.socket, `/steps/${step}`)
    for (const [k, v] of Object.entries(state)) {
      if (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)) assert.ok(objs.has(v), `step ${step} names ${k} = ${v}, which is not on the device`)
    }
  }
}

async function setup(
  t: Parameters<typeof tempDir>[0],
  simArgs: string[] = [],
  opts: { fast?: boolean; roots?: Array<{ name: string; bytes: number }>; stock?: boolean } = {},
): Promise<{ home: string; dir: string; sim: Sim; rev: TestRev; id: string }> {
  const dir = await tempDir(t)
  const home = join(dir, 'home')
  const rev = await makeRev(
    join(dir, 'src'),
    'r1',
    opts.roots ?? [
      { name: 'app', bytes: 400_000 },
      { name: 'web', bytes: 300_000 },
    ],
  )
  const id = await importRev(home, rev.tarball, 'site-app')
  // The tests of statuses read the device's progress over HTTP: a pvr-sdk with the
  // assumed step-get-url. A stock pvr-sdk has none (its own tests below).
  const sim = await startSim(t, join(dir, 'dev'), [...(opts.stock === true ? [] : ['--assume-pvr-sdk-progress']), ...simArgs], { fast: opts.fast })
  return { home, dir, sim, rev, id }
}

function install(home: string, sim: Sim, args: string[] = [], rev = 'site-app'): Promise<CliRun> {
  return runCli(['--json', 'install', rev, '--device', sim.http, '--poll', '50', ...args], { home, timeoutMs: 90_000 })
}

describe('install through pvr-sdk', () => {
  it('sends every object, creates the step, runs it through the reboot to DONE; a second revision sends only what changed; history is kept', async t => {
    const { home, dir, sim, rev, id } = await setup(t)
    const dry = await install(home, sim, ['--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    const plan = dry.json() as { objectsToSend: number; bytesToSend: number; step: string; estimatedSeconds: number }
    assert.equal(plan.objectsToSend, rev.objects.length)
    assert.equal(plan.bytesToSend, rev.bytes)
    assert.equal(plan.step, `locals/site-app-${id.slice(0, 8)}`)
    assert.equal((await sentObjects(sim.socket)).size, 0, 'a dry run sends nothing')
    const r = await install(home, sim)
    assert.equal(r.code, 0, r.stderr)
    const o = out(r)
    assert.equal(o.status, 'DONE')
    assert.equal(o.revision, id)
    assert.equal(o.bytesSent, rev.bytes)
    assert.equal(o.objectsSent, rev.objects.length)
    assert.deepEqual(Object.keys(o).sort(), ['bytesSent', 'device', 'objectsSent', 'revision', 'seconds', 'status', 'statusMsg', 'step', 'uploadSeconds'])
    assert.ok((o.uploadSeconds ?? Infinity) <= o.seconds, 'the upload is part of the whole install')
    assert.equal((await json(sim.socket, '/device-meta'))['pantavisor.revision'], o.step)
    // pvr post sends the state as canonical JSON (pantacor/pvr libpvr/repolib.go postRemoteJson: cjson.Marshal); the device names the step.
    assert.equal(await readFile(join(sim.dir, 'trails', o.step, '.pvr', 'json'), 'utf8'), canonicalizeJsonText(rev.raw), 'the canonical state, as pvr sends it')
    assert.equal(o.step, `locals/${id.slice(0, 12)}`, "the local step the device chose (its answer's revlocal)")
    const again = out(await install(home, sim, ['--name', 'again']))
    assert.equal(again.bytesSent, 0)
    assert.equal(again.status, 'UPDATED', 'same BSP: no reboot')
    const rev2 = await makeRev(join(dir, 'src2'), 'r1', [
      { name: 'app', bytes: 400_000 },
      { name: 'web', bytes: 300_000, seed: 'changed' },
    ])
    await importRev(home, rev2.tarball, 'site-app-2')
    const changed = rev2.objects.filter(x => !rev.objects.some(y => y.sha === x.sha))
    const r2 = out(await install(home, sim, [], 'site-app-2'))
    // web names no group and no restart policy: in upstream's default groups it restarts the system (state.c, defaults/groups.json).
    assert.equal(r2.status, 'DONE', 'a changed container of a system-restart platform: a reboot')
    assert.equal(
      r2.bytesSent,
      changed.reduce((n, x) => n + x.size, 0),
    )
    assert.equal(r2.objectsSent, changed.length)
    const hist = await runCli(['--json', 'devices', 'show', sim.http], { home })
    assert.equal(hist.code, 0, hist.stderr)
    const installs = (hist.json() as { installs: Array<{ status: string; revisionName: string }> }).installs
    assert.deepEqual(
      installs.map(i => i.status),
      ['DONE', 'UPDATED', 'DONE'],
    )
    assert.equal(installs[0].revisionName, 'site-app-2')
  })

  it('a damaged upload (422) is retried once and goes through; twice fails with E_OBJECT_HASH_MISMATCH and no step', async t => {
    const a = await setup(t, ['--flaky-uploads', '1'])
    const r = await install(a.home, a.sim)
    assert.equal(r.code, 0, r.stderr)
    const again = /retrying object ([0-9a-f]{64})/.exec(r.stderr)
    assert.ok(again !== null, r.stderr)
    const twice = a.rev.objects.find(x => x.sha === again[1])
    assert.ok(twice !== undefined)
    assert.equal(out(r).bytesSent, a.rev.bytes + twice.size, 'the damaged object went twice, nothing else')
    const b = await setup(t, ['--flaky-uploads', '2'])
    const f = await install(b.home, b.sim)
    assert.equal(f.code, 1)
    assert.equal(out(f).error?.code, 'E_OBJECT_HASH_MISMATCH')
    assert.equal(out(f).status, 'FAILED')
    assert.deepEqual(await deviceSteps(b.sim.socket), ['0'])
  })

  it('507: refused at preflight when it cannot fit; with --ignore-space the device answers 507, no step; E_NO_SPACE', async t => {
    const { home, sim } = await setup(t, ['--storage', '650000'])
    const pre = await install(home, sim)
    assert.equal(pre.code, 1)
    assert.equal((pre.json() as { error: { code: string } }).error.code, 'E_NO_SPACE')
    assert.equal((await sentObjects(sim.socket)).size, 0, 'nothing sent')
    const r = await install(home, sim, ['--ignore-space'])
    assert.equal(r.code, 1)
    assert.equal(out(r).error?.code, 'E_NO_SPACE')
    assert.deepEqual(await deviceSteps(sim.socket), ['0'])
    await noStepWithoutObjects(sim)
    const hist = (await runCli(['--json', 'devices', 'show', sim.http], { home })).json() as { installs: Array<{ status: string; errorCode: string }> }
    assert.deepEqual(
      hist.installs.map(i => [i.status, i.errorCode]),
      [
        ['FAILED', 'E_NO_SPACE'],
        ['REFUSED', 'E_NO_SPACE'],
      ],
      'both attempts are recorded',
    )
  })

  it('503 from a busy device, then success; without --json the final state is the one line on stdout', async t => {
    const { home, sim } = await setup(t, ['--busy-commands', '3'])
    const r = await runCli(['install', 'site-app', '--device', sim.http, '--poll', '50'], { home, timeoutMs: 90_000 })
    assert.equal(r.code, 0, r.stderr)
    // The rate is over the upload alone; the device's run has its own time (issue #17 item 6).
    assert.match(r.stdout, /^locals\/[0-9a-f]{12}: DONE \(.+\); sent \d+ objects, .+ in [\d.]+ s( \(.+\/s\))?; the device's run [\d.]+ s\n$/)
    assert.doesNotMatch(r.stderr, /: DONE/, 'the final state is printed once, on stdout')
    assert.equal((r.stderr.match(/retrying run/g) ?? []).length, 3)
  })

  it('the connection cut mid-upload: fails with no step; run again, no object that arrived is sent again', async t => {
    const { home, sim, rev } = await setup(t, ['--cut-after', '450000'])
    const r = await install(home, sim)
    assert.equal(r.code, 1)
    const o = out(r)
    assert.equal(o.error?.code, 'E_DEVICE_UNREACHABLE')
    assert.deepEqual(await deviceSteps(sim.socket), ['0'])
    const have = await deviceObjects(sim.socket)
    const complete = rev.objects.filter(x => have.get(x.sha) === x.size)
    assert.ok(complete.length >= 1 && complete.length < rev.objects.length, `${complete.length} objects arrived before the cut`)
    const r2 = await install(home, sim)
    assert.equal(r2.code, 0, r2.stderr)
    const o2 = out(r2)
    assert.equal(o2.status, 'DONE')
    assert.equal(o2.objectsSent, rev.objects.length - complete.length)
    assert.equal(o2.bytesSent, rev.bytes - complete.reduce((n, x) => n + x.size, 0))
  })

  it('ERROR and WONTGO end with exit 1 and the device message', async t => {
    for (const [outcome, status, msg] of [
      ['error', 'ERROR', 'Status goal not reached'],
      ['wontgo', 'WONTGO', 'Signature validation failed'],
    ] as const) {
      const { home, sim } = await setup(t, ['--outcome', outcome])
      const r = await install(home, sim)
      assert.equal(r.code, 1, `${outcome}: ${r.stderr}`)
      const o = out(r)
      assert.equal(o.status, status)
      assert.equal(o.statusMsg, msg)
      await noStepWithoutObjects(sim)
    }
  })

  it('a progress timeout says where the device stopped (E_TIMEOUT, exit 1)', async t => {
    const { home, sim } = await setup(t, [], { fast: false, roots: [{ name: 'app', bytes: 100_000 }] })
    const r = await install(home, sim, ['--timeout', '2.5'])
    assert.equal(r.code, 1)
    const o = out(r)
    assert.equal(o.status, 'TIMEOUT')
    assert.equal(o.error?.code, 'E_TIMEOUT')
    assert.match(o.statusMsg, /stopped at (NEW|INPROGRESS)/)
    await noStepWithoutObjects(sim)
  })
})

describe("install of the upstream signed revision (pvwificonnect.tgz, on the device's BSP)", () => {
  it('refused by the signature policy of the library before anything is sent (E_POLICY_REFUSED); with the dev CA trusted on both sides: the device verifies the original bytes and runs it', async t => {
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    const wifi = await fullRevisionOf(join(dir, 'src'), WIFI_TGZ, 'wifi-full')
    await importRev(home, wifi.tarball, 'wifi')
    const sim = await startSim(t, join(dir, 'dev'), ['--trust-ca', DEV_CA, '--assume-pvr-sdk-progress'])
    const refused = await install(home, sim, [], 'wifi')
    assert.equal(refused.code, 1)
    assert.equal((refused.json() as { error: { code: string } }).error.code, 'E_POLICY_REFUSED')
    assert.equal((await sentObjects(sim.socket)).size, 0)
    const add = await runCli(['trust', 'add', DEV_CA], { home })
    assert.equal(add.code, 0, add.stderr)
    const r = await install(home, sim, [], 'wifi')
    assert.equal(r.code, 0, r.stderr)
    // The revision holds the factory BSP and pvwificonnect, not pvr-sdk: removing pvr-sdk (a system-restart
    // platform in the default groups) reboots (pantavisor state.c pv_state_compare_objects).
    assert.equal(out(r).status, 'DONE')
    assert.match(out(r).step, /^locals\/[0-9a-f]{12}$/, 'pvr-sdk names the step after the state')
  })
})

describe('install through ssh (real sshd on loopback whose forced command enters containers as fallbear-cmd does, curl to pv-ctrl)', () => {
  it('key auth as the management container (pvr-sdk by default), host key pinned on first use, LOCAL_RUN_COMMIT to DONE; a changed host key is refused', async t => {
    const why = sshdProblem() ?? (has('curl') ? null : 'no curl')
    if (why !== null) {
      t.skip(why)
      return
    }
    const { home, dir, sim, rev } = await setup(t)
    const sshd = await startSshd(t, join(dir, 'sshd'), { containers: ['pvr-sdk', 'awconnect'] })
    const args = [
      '--json',
      'install',
      'site-app',
      '--device',
      '127.0.0.1',
      '--via',
      'ssh',
      '--ssh-port',
      String(sshd.port),
      '--ssh-key',
      sshd.key,
      '--ssh-socket',
      sim.socket,
      '--poll',
      '50',
    ]
    const r = await runCli([...args, '--commit', '-m', 'over ssh'], { home, timeoutMs: 90_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /host key ssh-ed25519 SHA256:\S+: pinned \(first use\)/)
    const o = out(r)
    assert.equal(o.status, 'DONE')
    assert.equal(o.bytesSent, rev.bytes)
    const steps = await json<Array<{ name: string; commitmsg: string }>>(sim.socket, '/steps')
    assert.equal(steps.find(s => s.name === o.step)?.commitmsg, 'over ssh')
    const known = await readFile(join(home, 'known_devices'), 'utf8')
    assert.match(known, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 \\S+\\n$`))
    const r2 = await runCli([...args, '--name', 'second'], { home, timeoutMs: 90_000 })
    assert.equal(r2.code, 0, r2.stderr)
    assert.match(r2.stderr, /matches the pinned one/)
    assert.equal(out(r2).bytesSent, 0)
    const other = (await readFile(join(sshd.dir, 'client_key.pub'), 'utf8')).split(' ')[1]
    await writeFile(join(home, 'known_devices'), `[127.0.0.1]:${sshd.port} ssh-ed25519 ${other}\n`)
    const r3 = await runCli([...args, '--name', 'third'], { home, timeoutMs: 90_000 })
    assert.equal(r3.code, 1)
    assert.equal((r3.json() as { error: { code: string } }).error.code, 'E_HOST_KEY_MISMATCH')
  })

  it('a login name that is no container (root, on a Pantavisor device) is refused before anything is sent, naming the container and the remedy', async t => {
    // Upstream: port 8222 is Pantavisor's dropbear with fallbear-cmd as its forced
    // command (pantavisor debug.c; fallbear-cmd: "no container found: $plat").
    const why = sshdProblem() ?? (has('curl') ? null : 'no curl')
    if (why !== null) {
      t.skip(why)
      return
    }
    const { home, dir, sim } = await setup(t)
    const sshd = await startSshd(t, join(dir, 'sshd'), { containers: ['pvr-sdk'] })
    const base = [
      '--json',
      'install',
      'site-app',
      '--device',
      `127.0.0.1:${sshd.port}`,
      '--via',
      'ssh',
      '--ssh-key',
      sshd.key,
      '--ssh-socket',
      sim.socket,
      '--poll',
      '50',
    ]
    const r = await runCli([...base, '--ssh-user', 'root'], { home, timeoutMs: 60_000 })
    assert.equal(r.code, 1, r.stderr)
    const e = (r.json() as { error: { code: string; message: string } }).error
    assert.equal(e.code, 'E_DEVICE_REFUSED')
    assert.match(e.message, /no running container named "root".*--ssh-user/)
    assert.deepEqual(await deviceSteps(sim.socket), ['0'])
    const ok = await runCli([...base, '--ssh-user', 'pvr-sdk'], { home, timeoutMs: 90_000 })
    assert.equal(ok.code, 0, ok.stderr)
  })

  it('over ssh too: a cut mid-upload, then a rerun that resends nothing that arrived; a 422 twice fails', async t => {
    const why = sshdProblem() ?? (has('curl') ? null : 'no curl')
    if (why !== null) {
      t.skip(why)
      return
    }
    const { home, dir, sim, rev } = await setup(t, ['--cut-after', '450000', '--flaky-uploads', '0'])
    const sshd = await startSshd(t, join(dir, 'sshd'), { containers: ['pvr-sdk'] })
    const args = [
      '--json',
      'install',
      'site-app',
      '--device',
      `127.0.0.1:${sshd.port}`,
      '--via',
      'ssh',
      '--ssh-key',
      sshd.key,
      '--ssh-socket',
      sim.socket,
      '--poll',
      '50',
    ]
    const r = await runCli(args, { home, timeoutMs: 90_000 })
    assert.equal(r.code, 1, r.stderr)
    assert.equal(out(r).error?.code, 'E_DEVICE_UNREACHABLE')
    assert.deepEqual(await deviceSteps(sim.socket), ['0'])
    const have = await deviceObjects(sim.socket)
    const complete = rev.objects.filter(x => have.get(x.sha) === x.size)
    const r2 = await runCli(args, { home, timeoutMs: 90_000 })
    assert.equal(r2.code, 0, r2.stderr)
    assert.equal(out(r2).bytesSent, rev.bytes - complete.reduce((n, x) => n + x.size, 0))
    const b = await setup(t, ['--flaky-uploads', '2'])
    const f = await runCli(
      ['--json', 'install', 'site-app', '--device', `127.0.0.1:${sshd.port}`, '--via', 'ssh', '--ssh-key', sshd.key, '--ssh-socket', b.sim.socket],
      { home: b.home, timeoutMs: 90_000 },
    )
    assert.equal(f.code, 1)
    assert.equal(out(f).error?.code, 'E_OBJECT_HASH_MISMATCH')
    assert.deepEqual(await deviceSteps(b.sim.socket), ['0'])
  })
})

describe("install through a stock pvr-sdk (pvr's protocol only: no progress, no free space)", () => {
  it('posts as pvr does and ends RUNNING once the device has run the revision for --settle; the plan says what the device does not tell', async t => {
    const { home, sim, id } = await setup(t, [], { stock: true })
    const dry = await install(home, sim, ['--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    const plan = dry.json() as { freeBytes: number | null; notes: string[] }
    assert.equal(plan.freeBytes, null)
    assert.ok(
      plan.notes.some(n => /does not tell its free space/.test(n)),
      plan.notes.join('; '),
    )
    assert.ok(
      plan.notes.some(n => /does not tell the device's progress/.test(n)),
      plan.notes.join('; '),
    )
    const t0 = Date.now()
    const r = await install(home, sim, ['--settle', '1', '-m', 'as pvr posts'])
    assert.equal(r.code, 0, r.stderr)
    const o = out(r)
    assert.equal(o.status, 'RUNNING')
    assert.match(o.statusMsg, /does not tell/)
    assert.equal(o.step, `locals/${id.slice(0, 12)}`)
    assert.ok(Date.now() - t0 < 60_000)
    // What the device stored is what pvr posts: the canonical state, and the commit message.
    const steps = await json<Array<{ name: string; commitmsg: string; progress: { status: string } }>>(sim.socket, '/steps')
    const mine = steps.find(x => x.name === o.step)
    assert.equal(mine?.commitmsg, 'as pvr posts')
    assert.match(mine?.progress.status ?? '', /^(DONE|UPDATED|TESTING)$/)
  })

  it('a device that does not run it (an update that fails and rolls back): NOT_RUNNING with exit 1 within the switch window, not a 15-minute wait', async t => {
    const { home, sim } = await setup(t, ['--outcome', 'error'], { stock: true })
    const t0 = Date.now()
    const r = await install(home, sim, ['--settle', '1', '--timeout', '12'])
    assert.equal(r.code, 1, r.stderr)
    const o = out(r)
    assert.equal(o.status, 'NOT_RUNNING')
    assert.match(o.statusMsg, /(went back|did not switch)/)
    assert.ok(Date.now() - t0 < 90_000, `took ${Date.now() - t0} ms`)
    await noStepWithoutObjects(sim)
  })

  it('a device that points uploads elsewhere (an absolute signed-puturl on another port of the laptop) is refused: E_PROTOCOL, and the other service gets nothing', async t => {
    const { createServer } = await import('node:http')
    let hits = 0
    const victim = createServer((req, res) => {
      hits++
      req.resume()
      res.end('ok')
    })
    await new Promise<void>(resolve => {
      victim.listen(0, '127.0.0.1', resolve)
    })
    t.after(() => {
      victim.close()
    })
    const vport = (victim.address() as { port: number }).port
    const evil = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const u = req.url ?? ''
        const send = (status: number, body: unknown): void => {
          res.writeHead(status, { 'Content-Type': 'application/json' })
          res.end(JSON.stringify(body))
        }
        if (u.endsWith('/.pvrremote'))
          send(200, { 'pvr-spec': 'x', 'json-get-url': '/cgi-bin/pvr/json', 'objects-endpoint': '/cgi-bin/pvr/objects', 'post-url': '/cgi-bin/pvr/post' })
        else if (u.endsWith('/json')) send(200, { '#spec': 'pantavisor-service-system@1' })
        else if (u.endsWith('/objects')) send(200, { 'signed-puturl': `http://127.0.0.1:${vport}/steal` })
        else send(404, { Error: 'no' })
      })
    })
    await new Promise<void>(resolve => {
      evil.listen(0, '127.0.0.1', resolve)
    })
    t.after(() => {
      evil.close()
    })
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    const rev = await makeRev(join(dir, 'src'), 'ev', [{ name: 'app', bytes: 10_000 }])
    await importRev(home, rev.tarball, 'site-app')
    const r = await runCli(['--json', 'install', 'site-app', '--device', `127.0.0.1:${(evil.address() as { port: number }).port}`, '--ignore-space'], {
      home,
      timeoutMs: 30_000,
    })
    assert.equal(r.code, 1, r.stderr)
    const e = (r.json() as { error: { code: string; message: string } }).error
    assert.equal(e.code, 'E_PROTOCOL')
    assert.match(e.message, /points to http:\/\/127\.0\.0\.1:\d+, not to the device/)
    assert.equal(hits, 0)
  })
})
