/**
 * Rollout: one revision onto many devices through the single-device
 * Installer. The canary devices first, each to a final state; only when all
 * of them succeeded, the rest, K at a time. Once F devices have failed no
 * further device is started (those in flight finish); devices never started
 * are reported NOT_STARTED and never written to. Each device's part is
 * persisted as it goes (RolloutStore): the same rollout run again, after a
 * kill -9 or a stop, skips the devices that finished and resumes the rest
 * (the Installer sends nothing a device already has). Every device's
 * outcome lands in its install history, NOT_STARTED and SKIPPED included.
 */
import { createHash } from 'node:crypto'
import { IncompleteRevisionError, TimeoutError, toWireError, UsageError } from '../../../shared/errors.js'
import { installSucceeded, type InstallResult } from '../../../shared/api/types.js'
import type { RolloutSummary } from '../../../shared/api/fleet.js'
import type { Logger } from '../../../shared/log.js'
import type { Library } from '../../store/library.js'
import { applyPolicy, signatureSummary, type PolicyCheck, type TrustSource } from '../../trust/index.js'
import { followProgress, sleep, transient } from '../follow.js'
import type { InstallEvent, Installer } from '../install.js'
import type { DeviceStore } from '../store.js'
import { planDevice, type DevicePlan, type RolloutTarget } from './plan.js'
import { SharedReads, type SharedReadStats } from './shared-reads.js'
import type { RolloutDeviceRow, RolloutDeviceState, RolloutStore } from './store.js'

export interface RolloutRequest {
  rev: string
  targets: RolloutTarget[]
  /** Devices installed at once (K). */
  parallel: number
  /** Stop starting devices once this many failed (F; default 1). */
  maxFailures: number
  commit: boolean
  dryRun: boolean
  timeoutMs?: number
  pollMs?: number
  signal: AbortSignal
  onEvent?: (e: RolloutEvent) => void
}

export type RolloutEvent =
  | { type: 'plan'; plan: DevicePlan }
  | { type: 'wave'; wave: 'canary' | 'rest'; devices: number }
  | { type: 'device'; deviceId: string; label: string; state: RolloutDeviceState; outcome: string | null; message: string | null; earlier?: boolean }
  | { type: 'install'; deviceId: string; label: string; event: InstallEvent }
  | { type: 'stop'; reason: string }

export interface RolloutReportRow {
  device: string
  name: string
  alias: string | null
  tags: string[]
  canary: boolean
  state: RolloutDeviceState
  outcome: string | null
  message: string | null
  errorCode: string | null
  revisionBefore: string | null
  revisionAfter: string | null
  bytesSent: number
  seconds: number | null
  /** The upload's own part of `seconds`, for a device this run sent objects to (absent otherwise). */
  uploadSeconds?: number
  installId: number | null
}

export interface RolloutResult {
  rollout: number | null
  resumed: boolean
  revision: { id: string; name: string }
  signature: string
  dryRun: boolean
  /** Why devices were left not started, or null when every device was tried. */
  stopped: string | null
  summary: RolloutSummary
  plans?: DevicePlan[]
  devices: RolloutReportRow[]
  /** What the waves read from the library beside what they sent (shared reads: about one read per object per wave). */
  reads?: SharedReadStats
}

/** How one device's part ended in this run (see Rollout.device). */
type DeviceEnd = 'ok' | 'failed' | 'stopped'

/** The outcome and message of a device the rollout was stopped while it ran (its row stays running). */
const CUT_OUTCOME = 'STOPPED'
const CUT_MESSAGE = 'the rollout was stopped while this device ran its update; the device goes on with it: resume the rollout to follow it to its end'

/** How long a resumed rollout follows a cut-off device's step (through its reboot) when no --timeout is given. */
const FOLLOW_CUT_MS = 10 * 60_000

/** Run `fn` over `items`, `k` at a time, taking no new item once `stop()` says so. */
async function pool<T>(items: T[], k: number, fn: (t: T) => Promise<void>, stop: () => boolean): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (!stop() && next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(k, items.length)) }, worker))
}

/** The same revision, devices, canaries and --commit are the same rollout: a rerun resumes it. */
export function planKey(revId: string, targets: RolloutTarget[], commit: boolean): string {
  const ids = targets.map(t => t.deviceId).sort()
  const canary = targets
    .filter(t => t.canary)
    .map(t => t.deviceId)
    .sort()
  return createHash('sha256').update(JSON.stringify({ revId, ids, canary, commit })).digest('hex')
}

export class Rollout {
  private readonly log: Logger

