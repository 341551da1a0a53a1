/**
 * One device's part in a rollout (runner.ts runs the waves): plan it, skip it
 * when it already runs the revision, install it through the Installer, and
 * say how it ended in the rollout's row and the device's history. A device
 * the rollout stopped following while it ran (a stop, a kill -9) is followed
 * to its end by a resumed rollout, not installed again.
 */
import { TimeoutError, toWireError } from '../../../shared/errors.js'
import { installSucceeded, type InstallResult } from '../../../shared/api/types.js'
import type { Logger } from '../../../shared/log.js'
import { followProgress, sleep, transient } from '../follow.js'
import type { Installer } from '../install.js'
import type { DeviceStore } from '../store.js'
import { planDevice, type RolloutTarget } from './plan.js'
import type { SharedReads } from './shared-reads.js'
import type { RolloutDeviceState, RolloutStore } from './store.js'
import type { RolloutRequest } from './types.js'

export /** How one device's part ended in this run (see DevicePart.run). */
type DeviceEnd = 'ok' | 'failed' | 'stopped'

/** The outcome and message of a device the rollout was stopped while it ran (its row stays running). */
const CUT_OUTCOME = 'STOPPED'
const CUT_MESSAGE = 'the device goes on with its update: resume the rollout to follow it to its end'

/** How long a resumed rollout follows a cut-off device's step (through its reboot) when no --timeout is given. */
const FOLLOW_CUT_MS = 10 * 60_000

export class DevicePart {
  private readonly log: Logger

  constructor(private readonly components: { devices: DeviceStore; rollouts: RolloutStore; installer: Installer; log: Logger }) {
    this.log = components.log.child('rollout')
  }

  /**
   * One device, to its end: 'ok' when it succeeded or already ran the
   * revision; 'stopped' when the rollout was stopped before the device was
   * asked for anything (its row stays pending: not started) or while it ran
   * (its row stays running, cut off: a resume follows its step).
   */
  async run(
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
        this.cutOff(rid, t, req, installId)
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

  /**
   * A device the rollout stopped following while it ran: its row says so (and what was sent) and
   * stays running, for a resume to follow; its history row says STOPPED (not the Installer's
   * "cancelled" failure: the device goes on with the update) until a resume records how it ended.
   */
  private cutOff(rid: number, t: RolloutTarget, req: RolloutRequest, installId: number): void {
    const row = this.components.devices.install(installId)
    const sent = { bytesSent: row?.bytesSent ?? 0, objectsSent: row?.objectsSent ?? 0 }
    this.components.devices.endInstall(installId, { status: CUT_OUTCOME, statusMsg: CUT_MESSAGE, errorCode: null, ...sent })
    this.components.rollouts.cut(rid, t.deviceId, CUT_OUTCOME, CUT_MESSAGE, sent.bytesSent)
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
        this.cutOff(rid, t, req, installId)
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
  notStarted(rid: number, revId: string, revName: string, t: RolloutTarget, why: string, req: RolloutRequest, recorded: number | null = null): void {
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
