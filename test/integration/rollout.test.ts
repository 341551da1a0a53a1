/**
 * `fieldsync rollout` against simulated devices (device-sim --fast
 * --no-mdns, each on its own port of 127.0.0.1: devices on one IP): 20
 * devices with canaries first then 4 at a time, the reports and the
 * devices' histories agreeing; a canary failure that stops the rollout
 * before any other device is touched; --max-failures 2; a rollout killed
 * with -9 and resumed.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli, startCli, type CliRun, type RunningCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { deviceSteps, importRev, json, makeRev, sentObjects, startSim, waitJson, type Sim, type Tctx } from './devices-harness.js'

interface ReportRow {
  device: string
  name: string
  canary: boolean
  state: string
  outcome: string
  message: string | null
  revisionBefore: string | null
  revisionAfter: string | null
  bytesSent: number
  installId: number | null
}
interface Result {
  rollout: number
  resumed: boolean
  stopped: string | null
  reads?: { libraryBytes: number; servedBytes: number; ownReads: number }
  summary: { devices: number; succeeded: number; failed: number; skipped: number; notStarted: number; stopped: number }
  devices: ReportRow[]
  seconds: number
}
interface Install {
  id: number
  deviceId: string
  status: string
  statusMsg: string | null
  bytesSent: number
  step: string | null
  startedAt: number
  endedAt: number | null
}

async function sims(t: Tctx, dir: string, outcomes: Array<string | null>, extra: string[] = []): Promise<Sim[]> {
  return await Promise.all(
    outcomes.map(async (o, i) => await startSim(t, join(dir, `dev${i}`), ['--assume-pvr-sdk-progress', ...(o === null ? [] : ['--outcome', o]), ...extra])),
  )
}

async function setup(
  t: Tctx,
  outcomes: Array<string | null>,
  simArgs: string[] = [],
): Promise<{ dir: string; home: string; devs: Sim[]; objects: number; bytes: number }> {
  const dir = await tempDir(t, 'fleet-rollout-')
  const home = join(dir, 'home')
  const rev = await makeRev(join(dir, 'src'), 'fleet', [{ name: 'app', bytes: 120_000 }])
  await importRev(home, rev.tarball, 'site-app')
  const devs = await sims(t, dir, outcomes, simArgs)
  const add = await runCli(['--json', 'devices', '--no-mdns', ...devs.flatMap(d => ['--device', d.http])], { home })
  assert.equal(add.code, 0, add.stderr)
  return { dir, home, devs, objects: rev.objects.length, bytes: rev.bytes }
}

function result(r: CliRun): Result {
  try {
    return r.json() as Result
  } catch {
    throw new Error(`not JSON (exit ${String(r.code)}): ${r.stdout}\n${r.stderr}`)
  }
}

async function history(home: string, device: string): Promise<Install[]> {
  const r = await runCli(['--json', 'devices', 'show', device], { home })
  assert.equal(r.code, 0, r.stderr)
  return (r.json() as { installs: Install[] }).installs
}

/** Nothing written to the device: no object beyond its factory's, no step beyond 0. */
async function untouched(d: Sim): Promise<void> {
  assert.equal((await sentObjects(d.socket)).size, 0, `${d.http} got objects`)
  assert.deepEqual(await deviceSteps(d.socket), ['0'], `${d.http} got a step`)
}

function rollout(home: string, args: string[]): Promise<CliRun> {
  return runCli(['--json', 'rollout', 'site-app', '--poll', '50', ...args], { home, timeoutMs: 240_000 })
}

