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
import { IncompleteRevisionError, toWireError, UsageError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { Library } from '../../store/library.js'
import { applyPolicy, signatureSummary, type PolicyCheck, type TrustSource } from '../../trust/index.js'
import type { Installer } from '../install.js'
import type { DeviceStore } from '../store.js'
import { DevicePart } from './device-part.js'
import { planDevice, type DevicePlan, type RolloutTarget } from './plan.js'
import { SharedReads, type SharedReadStats } from './shared-reads.js'
import type { RolloutDeviceRow, RolloutDeviceState, RolloutStore } from './store.js'
import type { RolloutReportRow, RolloutRequest, RolloutResult } from './types.js'

export type { RolloutEvent, RolloutReportRow, RolloutRequest, RolloutResult } from './types.js'

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
  private readonly part: DevicePart

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
    this.part = new DevicePart(components)
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
      const end = await this.part.run(rid, info.id, info.name, t, req, wave, cutOff.get(t.deviceId), uploads)
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
    if (req.signal.aborted) stop(abortWhy(req.signal))
    for (const r of rs.rows(rid)) {
      if (r.state !== 'pending') continue
      const t = req.targets.find(x => x.deviceId === r.deviceId)
      if (t !== undefined) this.part.notStarted(rid, info.id, info.name, t, stopped ?? 'stopped', req)
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
}

/** Why the rollout was aborted, in words: the reason its caller gave (the app's Stop, Ctrl+C), else "interrupted". */
function abortWhy(signal: AbortSignal): string {
  const r: unknown = signal.reason
  return r instanceof Error && r.name !== 'AbortError' && r.message !== '' ? r.message : 'interrupted'
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