  constructor(
    private readonly components: {
      library: Library
      devices: DeviceStore
      rollouts: RolloutStore
      installer: Installer
      log: Logger
      trust?: TrustSource
      /** The policy check and the signature line, where they run off this thread (the app): else here, against `trust`. */
      policy?: PolicyCheck
      signature?: (id: string) => Promise<string>
    },
  ) {
    this.log = components.log.child('rollout')
  }

  async run(req: RolloutRequest): Promise<RolloutResult> {
    if (req.targets.length === 0) throw new UsageError('rollout: no devices selected')
    if (!Number.isInteger(req.parallel) || req.parallel < 1) throw new UsageError(`--parallel ${req.parallel}: a whole number of devices, 1 or more`)
    if (!Number.isInteger(req.maxFailures) || req.maxFailures < 1) throw new UsageError(`--max-failures ${req.maxFailures}: a whole number, 1 or more`)
    const info = this.components.library.resolve(req.rev)
    if (!info.complete)
      throw new IncompleteRevisionError(`${info.name}: ${info.missing} of its objects are not in the library; import or pull them before a rollout`, {
        id: info.id,
        missing: info.missing,
      })
    const raw = this.components.library.state(info.id).raw
    const signature =
      this.components.signature !== undefined
        ? await this.components.signature(info.id)
        : this.components.trust === undefined
          ? 'not checked'
          : signatureSummary(raw, this.components.trust)
    const revision = { id: info.id, name: info.name }
    // The library's policy refuses the revision for every device alike: before any is asked (a dry run says so in its plan).
    if (!req.dryRun) await applyPolicy(raw, this.components)
    if (req.dryRun) return await this.dryRun(req, revision, signature, raw)

    const key = planKey(info.id, req.targets, req.commit)
    const rs = this.components.rollouts
    let id = rs.resumable(key)
    const resumed = id !== undefined
    // Devices cut off mid-install (a kill -9, a stop): their install, to follow before anything is sent again.
    const cutOff = new Map<string, number>()
    if (id !== undefined) {
      for (const r of rs.rows(id)) if (r.state === 'running' && r.installId !== null) cutOff.set(r.deviceId, r.installId)
      rs.reopen(id)
    } else
      id = rs.create({
        planKey: key,
        revisionId: info.id,
        revisionName: info.name,
        options: { parallel: req.parallel, maxFailures: req.maxFailures, commit: req.commit },
        devices: req.targets,
      })
    const rid = id
    this.log('rollout %d of %s to %d devices (%s)', rid, info.name, req.targets.length, resumed ? 'resumed' : 'new')
    const byId = new Map(rs.rows(rid).map(r => [r.deviceId, r]))
    for (const t of req.targets) {
      const r = byId.get(t.deviceId)
      if (r !== undefined && r.state !== 'pending')
        req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state: r.state, outcome: r.outcome, message: r.message, earlier: true })
    }
    const todo = req.targets.filter(t => byId.get(t.deviceId)?.state === 'pending')
    let failures = 0
    let stopped: string | null = null
    const stop = (why: string): void => {
      if (stopped !== null) return
      stopped = why
      req.onEvent?.({ type: 'stop', reason: why })
    }
    const reads: SharedReadStats = { libraryBytes: 0, servedBytes: 0, ownReads: 0 }
    const uploads = new Map<string, number>()
    let wave: SharedReads | null = null
    const runWave = async (targets: RolloutTarget[]): Promise<void> => {
      wave = new SharedReads((sha, start, signal) => this.components.library.objects.read(sha, { start, signal }))
      try {
        await pool(targets, req.parallel, one, isStopped)
      } finally {
        for (const k of ['libraryBytes', 'servedBytes', 'ownReads'] as const) reads[k] += wave.stats[k]
        wave = null
      }
    }
    const one = async (t: RolloutTarget): Promise<void> => {
      const end = await this.device(rid, info.id, info.name, t, req, wave, cutOff.get(t.deviceId), uploads)
      if (end !== 'failed') return
      failures++
      if (t.canary) stop(`canary ${t.label} failed: the other devices were not started`)
      else if (failures >= req.maxFailures)
        stop(`${failures} device(s) failed (--max-failures ${req.maxFailures}): the devices not yet started were not started`)
    }
    const isStopped = (): boolean => stopped !== null || req.signal.aborted
    const canaries = todo.filter(t => t.canary)
    if (canaries.length > 0) {
      req.onEvent?.({ type: 'wave', wave: 'canary', devices: canaries.length })
      await runWave(canaries)
    }
    const earlierCanary = req.targets.find(t => t.canary && rs.rows(rid).find(r => r.deviceId === t.deviceId)?.state === 'failed')
    if (earlierCanary !== undefined) stop(`canary ${earlierCanary.label} failed: the other devices were not started`)
    const rest = todo.filter(t => !t.canary)
    if (!isStopped() && rest.length > 0) {
      req.onEvent?.({ type: 'wave', wave: 'rest', devices: rest.length })
      await runWave(rest)
    }
    if (req.signal.aborted) stop('interrupted')
    for (const r of rs.rows(rid)) {
      if (r.state !== 'pending') continue
      const t = req.targets.find(x => x.deviceId === r.deviceId)
      if (t !== undefined) this.notStarted(rid, info.id, info.name, t, stopped ?? 'stopped', req)
    }
    const rows = rs.rows(rid)
    rs.end(rid, rows.every(r => r.state === 'succeeded' || r.state === 'skipped') ? 'finished' : 'stopped')
    return {
      rollout: rid,
      resumed,
      revision,
      signature,
      dryRun: false,
      stopped,
      summary: summarize(rows),
      devices: reportRows(rows, req.targets, uploads),
      reads,
    }
  }

  private async dryRun(req: RolloutRequest, revision: { id: string; name: string }, signature: string, raw: Uint8Array): Promise<RolloutResult> {
    let refused: string | null = null
    try {
      await applyPolicy(raw, this.components)
    } catch (err) {
      refused = toWireError(err).message
    }
    const plans: DevicePlan[] = []
    await pool(
      req.targets,
      req.parallel,
      async t => {
        const p = await planDevice(this.components.installer, revision.id, t, req.signal)
        if (refused !== null) p.problems.push(refused)
        plans.push(p)
        req.onEvent?.({ type: 'plan', plan: p })
      },
      () => req.signal.aborted,
    )
    const order = new Map(req.targets.map((t, i) => [t.deviceId, i]))
    plans.sort((a, b) => (order.get(a.deviceId) ?? 0) - (order.get(b.deviceId) ?? 0))
    const rows: RolloutDeviceRow[] = plans.map((p, i) => ({
      deviceId: p.deviceId,
      position: i,
      canary: p.canary,
      state: p.alreadyRuns === true ? 'skipped' : 'pending',
      outcome: p.alreadyRuns === true ? 'ALREADY_RUNS' : p.error === null ? 'PLANNED' : 'UNREACHABLE',
      message: p.error?.message ?? (p.problems.join('; ') || null),
      errorCode: p.error?.code ?? null,
      installId: null,
      revisionBefore: p.revisionBefore,
      revisionAfter: null,
      bytesSent: 0,
      startedAt: null,
      endedAt: null,
    }))
    return {
      rollout: null,
      resumed: false,
      revision,
      signature: refused === null ? signature : `REFUSED: ${refused}`,
      dryRun: true,
      stopped: null,
      summary: summarize(rows),
      plans,
      devices: reportRows(rows, req.targets),
    }
  }

  /**
   * One device, to its end: 'ok' when it succeeded or already ran the
   * revision; 'stopped' when the rollout was stopped before the device was
   * asked for anything (its row stays pending: not started) or while it ran
   * (its row stays running, cut off: a resume follows its step).
   */
  private async device(
    rid: number,
    revId: string,
    revName: string,
    t: RolloutTarget,
    req: RolloutRequest,
    wave: SharedReads | null,
    cutInstall: number | undefined,
    uploads: Map<string, number>,
  ): Promise<DeviceEnd> {
    const rs = this.components.rollouts
    if (cutInstall !== undefined) {
      const followed = await this.followCut(rid, t, req, cutInstall)
      if (followed !== null) return followed
    }
    const plan = await planDevice(this.components.installer, revId, t, req.signal)
    // Stopped while planning: the device was only read from, never written to; it is not started.
    if (req.signal.aborted) return 'stopped'
    if (cutInstall !== undefined && plan.alreadyRuns === true && plan.revisionBefore !== null) {
      // The device runs the revision under a step it named itself (pvr-sdk's post names the step;
      // the stop or the kill came before its answer): the cut-off install took effect. Follow that
      // step as the install's, so that the device counts as installed here, not as "already ran it".
      this.components.devices.renameInstallStep(cutInstall, plan.revisionBefore)
      const followed = await this.followCut(rid, t, req, cutInstall)
      if (followed !== null) return followed
    }
    req.onEvent?.({ type: 'plan', plan })
    if (plan.alreadyRuns === true) {
      const installId = this.record(t, revId, revName, 'SKIPPED', `already runs ${revName}`, null)
      rs.finished(rid, t.deviceId, {
        state: 'skipped',
        outcome: 'ALREADY_RUNS',
        message: `already runs ${revName}`,
        errorCode: null,
        installId,
        revisionBefore: plan.revisionBefore,
        revisionAfter: plan.revisionBefore,
        bytesSent: 0,
      })
      req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state: 'skipped', outcome: 'ALREADY_RUNS', message: `already runs ${revName}` })
      return 'ok'
    }
    rs.started(rid, t.deviceId, plan.revisionBefore)
    req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state: 'running', outcome: null, message: null })
    let installId: number | null = null
    let state: RolloutDeviceState
    let outcome: string
    let message: string | null
    let errorCode: string | null = null
    let bytesSent = 0
    let after: string | null = plan.revisionBefore
    try {
      const res = (await this.components.installer.install({
        rev: revId,
        driver: t.driver(),
        deviceId: t.deviceId,
        commit: req.commit,
        timeoutMs: req.timeoutMs,
        pollMs: req.pollMs,
        signal: req.signal,
        onEvent: event => {
          req.onEvent?.({ type: 'install', deviceId: t.deviceId, label: t.label, event })
        },
        onRecorded: iid => {
          installId = iid
          rs.linkInstall(rid, t.deviceId, iid)
        },
        objectSource: wave === null ? undefined : (sha, signal) => wave.read(sha, signal),
      })) as InstallResult
      const ok = installSucceeded(res.status)
      state = ok ? 'succeeded' : 'failed'
      outcome = res.status
      message = res.statusMsg
      bytesSent = res.bytesSent
      if (res.bytesSent > 0) uploads.set(t.deviceId, res.uploadSeconds)
      if (ok) after = res.step
    } catch (err) {
      if (req.signal.aborted) {
        // Stopped in the install's preflight (the device was only asked what it lacks; the Installer
        // recorded a refusal): nothing was written to it, so it is not started, as if never reached.
        if (installId === null || this.components.devices.install(installId)?.status === 'REFUSED') {
          this.notStarted(rid, revId, revName, t, 'the rollout was stopped before anything was sent to this device', req, installId)
          return 'stopped'
        }
        // Stopped while this device ran: the device goes on with its step without us. The row stays
        // running (cut off, as after a kill -9): a resume follows that step to its end, nothing resent.
        this.cutOff(rid, t, req)
        return 'stopped'
      }
      const w = toWireError(err)
      const d = (err as { details?: { step?: string; bytesSent?: number } }).details
      state = 'failed'
      outcome = err instanceof TimeoutError ? 'TIMEOUT' : d?.step === undefined ? 'REFUSED' : 'FAILED'
      message = w.message
      errorCode = w.code
      bytesSent = d?.bytesSent ?? 0
      // A device that never answered was not recorded by the Installer: its outcome goes in the history here.
      if (installId === null) installId = this.record(t, revId, revName, outcome, message, errorCode)
    }
    rs.finished(rid, t.deviceId, { state, outcome, message, errorCode, installId, revisionAfter: after, bytesSent })
    req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state, outcome, message })
    return state === 'succeeded' ? 'ok' : 'failed'
  }

  /** A device the rollout stopped following while it ran: its row says so and stays running, for a resume to follow. */
  private cutOff(rid: number, t: RolloutTarget, req: RolloutRequest): void {
    this.components.rollouts.cut(rid, t.deviceId, CUT_OUTCOME, CUT_MESSAGE)
    req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state: 'running', outcome: CUT_OUTCOME, message: CUT_MESSAGE })
  }

  /**
   * A device whose install a killed rollout left running: the device goes on
   * with the step without us (and may be rebooting). Follow that step to its
   * end, through the reboot, instead of starting again; null when the device
   * never got the step (the kill came before it), so the install starts anew.
   */
  private async followCut(rid: number, t: RolloutTarget, req: RolloutRequest, installId: number): Promise<DeviceEnd | null> {
    const row = this.components.devices.install(installId)
    if (row?.step == null) return null
    const step = row.step
    const driver = t.driver()
    const deadline = Date.now() + (req.timeoutMs ?? FOLLOW_CUT_MS)
    let p
    try {
      // It may be rebooting: wait for it to answer again, then ask for the step.
      for (;;) {
        try {
          await driver.open(req.signal)
          break
        } catch (err) {
          if (!transient(err) || Date.now() >= deadline) throw err
          await sleep(req.pollMs ?? 1000, req.signal)
        }
      }
      try {
        p = await driver.progress(step, req.signal).catch((err: unknown) => {
          if (transient(err)) return undefined
          throw err
        })
        // A device that does not know the step (the kill came before it was sent) answers null.
        if (p === null) return null
        p = await followProgress(driver, step, { signal: req.signal, deadline, pollMs: req.pollMs ?? 1000 })
      } finally {
        await driver.close()
      }
    } catch (err) {
      if (req.signal.aborted) {
        this.cutOff(rid, t, req)
        return 'stopped'
      }
      this.log('%s: could not follow cut-off step %s (%s): installing again', t.label, step, (err as Error).message)
      return null
    }
    const ok = installSucceeded(p.status)
    const message = `followed after the rollout resumed: ${p.status}${p.statusMsg === '' ? '' : ` (${p.statusMsg})`}`
    this.components.devices.endInstall(installId, {
      status: p.status,
      statusMsg: message,
      errorCode: null,
      bytesSent: row.bytesSent,
      objectsSent: row.objectsSent,
    })
    this.components.rollouts.finished(rid, t.deviceId, {
      state: ok ? 'succeeded' : 'failed',
      outcome: p.status,
      message,
      errorCode: null,
      installId,
      revisionAfter: ok ? step : null,
      bytesSent: row.bytesSent,
    })
    req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state: ok ? 'succeeded' : 'failed', outcome: p.status, message })
    return ok ? 'ok' : 'failed'
  }

  /** A device left untouched; `recorded`: the history row the Installer already made of it (its refusal), said again as NOT_STARTED. */
  private notStarted(rid: number, revId: string, revName: string, t: RolloutTarget, why: string, req: RolloutRequest, recorded: number | null = null): void {
    const message = `not started: ${why}`
    let installId: number
    if (recorded === null) installId = this.record(t, revId, revName, 'NOT_STARTED', message, null)
    else {
      installId = recorded
      this.components.devices.endInstall(installId, { status: 'NOT_STARTED', statusMsg: message, errorCode: null, bytesSent: 0, objectsSent: 0 })
    }
    this.components.rollouts.finished(rid, t.deviceId, {
      state: 'not-started',
      outcome: 'NOT_STARTED',
      message,
      errorCode: null,
      installId,
      revisionAfter: null,
      bytesSent: 0,
    })
    req.onEvent?.({ type: 'device', deviceId: t.deviceId, label: t.label, state: 'not-started', outcome: 'NOT_STARTED', message })
  }

  /** A history row for an outcome the Installer did not record (skipped, not started, unreachable). */
  private record(t: RolloutTarget, revId: string, revName: string, status: string, msg: string, code: string | null): number {
    const d = t.driver()
    const id = this.components.devices.startInstall({
      deviceId: t.deviceId,
      address: d.target,
      via: d.via,
      revisionId: revId,
      revisionName: revName,
      step: null,
    })
    this.components.devices.endInstall(id, { status, statusMsg: msg, errorCode: code, bytesSent: 0, objectsSent: 0 })
    return id
  }
}