describe('rollout to 20 devices', () => {
  it("canaries first, then the rest 4 at a time; every device runs it; the reports' rows match the histories; a rerun skips them all", async t => {
    const { dir, home, devs, objects, bytes } = await setup(
      t,
      Array.from({ length: 20 }, () => null),
    )
    const ids = devs.map(d => d.http)
    assert.equal(new Set(ids.map(i => i.split(':')[0])).size, 1, 'all on one IP')
    assert.equal((await runCli(['devices', 'tag', 'all', 'site'], { home })).code, 0)
    assert.equal((await runCli(['devices', 'tag', `${ids[7]},${ids[13]}`, 'canary'], { home })).code, 0)
    const dry = await runCli(['--json', 'rollout', 'site-app', '--devices', 'tag:site', '--dry-run', '--parallel', '4'], { home })
    assert.equal(dry.code, 0, dry.stderr)
    const plans = (dry.json() as { plans: Array<{ deviceId: string; bytesToSend: number; objectsToSend: number; alreadyRuns: boolean; fits: boolean }> }).plans
    assert.equal(plans.length, 20)
    for (const p of plans) assert.deepEqual([p.bytesToSend, p.objectsToSend, p.alreadyRuns, p.fits], [bytes, objects, false, true], p.deviceId)
    for (const d of devs.slice(0, 3)) await untouched(d)

    const csv = join(dir, 'site.csv')
    const html = join(dir, 'site.html')
    const jsonFile = join(dir, 'site.json')
    const r = await rollout(home, [
      '--devices',
      'tag:site',
      '--canary',
      'tag:canary',
      '--parallel',
      '4',
      '--report',
      csv,
      '--report',
      html,
      '--report',
      jsonFile,
    ])
    assert.equal(r.code, 0, r.stderr)
    const res = result(r)
    t.diagnostic(`20-device rollout, --parallel 4, ${bytes} bytes each: ${res.seconds} s`)
    assert.deepEqual(res.summary, { devices: 20, succeeded: 20, failed: 0, skipped: 0, notStarted: 0, stopped: 0 })
    // Shared reads: each object read from the library once per wave (the canaries', then the rest's), not once per device.
    assert.deepEqual(res.reads, { libraryBytes: 2 * bytes, servedBytes: 20 * bytes, ownReads: 0 })
    assert.deepEqual(res.devices.map(d => d.device).sort(), [...ids].sort())
    const hist = new Map<string, Install[]>()
    for (const d of devs) hist.set(d.http, await history(home, d.http))
    for (const [i, d] of devs.entries()) {
      const row = res.devices.find(x => x.device === d.http)
      assert.ok(row !== undefined)
      const h = hist.get(d.http) ?? []
      assert.equal(h.length, 1, `${d.http}: one install`)
      assert.deepEqual(
        [h[0].id, h[0].deviceId, h[0].status, h[0].bytesSent, h[0].step],
        [row.installId, d.http, row.outcome, row.bytesSent, row.revisionAfter],
        `${d.http}: report row = history`,
      )
      assert.equal(row.bytesSent, bytes)
      assert.equal(row.canary, i === 7 || i === 13)
      assert.equal(String((await json(d.socket, '/device-meta'))['pantavisor.revision']), row.revisionAfter, `${d.http} runs the step the report names`)
      assert.equal(row.revisionBefore, '0')
    }
    // Waves: both canaries ended before any other device started; never more than 4 at once.
    const canaryEnd = Math.max(...[7, 13].map(i => hist.get(ids[i])?.[0].endedAt ?? Infinity))
    const restStart = Math.min(...ids.filter((_, i) => i !== 7 && i !== 13).map(id => hist.get(id)?.[0].startedAt ?? -Infinity))
    assert.ok(canaryEnd <= restStart, `canaries ended ${canaryEnd}, the rest started ${restStart}`)
    const spans = [...hist.values()].map(h => [h[0].startedAt, h[0].endedAt ?? 0])
    const most = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length))
    assert.ok(most <= 4 && most >= 2, `at most 4 at once, and more than one: ${most}`)

    const lines = (await readFile(csv, 'utf8')).trim().split('\r\n')
    assert.equal(lines[0], 'device,name,alias,tags,canary,revision_before,revision_after,outcome,message,bytes_sent,seconds')
    assert.equal(lines.length, 21)
    for (const l of lines.slice(1)) {
      const f = csvFields(l)
      const h = hist.get(f[0])?.[0]
      assert.ok(h !== undefined, l)
      assert.deepEqual([f[6], f[7], Number(f[9])], [h.step, h.status, h.bytesSent], l)
    }
    assert.deepEqual((JSON.parse(await readFile(jsonFile, 'utf8')) as Result).devices, res.devices)
    const page = await readFile(html, 'utf8')
    assert.equal(page.match(/<tr class="succeeded">/g)?.length, 20)
    assert.doesNotMatch(page, /<script|<link|src=|https?:\/\//i, 'self-contained')
    assert.match(page, /<b>20<\/b>succeeded/)

    const again = await rollout(home, ['--devices', 'tag:site', '--canary', 'tag:canary', '--parallel', '4'])
    assert.equal(again.code, 0, again.stderr)
    const a = result(again)
    assert.notEqual(a.rollout, res.rollout, 'a finished rollout is not resumed: a new one')
    assert.deepEqual(a.summary, { devices: 20, succeeded: 0, failed: 0, skipped: 20, notStarted: 0, stopped: 0 })
    assert.ok(a.devices.every(d => d.outcome === 'ALREADY_RUNS' && d.bytesSent === 0))
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.status),
      ['SKIPPED', row0Status(res, ids[0])],
    )
  })
})

