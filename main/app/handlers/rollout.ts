/**
 * rollout.*: the rollout engine (main/devices/rollout) behind the UI. One
 * run at a time per window: a plan (the engine's dry run), then a start
 * that runs in the background and reports each device's row as 'rollout'
 * events; stop aborts it (devices not started stay untouched); a start of
 * the same revision, devices and canaries resumes it, as the CLI does.
 * Rollouts left unfinished by an earlier process (killed, closed) or stopped
 * are listed from the database to resume with their stored request, or
 * dismissed (rollout-unfinished.ts).
 */
import { randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Req } from '../../../shared/api/contract.js'
import type { ReportKind, RolloutRowView, RolloutView, UnfinishedRollout } from '../../../shared/api/fleet.js'
import { BusyError, NotAvailableError, NotFoundError, toWireError, UsageError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { deviceLabel, DeviceStore, Installer } from '../../devices/index.js'
import { planKey, Rollout, RolloutStore, writeReport, type RolloutEvent, type RolloutResult, type RolloutTarget } from '../../devices/rollout/index.js'
import type { App } from '../index.js'
import type { CompositionJudge, PolicyCheck } from '../../trust/index.js'
import type { HandlerMap } from './context.js'
import type { DeviceService } from './devices.js'
import type { ApiEventBus } from './events.js'
import { checkedResume, dismissRollout, listUnfinished } from './rollout-unfinished.js'

type RolloutHandlers = Pick<
  HandlerMap,
  'rollout.plan' | 'rollout.start' | 'rollout.stop' | 'rollout.current' | 'rollout.report' | 'rollout.unfinished' | 'rollout.resume' | 'rollout.dismiss'
>
type StartReq = Req<'rollout.start'>

/** Upload progress is sent at most this often per device. */
const UPLOAD_EVENT_MS = 250

interface Run {
  view: RolloutView
  ac: AbortController
  result: RolloutResult | null
  done: Promise<void>
  lastUpload: Map<string, number>
  /** The stored rollout's plan key (RolloutStore): a start's, null for a plan. */
  planKey: string | null
}

export class RolloutService {
  private run: Run | undefined
  private readonly log: Logger

  constructor(
    private readonly components: {
      app: App
      events: ApiEventBus
      log: Logger
      devices: () => DeviceService | undefined
      /** Signature work off the API thread (the signature worker): the policy check and the one-line verdict. */
      policy: PolicyCheck
      judge: CompositionJudge
      signature: (id: string) => Promise<string>
    },
  ) {
    this.log = components.log.child('rollout')
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.run?.ac.abort()
    await this.run?.done
  }

  current(): RolloutView | null {
    return this.run?.view ?? null
  }

  private svc(): DeviceService {
    const s = this.components.devices()
    if (s === undefined) throw new NotAvailableError('devices are not available in this window (start it with `fieldsync ui`, or the desktop app)')
    return s
  }

  private busy(): void {
    const st = this.run?.view.state
    if (st === 'running' || st === 'stopping' || st === 'planning') throw new BusyError('a rollout is under way in this window: stop it, or wait for it to end')
  }

  private targets(devices: string[], canary: string[]): RolloutTarget[] {
    const s = this.svc()
    const chosen = devices.map(ref => s.resolve(ref))
    const canaryIds = new Set(canary.map(ref => s.resolve(ref).deviceId))
    const outside = [...canaryIds].filter(id => !chosen.some(d => d.deviceId === id))
    if (outside.length > 0) throw new UsageError(`canary: ${outside.join(', ')} not among the devices of the rollout`)
    const seen = new Set<string>()
    return chosen
      .filter(r => !seen.has(r.deviceId) && seen.add(r.deviceId) !== undefined)
      .map(res => ({
        deviceId: res.deviceId,
        label: res.record === undefined ? res.deviceId : deviceLabel(res.record),
        alias: res.record?.alias ?? null,
        tags: res.record?.tags ?? [],
        canary: canaryIds.has(res.deviceId),
        driver: () => s.driver(res, undefined),
      }))
  }

  private engine(): Rollout {
    const app = this.components.app
    const store = new DeviceStore(app.library.db)
    const { policy, judge, signature } = this.components
    const installer = new Installer({ library: app.library, devices: store, log: this.log, trust: app.trust, policy, judge })
    return new Rollout({
      library: app.library,
      devices: store,
      rollouts: new RolloutStore(app.library.db),
      installer,
      log: this.log,
      trust: app.trust,
      policy,
      signature,
    })
  }

  private begin(req: StartReq, dryRun: boolean): { run: Run; targets: RolloutTarget[] } {
    this.busy()
    const targets = this.targets(req.devices, req.canary ?? [])
    const info = this.components.app.library.resolve(req.rev)
    // In the order the engine takes them: the canary wave first, then the rest as chosen.
    const rows: RolloutRowView[] = [...targets.filter(t => t.canary), ...targets.filter(t => !t.canary)].map(t => ({
      deviceId: t.deviceId,
      label: t.label,
      canary: t.canary,
      state: 'pending',
      outcome: null,
      message: null,
      progress: null,
      bytesSent: 0,
      bytesToSend: null,
      fits: null,
      alreadyRuns: null,
      revisionBefore: null,
      problems: [],
    }))
    const view: RolloutView = {
      id: randomBytes(8).toString('hex'),
      rollout: null,
      resumed: false,
      revision: { id: info.id, name: info.name },
      signature: '',
      state: dryRun ? 'planning' : 'running',
      request: {
        rev: info.id,
        devices: targets.map(t => t.deviceId),
        canary: targets.filter(t => t.canary).map(t => t.deviceId),
        parallel: req.parallel,
        maxFailures: req.maxFailures,
        commit: req.commit === true,
      },
      stopped: null,
      error: null,
      summary: null,
      rows,
    }
    const key = dryRun ? null : planKey(info.id, targets, req.commit === true)
    const run: Run = { view, ac: new AbortController(), result: null, done: Promise.resolve(), lastUpload: new Map(), planKey: key }
    this.run = run
    return { run, targets }
  }

  private emitState(run: Run): void {
    this.components.events.emit('rollout', { id: run.view.id, state: run.view.state, stopped: run.view.stopped, view: run.view })
  }

  private patch(run: Run, deviceId: string, p: Partial<RolloutRowView>): void {
    const i = run.view.rows.findIndex(r => r.deviceId === deviceId)
    if (i < 0) return
    const row = { ...run.view.rows[i], ...p }
    run.view.rows[i] = row
    this.components.events.emit('rollout', { id: run.view.id, state: run.view.state, stopped: run.view.stopped, row })
  }

  private onEvent(run: Run): (e: RolloutEvent) => void {
    return e => {
      if (e.type === 'plan') {
        const p = e.plan
        this.patch(run, p.deviceId, {
          bytesToSend: p.bytesToSend,
          fits: p.fits,
          alreadyRuns: p.alreadyRuns,
          revisionBefore: p.revisionBefore,
          problems: p.error === null ? p.problems : [`${p.error.code}: ${p.error.message}`, ...p.problems],
          ...(run.view.state === 'planning' ? { state: 'planned' as const } : {}),
        })
      } else if (e.type === 'device') {
        this.patch(run, e.deviceId, {
          state: e.state,
          outcome: e.outcome,
          message: e.message,
          // A device starting afresh (a cut-off one, STOPPED, keeps what it had sent).
          ...(e.state === 'running' && e.outcome === null ? { progress: null, bytesSent: 0 } : {}),
        })
      } else if (e.type === 'install') {
        const ev = e.event
        if (ev.type === 'upload') {
          const now = Date.now()
          if (now - (run.lastUpload.get(e.deviceId) ?? 0) < UPLOAD_EVENT_MS && ev.bytes < ev.totalBytes) return
          run.lastUpload.set(e.deviceId, now)
          this.patch(run, e.deviceId, { bytesSent: ev.bytes, bytesToSend: ev.totalBytes, message: `sending ${ev.index + 1} of ${ev.count} objects` })
        } else if (ev.type === 'progress') this.patch(run, e.deviceId, { progress: ev.progress, message: `${ev.status}: ${ev.statusMsg}` })
        else if (ev.type === 'phase') this.patch(run, e.deviceId, { message: ev.message })
      } else if (e.type === 'stop') {
        run.view.stopped = e.reason
        this.emitState(run)
      }
    }
  }

  private finish(run: Run, res: RolloutResult, state: RolloutView['state']): void {
    run.result = res
    const v = run.view
    Object.assign(v, { rollout: res.rollout, resumed: res.resumed, signature: res.signature, stopped: res.stopped, summary: res.summary, state })
    for (const d of res.devices) {
      const i = v.rows.findIndex(r => r.deviceId === d.device)
      if (i >= 0)
        v.rows[i] = {
          ...v.rows[i],
          state: res.dryRun ? (d.state === 'skipped' ? 'skipped' : 'planned') : d.state,
          outcome: d.outcome,
          message: d.message,
          bytesSent: d.bytesSent,
          revisionBefore: d.revisionBefore ?? v.rows[i].revisionBefore,
        }
    }
    this.emitState(run)
  }

  private fail(run: Run, err: unknown): void {
    const w = toWireError(err)
    run.view.error = { code: w.code, message: w.message }
    run.view.state = 'failed'
    this.emitState(run)
  }

  /** The engine's dry run: per device bytes, fits, verdict, already runs it. Waits for it. */
  async plan(req: Req<'rollout.plan'>): Promise<RolloutView> {
    const { run, targets } = this.begin({ ...req, maxFailures: 1 }, true)
    this.emitState(run)
    try {
      const res = await this.engine().run({
        rev: req.rev,
        targets,
        parallel: req.parallel,
        maxFailures: 1,
        commit: false,
        dryRun: true,
        signal: run.ac.signal,
        onEvent: this.onEvent(run),
      })
      this.finish(run, res, 'planned')
    } catch (err) {
      this.fail(run, err)
    }
    return run.view
  }

  /** Start (or resume) in the background; the rows come as 'rollout' events. */
  startRun(req: StartReq): RolloutView {
    const { run, targets } = this.begin(req, false)
    this.emitState(run)
    run.done = this.engine()
      .run({
        rev: req.rev,
        targets,
        parallel: req.parallel,
        maxFailures: req.maxFailures,
        commit: req.commit === true,
        dryRun: false,
        signal: run.ac.signal,
        onEvent: this.onEvent(run),
      })
      .then(
        res => {
          this.finish(run, res, run.ac.signal.aborted || res.stopped !== null ? 'stopped' : 'finished')
        },
        err => {
          this.fail(run, err)
        },
      )
    return run.view
  }

  stopRun(id: string): RolloutView {
    const run = this.byId(id)
    if (run.view.state === 'running' || run.view.state === 'planning') {
      run.view.state = 'stopping'
      run.ac.abort(new Error('stopped from the Rollout screen'))
      this.emitState(run)
    }
    return run.view
  }

  async report(id: string, folder: string, kind: ReportKind): Promise<{ path: string }> {
    const run = this.byId(id)
    if (run.result === null) throw new UsageError('this rollout has no result yet: wait for it to end (or stop it)')
    const st = await stat(folder).catch(() => null)
    if (st === null || !st.isDirectory()) throw new NotFoundError(`${folder}: no such folder`)
    const name = `rollout-${run.result.rollout ?? 'plan'}-${run.result.revision.name.replace(/[^A-Za-z0-9._-]/g, '_')}.${kind}`
    const path = join(folder, name)
    await writeReport(path, run.result)
    return { path }
  }

  private store(): RolloutStore {
    return new RolloutStore(this.components.app.library.db)
  }

  /** Rollouts the database says did not finish (killed or stopped), newest first, but the one on this window's screen. */
  unfinished(): UnfinishedRollout[] {
    const st = this.run?.view.state
    // This window's rollout, running or stopped on the screen (its own view offers Resume), is no card.
    const active = st === 'running' || st === 'stopping' || st === 'stopped' ? (this.run?.planKey ?? null) : null
    const s = this.components.devices()
    return listUnfinished(this.store(), this.components.app.library, s === undefined ? undefined : ref => s.resolve(ref), active)
  }

  /** Start unfinished rollout `id` again with its stored request: the engine resumes it. A device forgotten since refuses it, naming the device. */
  resume(id: number): RolloutView {
    this.busy()
    const req = checkedResume(
      this.store(),
      id,
      ref => this.svc().resolve(ref),
      q => planKey(q.rev, this.targets(q.devices, q.canary), q.commit),
    )
    return this.startRun(req)
  }

  /** Give up unfinished rollout `id`: not listed again, never resumed. */
  dismiss(id: number): { dismissed: number } {
    const st = this.run?.view.state
    dismissRollout(this.store(), id, st === 'running' || st === 'stopping' ? (this.run?.planKey ?? null) : null)
    this.log('rollout %d dismissed', id)
    return { dismissed: id }
  }

  private byId(id: string): Run {
    if (this.run === undefined || this.run.view.id !== id) throw new NotFoundError(`rollout ${id}: not this window's rollout (reload the Rollout screen)`)
    return this.run
  }
}

export function rolloutHandlers(svc: () => RolloutService): RolloutHandlers {
  return {
    async 'rollout.plan'(req) {
      return await svc().plan(req)
    },
    async 'rollout.start'(req) {
      return svc().startRun(req)
    },
    async 'rollout.stop'({ id }) {
      return svc().stopRun(id)
    },
    async 'rollout.current'() {
      return svc().current()
    },
    async 'rollout.report'({ id, folder, kind }) {
      return await svc().report(id, folder, kind)
    },
    async 'rollout.unfinished'() {
      return svc().unfinished()
    },
    async 'rollout.resume'({ rollout }) {
      return svc().resume(rollout)
    },
    async 'rollout.dismiss'({ rollout }) {
      return svc().dismiss(rollout)
    },
  }
}
