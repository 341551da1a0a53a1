/**
 * Unfinished rollouts in the core (rollout.unfinished, rollout.resume,
 * rollout.dismiss) on a real App: the rollouts a killed or closed app left
 * running or stopped in the library's database are listed (newest first, at
 * most five, finished ones not), Dismiss gives one up for good (not listed,
 * the same plan starts afresh), and Resume refuses a rollout whose device
 * was forgotten since, naming it and changing nothing.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ApiEvents } from '../../../shared/api/contract.js'
import type { UnfinishedRollout } from '../../../shared/api/fleet.js'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { ApiCore } from '../../../main/app/handlers/index.js'
import { App } from '../../../main/app/index.js'
import { processIdentity } from '../../../main/store/process-identity.js'
import { planKey, RolloutStore } from '../../../main/devices/rollout/index.js'
import type { RolloutTarget } from '../../../main/devices/rollout/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

interface Setup {
  core: ApiCore
  app: App
  rollouts: RolloutStore
  rev: string
  devices: string[]
}

async function startCore(t: TestContext): Promise<Setup> {
  const home = await tempDir(t, 'unfinished-')
  const app = new App({ home, log: silentLogger() })
  await app.start()
  const rev = (await app.importer.importPath(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), { name: 'pinger' })).id
  const core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
  await core.start()
  await core.enableDevices({ mdns: false })
  t.after(async () => {
    await core.stop()
    await app.stop()
  })
  // Three devices of the site that answer nothing (ports nobody listens on), added offline.
  const devices: string[] = []
  for (const port of [9, 19, 29]) devices.push((await call(core, 'devices.add', { address: `127.0.0.1:${port}`, offline: true })).deviceId)
  return { core, app, rollouts: new RolloutStore(app.library.db), rev, devices }
}

async function call(core: ApiCore, channel: string, req: unknown): Promise<any> {
  const env = await core.dispatch(channel, req)
  if (!env.ok) throw new Error(`${channel}: ${env.error.code} ${env.error.message}`)
  return env.value
}

async function refused(core: ApiCore, channel: string, req: unknown): Promise<{ code: string; details?: Record<string, unknown> }> {
  const env = await core.dispatch(channel, req)
  assert.equal(env.ok, false, `${channel} should be refused`)
  return env.ok ? { code: '' } : env.error
}

function targets(ids: string[], canary: string[] = []): RolloutTarget[] {
  return ids.map(deviceId => ({
    deviceId,
    label: deviceId,
    alias: null,
    tags: [],
    canary: canary.includes(deviceId),
    driver: () => {
      throw new Error('not driven here')
    },
  }))
}

/** A rollout as a killed process leaves it: stored with the plan key the engine computes, some rows already at their end. */
function leave(
  s: Setup,
  ids: string[],
  rows: Record<string, 'succeeded' | 'failed' | 'running' | 'not-started'>,
  state: 'running' | 'stopped',
  canary: string[] = [],
  maxFailures = 3,
): number {
  const ts = targets(ids, canary)
  const id = s.rollouts.create({
    planKey: planKey(s.rev, ts, false),
    revisionId: s.rev,
    revisionName: 'pinger',
    options: { parallel: 2, maxFailures, commit: false },
    devices: ts,
  })
  for (const [deviceId, st] of Object.entries(rows)) {
    if (st === 'running') s.rollouts.started(id, deviceId, null)
    else
      s.rollouts.finished(id, deviceId, {
        state: st,
        outcome: st.toUpperCase(),
        message: null,
        errorCode: null,
        installId: null,
        revisionAfter: null,
        bytesSent: 0,
      })
  }
  if (state === 'stopped') s.rollouts.end(id, 'stopped')
  return id
}