/** One RFC 4180 record (no line breaks inside fields here). */
function csvFields(line: string): string[] {
  const out: string[] = []
  for (let i = 0; i <= line.length;) {
    if (line[i] === '"') {
      let v = ''
      let j = i + 1
      for (;;) {
        const q = line.indexOf('"', j)
        if (line[q + 1] === '"') {
          v += line.slice(j, q + 1)
          j = q + 2
          continue
        }
        v += line.slice(j, q)
        i = q + 2
        break
      }
      out.push(v)
    } else {
      const c = line.indexOf(',', i)
      const end = c < 0 ? line.length : c
      out.push(line.slice(i, end))
      i = end + 1
    }
  }
  return out
}

function row0Status(res: Result, id: string): string {
  return res.devices.find(d => d.device === id)?.outcome ?? '?'
}

describe('rollout stops', () => {
  it('a canary that fails (ERROR) stops the rollout before any other device is touched; they are NOT_STARTED in report and history', async t => {
    const { home, devs } = await setup(t, ['error', null, null, null])
    const ids = devs.map(d => d.http)
    const r = await rollout(home, ['--devices', ids.join(','), '--canary', ids[0], '--parallel', '4'])
    assert.equal(r.code, 1, r.stderr)
    const res = result(r)
    assert.deepEqual(
      res.devices.map(d => [d.device, d.outcome]),
      [[ids[0], 'ERROR'], ...ids.slice(1).map(i => [i, 'NOT_STARTED'])],
    )
    assert.match(res.stopped ?? '', /canary/)
    for (const d of devs.slice(1)) {
      await untouched(d)
      assert.deepEqual(
        (await history(home, d.http)).map(h => h.status),
        ['NOT_STARTED'],
      )
    }
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.status),
      ['ERROR'],
    )
  })

  it('--max-failures 2 stops at the second failure (one at a time); run again it resumes, and then the first failure stops it', async t => {
    const { home, devs, objects } = await setup(t, ['error', null, 'error', 'error', null])
    const ids = devs.map(d => d.http)
    const args = ['--devices', ids.join(','), '--parallel', '1']
    const r = await rollout(home, [...args, '--max-failures', '2'])
    assert.equal(r.code, 1, r.stderr)
    const res = result(r)
    assert.deepEqual(
      res.devices.map(d => d.outcome),
      ['ERROR', 'DONE', 'ERROR', 'NOT_STARTED', 'NOT_STARTED'],
    )
    await untouched(devs[3])
    await untouched(devs[4])
    // The same rollout again (default: the first failure stops): the device that finished is not touched again.
    const again = await rollout(home, args)
    assert.equal(again.code, 1)
    const a = result(again)
    assert.equal(a.rollout, res.rollout)
    assert.equal(a.resumed, true)
    assert.deepEqual(
      a.devices.map(d => d.outcome),
      ['ERROR', 'DONE', 'NOT_STARTED', 'NOT_STARTED', 'NOT_STARTED'],
    )
    assert.deepEqual(
      (await history(home, ids[1])).map(h => h.status),
      ['DONE'],
    )
    assert.equal((await sentObjects(devs[1].socket)).size, objects)
    await untouched(devs[4])
    assert.deepEqual(
      (await history(home, ids[4])).map(h => h.status),
      ['NOT_STARTED', 'NOT_STARTED'],
      "each run's outcome is in the history",
    )
  })
})