function summarize(rows: RolloutDeviceRow[]): RolloutResult['summary'] {
  const n = (s: RolloutDeviceState): number => rows.filter(r => r.state === s).length
  return { devices: rows.length, succeeded: n('succeeded'), failed: n('failed'), skipped: n('skipped'), notStarted: n('not-started'), stopped: n('running') }
}

function reportRows(rows: RolloutDeviceRow[], targets: RolloutTarget[], uploads?: Map<string, number>): RolloutReportRow[] {
  const byId = new Map(targets.map(t => [t.deviceId, t]))
  return rows.map(r => {
    const t = byId.get(r.deviceId)
    return {
      device: r.deviceId,
      name: t?.label ?? r.deviceId,
      alias: t?.alias ?? null,
      tags: t?.tags ?? [],
      canary: r.canary,
      state: r.state,
      outcome: r.outcome,
      message: r.message,
      errorCode: r.errorCode,
      revisionBefore: r.revisionBefore,
      revisionAfter: r.revisionAfter,
      bytesSent: r.bytesSent,
      seconds: r.startedAt !== null && r.endedAt !== null ? Math.round((r.endedAt - r.startedAt) / 100) / 10 : null,
      ...(uploads?.has(r.deviceId) === true ? { uploadSeconds: uploads.get(r.deviceId) } : {}),
      installId: r.installId,
    }
  })
}