describe('unfinished rollouts in the app', { timeout: 60_000 }, () => {
  it('lists the rollouts left running or stopped with their counts and stored request, newest five first; finished ones are not listed', async t => {
    const s = await startCore(t)
    const [a, b, c] = s.devices
    const killed = leave(s, [a, b, c], { [a]: 'succeeded', [b]: 'running' }, 'running', [a])
    const finished = leave(s, [a], { [a]: 'succeeded' }, 'stopped')
    s.rollouts.end(finished, 'finished')
    const list = (await call(s.core, 'rollout.unfinished', {})) as UnfinishedRollout[]
    assert.deepEqual(
      list.map(r => r.rollout),
      [killed],
    )
    const [card] = list
    assert.equal(card.state, 'running')
    assert.deepEqual(card.revision, { id: s.rev, name: 'pinger' })
    assert.deepEqual(card.counts, { devices: 3, succeeded: 1, failed: 0, skipped: 0, notStarted: 0, stopped: 1, pending: 1 })
    assert.deepEqual(card.request, { rev: s.rev, devices: [a, b, c], canary: [a], parallel: 2, maxFailures: 3, commit: false })
    assert.equal(card.labels.length, 3)
    assert.equal(card.endedAt, null)
    assert.ok(card.startedAt > 0)
    // Seven more, stopped: the five newest are listed.
    const more: number[] = []
    for (let i = 0; i < 7; i++) more.push(leave(s, i % 2 === 0 ? [a, b] : [b, c], { [b]: 'failed' }, 'stopped'))
    const shown = ((await call(s.core, 'rollout.unfinished', {})) as UnfinishedRollout[]).map(r => r.rollout)
    assert.deepEqual(shown, more.slice(-5).reverse())
  })

  it('Dismiss gives a rollout up: not listed again, never resumed (the same plan starts afresh); dismissing it again is E_NOT_FOUND', async t => {
    const s = await startCore(t)
    const [a, b] = s.devices
    const gone = leave(s, [a, b], { [a]: 'succeeded' }, 'stopped')
    const kept = leave(s, [b], {}, 'running')
    assert.deepEqual(await call(s.core, 'rollout.dismiss', { rollout: gone }), { dismissed: gone })
    assert.deepEqual(
      ((await call(s.core, 'rollout.unfinished', {})) as UnfinishedRollout[]).map(r => r.rollout),
      [kept],
    )
    assert.equal(s.rollouts.resumable(planKey(s.rev, targets([a, b]), false)), undefined, 'the engine does not resume a dismissed rollout')
    assert.equal((await refused(s.core, 'rollout.dismiss', { rollout: gone })).code, ErrorCodes.NotFound)
    assert.equal((await refused(s.core, 'rollout.resume', { rollout: gone })).code, ErrorCodes.NotFound)
    assert.equal((await refused(s.core, 'rollout.dismiss', { rollout: 999 })).code, ErrorCodes.NotFound)
  })

  it('Resume refuses a rollout whose device was forgotten since, naming it, and changes nothing', async t => {
    const s = await startCore(t)
    const [a, b, c] = s.devices
    const id = leave(s, [a, b, c], { [a]: 'succeeded', [b]: 'running' }, 'running')
    const rowsBefore = JSON.stringify(s.rollouts.rows(id))
    assert.deepEqual(await call(s.core, 'devices.forget', { devices: [c] }), { forgotten: 1 })
    const err = await refused(s.core, 'rollout.resume', { rollout: id })
    assert.equal(err.code, ErrorCodes.NotFound)
    assert.deepEqual(err.details, { rollout: id, devices: [c] }, 'the error names the forgotten device')
    assert.equal(JSON.stringify(s.rollouts.rows(id)), rowsBefore, 'no row changed')
    assert.equal(await call(s.core, 'rollout.current', {}), null, 'nothing started')
    const [card] = (await call(s.core, 'rollout.unfinished', {})) as UnfinishedRollout[]
    assert.equal(card.rollout, id, 'still listed, as it was')
    assert.equal(card.state, 'running')
  })

  it('Resume runs the stored request again: the engine resumes the same rollout, which is then no longer listed as unfinished by its own window', async t => {
    const s = await startCore(t)
    const [a, b] = s.devices
    // One failure stops it: the window's view stands stopped, with its own Resume.
    const id = leave(s, [a, b], { [a]: 'succeeded' }, 'stopped', [], 1)
    const ended = new Promise<ApiEvents['rollout']>(resolve => {
      const off = s.core.events.onAny((e, p) => {
        const u = p as ApiEvents['rollout']
        if (e === 'rollout' && u.view !== undefined && (u.state === 'stopped' || u.state === 'finished' || u.state === 'failed')) {
          off()
          resolve(u)
        }
      })
    })
    const view = await call(s.core, 'rollout.resume', { rollout: id })
    assert.deepEqual(view.request, { rev: s.rev, devices: [a, b], canary: [], parallel: 2, maxFailures: 1, commit: false })
    assert.equal((await refused(s.core, 'rollout.resume', { rollout: id })).code, ErrorCodes.Busy, 'one rollout at a time per window')
    const end = await ended
    // The device that answers nothing fails; the one that had succeeded was skipped, as the same rollout resumed.
    assert.equal(end.state, 'stopped')
    assert.equal(end.view?.rollout, id)
    assert.equal(end.view?.resumed, true)
    assert.equal(end.view?.rows.find(r => r.deviceId === a)?.state, 'succeeded')
    assert.equal(end.view?.rows.find(r => r.deviceId === b)?.state, 'failed')
    assert.deepEqual(await call(s.core, 'rollout.unfinished', {}), [], "the rollout on this window's screen is not listed twice")
  })

  it('a rollout another live Fieldsync process runs is shown as such: Resume and Dismiss are refused (E_BUSY) until that process is gone', async t => {
    const s = await startCore(t)
    const [a, b] = s.devices
    const id = leave(s, [a, b], { [a]: 'running' }, 'running')
    // Another process runs it: its pid and start recorded as the engine records its own.
    const other = spawn('sleep', ['60'], { stdio: 'ignore' })
    t.after(() => other.kill('SIGKILL'))
    await once(other, 'spawn')
    const pid = other.pid ?? 0
    s.app.library.db.prepare('UPDATE rollouts SET owner_pid = ?, owner_start = ? WHERE id = ?').run(pid, processIdentity(pid), id)
    const [card] = (await call(s.core, 'rollout.unfinished', {})) as UnfinishedRollout[]
    assert.equal(card.rollout, id)
    assert.equal(card.runningIn, pid)
    const r1 = await refused(s.core, 'rollout.resume', { rollout: id })
    assert.equal(r1.code, ErrorCodes.Busy)
    const r2 = await refused(s.core, 'rollout.dismiss', { rollout: id })
    assert.equal(r2.code, ErrorCodes.Busy)
    assert.deepEqual(
      s.rollouts.rows(id).map(r => r.state),
      ['running', 'pending'],
      'nothing changed',
    )
    // That process is gone (a crash): the rollout is cut off, and may be dismissed or resumed.
    other.kill('SIGKILL')
    await once(other, 'exit')
    const [after] = (await call(s.core, 'rollout.unfinished', {})) as UnfinishedRollout[]
    assert.equal(after.runningIn, null)
    assert.deepEqual(await call(s.core, 'rollout.dismiss', { rollout: id }), { dismissed: id })
  })
})