describe('rollout killed with -9', () => {
  it('resumes: the devices that finished are not touched again, the one cut off and the rest complete', async t => {
    const { home, devs } = await setup(t, [null, null, null, null])
    const ids = devs.map(d => d.http)
    const args = ['--home', home, '--json', 'rollout', 'site-app', '--devices', ids.join(','), '--parallel', '1', '--poll', '50']
    const run = startCli(t, args)
    // Killed while it follows the second device's progress.
    await run.until(err => err.includes(`${ids[1]}:   INPROGRESS`) || err.includes(`${ids[1]}:   TESTING`))
    run.child.kill('SIGKILL')
    assert.equal((await run.exited).signal, 'SIGKILL')
    await untouched(devs[2])
    await untouched(devs[3])
    // The device goes on with its update without the laptop; its containers restart the system, so it
    // reboots (upstream's default groups). The rerun starts at once, while it may still be rebooting:
    // it follows the step the device already has, through the reboot, instead of installing again.
    const r = await rollout(home, ['--devices', ids.join(','), '--parallel', '1'])
    assert.equal(r.code, 0, r.stderr)
    const res = result(r)
    assert.equal(res.resumed, true)
    assert.equal(res.summary.failed + res.summary.notStarted, 0)
    assert.match(r.stderr, new RegExp(`${ids[0]}: finished earlier`))
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.status),
      [res.devices[0].outcome],
      'the finished device was not touched again',
    )
    const cut = await history(home, ids[1])
    assert.deepEqual(
      cut.map(h => h.status),
      ['DONE'],
      'the cut-off install, followed to the end the device reached',
    )
    assert.match(cut[0].statusMsg ?? '', /followed after the rollout resumed/)
    assert.equal(res.devices[1].outcome, 'DONE')
    assert.equal(cut[0].id, res.devices[1].installId)
    assert.equal((await deviceSteps(devs[1].socket)).filter(x => x !== '0').length, 1, 'no second step for the cut-off device')
    for (const i of [2, 3])
      assert.deepEqual(
        (await history(home, ids[i])).map(h => h.status),
        ['DONE'],
      )
  })
})

/**
 * `fieldsync rollout` in a child, sent `sig` once `ready` resolves (given the child's stderr so far);
 * its JSON result after SIGINT, null after SIGKILL.
 */
async function interruptedRollout(
  t: Tctx,
  home: string,
  ids: string[],
  ready: (run: RunningCli) => Promise<void>,
  sig: 'SIGINT' | 'SIGKILL' = 'SIGINT',
): Promise<(Result & { stderr: string }) | null> {
  const run = startCli(t, ['--home', home, '--json', 'rollout', 'site-app', '--devices', ids.join(','), '--parallel', '1', '--poll', '50'])
  let interrupted = false
  await Promise.race([
    ready(run),
    run.exited.then(() => {
      if (!interrupted) throw new Error(`rollout exited before it was interrupted: ${run.stderr()}`)
    }),
  ])
  interrupted = true
  run.child.kill(sig)
  const { code } = await run.exited
  if (sig === 'SIGKILL') return null
  assert.equal(code, 1)
  return { ...(JSON.parse(run.stdout()) as Result), stderr: run.stderr() }
}

describe('rollout stopped with Ctrl+C', () => {
  it('the device in flight is STOPPED, not failed, the rest not started and untouched; the rerun follows its step (one install) and completes', async t => {
    // Each device stays 4 s in TESTING: the interrupt lands while the first one runs its update.
    const { home, devs } = await setup(t, [null, null, null], ['--timing', 'testing=4000'])
    const ids = devs.map(d => d.http)
    const stopped = await interruptedRollout(t, home, ids, async run => {
      await run.until(err => err.includes(`${ids[0]}:   TESTING`))
    })
    assert.ok(stopped !== null)
    assert.deepEqual(
      [stopped.devices[0].state, stopped.devices[0].outcome],
      ['running', 'STOPPED'],
      'the device goes on with its update without us: stopped, not failed',
    )
    assert.ok(stopped.devices[0].bytesSent > 0, 'what was sent to it is told')
    assert.equal(stopped.stopped, 'interrupted')
    assert.match(
      stopped.stderr,
      new RegExp(`${ids[0]}: STOPPED \\(the device goes on with its update`),
      'stderr says the device was stopped, not started again',
    )
    assert.deepEqual(stopped.summary, { devices: 3, succeeded: 0, failed: 0, skipped: 0, notStarted: 2, stopped: 1 })
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.status),
      ['STOPPED'],
      "its history says STOPPED (the device goes on), not the install's 'cancelled' failure",
    )
    await untouched(devs[1])
    await untouched(devs[2])

    const r = await rollout(home, ['--devices', ids.join(','), '--parallel', '1'])
    assert.equal(r.code, 0, r.stderr)
    const res = result(r)
    assert.equal(res.resumed, true)
    assert.deepEqual(res.summary, { devices: 3, succeeded: 3, failed: 0, skipped: 0, notStarted: 0, stopped: 0 })
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.status),
      [res.devices[0].outcome],
      'one install, the stopped one, followed to its end: not installed again',
    )
    assert.equal((await deviceSteps(devs[0].socket)).length, 2, 'the device got one step (beside its factory 0)')
  })

  it("killed before pvr-sdk answered the post: the rerun follows the step the device named, counted as installed, not as 'already ran it'", async t => {
    // pvr-sdk names the step itself and tells it only in its answer, which these devices hold back 4 s
    // (device-sim --timing post=4000); they run it 2 s after the post (pickup=2000). The kill lands
    // once the device holds the step, before the answer: the rollout never learned the step's name.
    const { home, devs } = await setup(t, [null], ['--timing', 'post=4000,pickup=2000'])
    const ids = devs.map(d => d.http)
    await interruptedRollout(
      t,
      home,
      ids,
      async () => {
        await waitJson<Array<{ name: string }>>(devs[0].socket, '/steps', s => s.length === 2)
      },
      'SIGKILL',
    )
    const named = (await deviceSteps(devs[0].socket)).find(x => x !== '0') ?? ''
    assert.notDeepEqual(
      (await history(home, ids[0])).map(h => h.step),
      [named],
      'the install is recorded under the name the rollout planned, not the one the device chose',
    )
    // The technician resumes once the device has run it (it reboots on the way).
    await waitJson<{ status: string }>(devs[0].socket, `/steps/${named}/progress`, p => p.status === 'DONE', 30_000)

    const r = await rollout(home, ['--devices', ids.join(','), '--parallel', '1'])
    assert.equal(r.code, 0, r.stderr)
    const res = result(r)
    assert.equal(res.resumed, true)
    assert.deepEqual(res.summary, { devices: 1, succeeded: 1, failed: 0, skipped: 0, notStarted: 0, stopped: 0 }, JSON.stringify(res.devices))
    assert.match(res.devices[0].message ?? '', /^followed after the rollout resumed: DONE/)
    const installs = await history(home, ids[0])
    assert.deepEqual(
      installs.map(h => [h.status, h.step]),
      [['DONE', named]],
      "one install, under the step the device named, followed to its end: neither installed again nor 'already ran it'",
    )
    assert.equal((await deviceSteps(devs[0].socket)).length, 2, 'the device got one step (beside its factory 0)')
  })

  it('a stop while pvr-sdk has not answered the post waits for the answer: the install carries the step the device named', async t => {
    // The answer comes 2 s after the post (post=2000), before the device runs the step (pickup=4000).
    const { home, devs } = await setup(t, [null], ['--timing', 'post=2000,pickup=4000'])
    const ids = devs.map(d => d.http)
    const stopped = await interruptedRollout(t, home, ids, async () => {
      await waitJson<Array<{ name: string }>>(devs[0].socket, '/steps', s => s.length === 2)
    })
    assert.ok(stopped !== null)
    assert.deepEqual([stopped.devices[0].state, stopped.devices[0].outcome], ['running', 'STOPPED'])
    assert.deepEqual(stopped.summary, { devices: 1, succeeded: 0, failed: 0, skipped: 0, notStarted: 0, stopped: 1 })
    const named = (await deviceSteps(devs[0].socket)).find(x => x !== '0') ?? ''
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.step),
      [named],
      'recorded under the step the device named: a resume can follow it by name',
    )
    await waitJson<{ status: string }>(devs[0].socket, `/steps/${named}/progress`, p => p.status === 'DONE', 30_000)
    const r = await rollout(home, ['--devices', ids.join(','), '--parallel', '1'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(result(r).summary, { devices: 1, succeeded: 1, failed: 0, skipped: 0, notStarted: 0, stopped: 0 })
    assert.deepEqual(
      (await history(home, ids[0])).map(h => [h.status, h.step]),
      [['DONE', named]],
    )
  })

  it('a stop while the device is asked what it lacks (before anything is sent): NOT_STARTED, untouched, no STOPPED or REFUSED', async t => {
    // The device takes 1 s to answer each object offer (device-sim --timing offer=1000): the interrupt
    // lands in the install's preflight, once the rollout said the device started.
    const { home, devs } = await setup(t, [null], ['--timing', 'offer=1000'])
    const ids = devs.map(d => d.http)
    const stopped = await interruptedRollout(t, home, ids, async run => {
      await run.until(err => err.includes(`${ids[0]}: started`))
    })
    assert.ok(stopped !== null)
    assert.deepEqual([stopped.devices[0].state, stopped.devices[0].outcome], ['not-started', 'NOT_STARTED'], JSON.stringify(stopped.devices[0]))
    assert.deepEqual(stopped.summary, { devices: 1, succeeded: 0, failed: 0, skipped: 0, notStarted: 1, stopped: 0 })
    await untouched(devs[0])
    assert.deepEqual(
      (await history(home, ids[0])).map(h => h.status),
      ['NOT_STARTED'],
      'one history row, saying what happened: nothing was sent',
    )
    const r = await rollout(home, ['--devices', ids.join(','), '--parallel', '1'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(result(r).summary, { devices: 1, succeeded: 1, failed: 0, skipped: 0, notStarted: 0, stopped: 0 })
  })
})

describe('two processes on one rollout', () => {
  it('the same rollout run again while the first process runs it is refused (E_BUSY, naming that process) and touches nothing', async t => {
    const { home, devs } = await setup(t, [null], ['--timing', 'testing=4000'])
    const ids = devs.map(d => d.http)
    const args = ['--home', home, '--json', 'rollout', 'site-app', '--devices', ids.join(','), '--poll', '50']
    const first = startCli(t, args)
    await first.until(err => err.includes(`${ids[0]}:   TESTING`))
    const second = await rollout(home, ['--devices', ids.join(',')])
    assert.notEqual(second.code, 0)
    assert.equal((second.json() as { error: { code: string } }).error.code, 'E_BUSY', second.stdout)
    assert.match(second.stdout, new RegExp(`running in another Fieldsync process \\(pid ${String(first.pid)}\\)`))
    assert.equal((await first.exited).code, 0, first.stderr())
    assert.deepEqual((JSON.parse(first.stdout()) as Result).summary, { devices: 1, succeeded: 1, failed: 0, skipped: 0, notStarted: 0, stopped: 0 })
    assert.equal((await deviceSteps(devs[0].socket)).length, 2, 'one step: the second process sent nothing')
    assert.equal((await history(home, ids[0])).length, 1, 'one install in the history')
  })
})
