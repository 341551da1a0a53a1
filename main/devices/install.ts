/**
 * Installer: a revision from the library onto a device, through any driver.
 *  1. preflight: the revision is complete, valid and passes the signature
 *     policy; the device answers; a package (no BSP) is composed onto the
 *     state the device runs (onto.ts) and the composed state is what it gets;
 *     the objects it lacks are known; they fit its free storage. --dry-run
 *     stops here with the plan.
 *  2. upload only what it lacks (a 422 is retried once), with progress;
 *  3. check that every object is now on the device, and only then put the
 *     step locals/<name> with a commit message;
 *  4. run (LOCAL_RUN / LOCAL_RUN_COMMIT, retried while busy) and follow the
 *     progress to DONE, UPDATED, ERROR or WONTGO, with a deadline.
 * Every install is recorded (DeviceStore), whatever its end.
 */
import {
  FieldsyncError,
  IncompleteRevisionError,
  NoSpaceError,
  ObjectHashMismatchError,
  ObjectMissingError,
  TimeoutError,
  toWireError,
  UsageError,
} from '../../shared/errors.js'
import { commitAbility, type InstallComposition, type InstallPlan, type InstallResult, type InstallStatus } from '../../shared/api/types.js'
import type { Readable } from 'node:stream'
import type { Logger } from '../../shared/log.js'
import { formatBytes } from '../../shared/units.js'
import { assertValidState, parseState, revisionId } from '../../shared/state/index.js'
import type { Library } from '../store/library.js'
import { applyPolicy, type CompositionJudge, type PolicyCheck, type TrustSource } from '../trust/index.js'
import type { DeviceDriver, DeviceMeta, ObjectNeed, StepProgress } from './drivers/types.js'
import { emptyMeta } from './drivers/types.js'
import { followProgress, runStep } from './follow.js'
import { defaultStep, stepFromName } from './names.js'
import { composeOntoDevice, installAs } from './onto.js'
import type { DeviceStore } from './store.js'

/** Assumed upload rate for the estimate when this device has no history (a 100 Mbit/s LAN). */
export const ASSUMED_RATE = 11_000_000
/** What a device takes after the run: INPROGRESS, TESTING (~25 s), a reboot. */
export const ASSUMED_RUN_SECONDS = 45

export type InstallEvent =
  | { type: 'phase'; phase: 'preflight' | 'upload' | 'step' | 'run' | 'progress' | 'final'; message: string }
  /** Preflight done, before anything is sent: what the upload will send (0 bytes: nothing). */
  | { type: 'planned'; bytesToSend: number; objectsToSend: number }
  | {
      type: 'upload'
      sha: string
      key: string | null
      index: number
      count: number
      bytes: number
      totalBytes: number
      rate: number
      etaSeconds: number | null
    }
  | { type: 'retry'; what: string; reason: string }
  | { type: 'progress'; status: string; statusMsg: string; progress: number | null }

export interface InstallRequest {
  rev: string
  driver: DeviceDriver
  /** The device's id for the record (its device-id, else the address). */
  deviceId: string
  /** `NAME` or `locals/NAME`; default from the revision name and id. */
  name?: string
  commit?: boolean
  dryRun?: boolean
  message?: string
  /** Give up following the progress after this long (ms, default 15 min). */
  timeoutMs?: number
  /** Install even if the device reports too little free space. */
  ignoreSpace?: boolean
  /** Poll and retry base interval (ms, default 1000). */
  pollMs?: number
  /** Send the revision as the device's whole state even if a package would be composed (refused without a BSP). */
  replaceState?: boolean
  /** Compose the revision onto what the device runs even though it has a BSP (a BSP update package). */
  compose?: boolean
  signal: AbortSignal
  onEvent?: (e: InstallEvent) => void
  /** Called with the install history row's id once the install is recorded (a rollout links its report to it). */
  onRecorded?: (installId: number) => void
  /** Where an object's bytes are read (default: the library; a rollout wave shares one read among its devices). */
  objectSource?: (sha: string, signal: AbortSignal) => Readable
}

interface Prepared {
  plan: InstallPlan
  objects: ObjectNeed[]
  lacking: ObjectNeed[]
  raw: Uint8Array
  revName: string
  meta: DeviceMeta
}

export class Installer {
  private readonly log: Logger

  constructor(
    private readonly components: { library: Library; devices: DeviceStore; log: Logger; trust?: TrustSource; policy?: PolicyCheck; judge?: CompositionJudge },
  ) {
    this.log = components.log.child('install')
  }

  /** Preflight against an opened driver. */
  private async prepare(req: InstallRequest): Promise<Prepared> {
    const lib = this.components.library
    const info = lib.resolve(req.rev)
    if (!info.complete) {
      throw new IncompleteRevisionError(`${info.name}: ${info.missing} of its objects are not in the library; import or pull them before installing`, {
        id: info.id,
        missing: info.missing,
      })
    }
    const state = lib.state(info.id)
    assertValidState(state, info.name)
    const as = installAs(state, info.name, req)
    if (as === 'state') await applyPolicy(state.raw, this.components)
    const seen = new Set<string>()
    const objects: ObjectNeed[] = []
    for (const o of lib.objectsOf(info.id)) {
      if (seen.has(o.sha)) continue
      seen.add(o.sha)
      objects.push({ sha: o.sha, size: o.size ?? 0, key: o.key })
    }
    const d = req.driver
    req.onEvent?.({ type: 'phase', phase: 'preflight', message: `asking ${d.target} what it has` })
    const meta = await d.meta(req.signal).catch((err: unknown) => {
      this.log('%s: no device-meta: %s', d.target, (err as Error).message)
      return emptyMeta()
    })
    let raw = state.raw
    let composition: InstallComposition | null = null
    if (as === 'package') {
      req.onEvent?.({ type: 'phase', phase: 'preflight', message: `reading the state ${d.target} runs, to compose ${info.name} onto it` })
      const onto = await composeOntoDevice(d, { raw: state.raw, name: info.name }, this.components, req.signal)
      raw = onto.raw
      composition = onto.composition
      // The device judges the state it gets: the composed one.
      await applyPolicy(raw, this.components)
    }
    const step = req.name === undefined ? defaultStep(info.name, composition?.result ?? info.id) : stepFromName(req.name)
    const lackSet = await d.lacking(objects, req.signal)
    const lacking = objects.filter(o => lackSet.has(o.sha))
    const bytes = lacking.reduce((a, o) => a + o.size, 0)
    const problems: string[] = []
    if (meta.freeBytes !== null && bytes > meta.freeBytes) {
      problems.push(`the device has ${formatBytes(meta.freeBytes)} free for ${formatBytes(bytes)} to send`)
    }
    const commit = commitAbility(d.via)
    if (req.commit === true && !commit.possible) problems.push(`commit asked: ${commit.reason}`)
    const notes: string[] = []
    if (meta.freeBytes === null)
      notes.push(`${d.target} does not tell its free space${d.via === 'pvr-sdk' ? ' through pvr-sdk' : ''}: the space check is skipped`)
    if (d.tellsProgress === false)
      notes.push(
        "pvr-sdk does not tell the device's progress: the install ends RUNNING once the device has run the revision for a while, or NOT_RUNNING (use --via ssh for DONE, UPDATED, ERROR or WONTGO)",
      )
    if (d.via === 'pvr-sdk') notes.push('pvr-sdk names the local step itself (pvr post)')
    const rate = this.components.devices.recentRate(req.deviceId) ?? ASSUMED_RATE
    // A package: the device runs it already when composing it changes nothing.
    const alreadyRunning = composition !== null ? !composition.changed : await this.runs(d, info.id, req.signal)
    const uploadSeconds = bytes === 0 ? 0 : Math.max(1, Math.round(bytes / rate))
    const plan: InstallPlan = {
      device: req.deviceId,
      revision: { id: info.id, name: info.name },
      via: d.via,
      objectsTotal: objects.length,
      objectsToSend: lacking.length,
      bytesToSend: bytes,
      estimatedSeconds: uploadSeconds + ASSUMED_RUN_SECONDS,
      uploadSeconds,
      runSeconds: ASSUMED_RUN_SECONDS,
      alreadyRunning,
      freeBytes: meta.freeBytes,
      step,
      problems,
      notes,
      as,
      composition,
      commit,
    }
    return { plan, objects, lacking, raw, revName: info.name, meta }
  }

  /** Whether the device runs revision `id` now: null when the connection cannot read its current state. */
  private async runs(d: DeviceDriver, id: string, signal: AbortSignal): Promise<boolean | null> {
    if (d.stepState === undefined) return null
    try {
      return revisionId(parseState(await d.stepState('current', signal), `${d.target}: current state`)) === id
    } catch (err) {
      if (signal.aborted) throw err
      this.log('%s: current state unreadable: %s', d.target, (err as Error).message)
      return null
    }
  }

  /** Preflight only: what an install would send (the driver is opened and closed). */
  async plan(req: InstallRequest): Promise<InstallPlan> {
    await req.driver.open(req.signal)
    try {
      return (await this.prepare(req)).plan
    } finally {
      await req.driver.close()
    }
  }

  async install(req: InstallRequest): Promise<InstallResult | InstallPlan> {
    const d = req.driver
    if (req.commit === true && d.via === 'pvr-sdk' && req.dryRun !== true) {
      throw new UsageError('--commit (LOCAL_RUN_COMMIT) is not possible through pvr-sdk, which runs what it is sent; use --via ssh (or pv-ctrl on a socket)')
    }
    await d.open(req.signal)
    try {
      let p: Prepared
      try {
        p = await this.prepare(req)
        if (req.dryRun === true) return p.plan
        if (p.plan.problems.length > 0 && req.ignoreSpace !== true) {
          throw new NoSpaceError(
            `${d.target}: ${p.plan.problems.join('; ')}; free space on the device (its garbage collector reclaims unused objects) or pass --ignore-space`,
            { freeBytes: p.plan.freeBytes, bytesToSend: p.plan.bytesToSend },
          )
        }
      } catch (err) {
        if (req.dryRun !== true) this.recordRefusal(req, err)
        throw err
      }
      return await this.execute(req, p)
    } finally {
      await d.close()
    }
  }

  /** An install stopped before anything was sent is recorded too (REFUSED), when its revision is known. */
  private recordRefusal(req: InstallRequest, err: unknown): void {
    let info
    try {
      info = this.components.library.resolve(req.rev)
    } catch {
      return
    }
    const w = toWireError(err)
    const id = this.components.devices.startInstall({
      deviceId: req.deviceId,
      address: req.driver.target,
      via: req.driver.via,
      revisionId: info.id,
      revisionName: info.name,
      step: req.name === undefined ? defaultStep(info.name, info.id) : req.name,
    })
    this.components.devices.endInstall(id, { status: 'REFUSED', statusMsg: w.message, errorCode: w.code, bytesSent: 0, objectsSent: 0 })
    req.onRecorded?.(id)
  }

  private async execute(req: InstallRequest, p: Prepared): Promise<InstallResult> {
    const d = req.driver
    let step = p.plan.step
    const started = Date.now()
    const id = this.components.devices.startInstall({
      deviceId: req.deviceId,
      address: d.target,
      via: d.via,
      revisionId: p.plan.revision.id,
      revisionName: p.revName,
      step,
    })
    req.onRecorded?.(id)
    const sent = { bytes: 0, objects: 0 }
    let final: StepProgress | null = null
    let uploadMs = 0
    try {
      req.onEvent?.({ type: 'planned', bytesToSend: p.plan.bytesToSend, objectsToSend: p.plan.objectsToSend })
      const u0 = Date.now()
      await this.upload(req, p, sent, id)
      uploadMs = p.lacking.length === 0 ? 0 : Date.now() - u0
      const still = await d.lacking(p.objects, req.signal)
      const partial = [...still].filter(([, held]) => held !== null)
      if (partial.length > 0) {
        // A full device answers the upload 200 and keeps what it could write (ctrl/ctrl_upload.c).
        const [sha, held] = partial[0]
        const want = p.objects.find(o => o.sha === sha)?.size ?? 0
        throw new NoSpaceError(
          `${d.target}: the device kept only ${formatBytes(held ?? 0)} of ${formatBytes(want)} of object ${sha}${partial.length > 1 ? ` (and ${partial.length - 1} more)` : ''}: its storage is full; not creating step ${step}. Free room on the device (its garbage collector removes objects no revision uses), then install again: the partial objects are sent again`,
          { partial: partial.map(([s]) => s) },
        )
      }
      if (still.size > 0) {
        throw new ObjectMissingError(
          `${d.target}: after the upload the device still lacks ${still.size} object(s) (first ${[...still.keys()][0]}); not creating step ${step}: run the install again`,
          { missing: [...still.keys()] },
        )
      }
      req.onEvent?.({ type: 'phase', phase: 'step', message: `creating step ${step}` })
      const msg = Buffer.from(req.message ?? `fieldsync: ${p.revName} (${p.plan.revision.id.slice(0, 12)})`)
        .subarray(0, 256)
        .toString('utf8')
        .replace(/\uFFFD+$/, '')
      await d.putStep(step, p.raw, msg, req.signal)
      const poll = req.pollMs ?? 1000
      const deadline = Date.now() + (req.timeoutMs ?? 15 * 60_000)
      const follow = {
        signal: req.signal,
        deadline,
        pollMs: poll,
        onRetry: (why: string) => {
          req.onEvent?.({ type: 'retry', what: 'run', reason: why })
        },
        onProgress: (pr: StepProgress) => {
          req.onEvent?.({ type: 'progress', status: pr.status, statusMsg: pr.statusMsg, progress: pr.progress })
        },
      }
      req.onEvent?.({ type: 'phase', phase: 'run', message: `${req.commit === true ? 'LOCAL_RUN_COMMIT' : 'LOCAL_RUN'} ${step}` })
      const ran = await runStep(d, step, req.commit === true, follow)
      if (ran !== step) {
        step = ran
        this.components.devices.renameInstallStep(id, step)
      }
      req.onEvent?.({ type: 'phase', phase: 'progress', message: `following ${step}` })
      final = await followProgress(d, step, follow)
      req.onEvent?.({ type: 'phase', phase: 'final', message: `${step}: ${final.status} (${final.statusMsg})` })
      this.components.devices.endInstall(id, {
        status: final.status,
        statusMsg: final.statusMsg,
        errorCode: null,
        bytesSent: sent.bytes,
        objectsSent: sent.objects,
      })
      return {
        device: req.deviceId,
        revision: p.plan.revision.id,
        step,
        status: final.status as InstallStatus,
        statusMsg: final.statusMsg,
        bytesSent: sent.bytes,
        objectsSent: sent.objects,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        uploadSeconds: Math.round(uploadMs / 100) / 10,
      }
    } catch (err) {
      const w = toWireError(err)
      const status = err instanceof TimeoutError ? 'TIMEOUT' : 'FAILED'
      this.components.devices.endInstall(id, { status, statusMsg: w.message, errorCode: w.code, bytesSent: sent.bytes, objectsSent: sent.objects })
      if (err instanceof FieldsyncError) {
        Object.assign(err, { details: { ...err.details, bytesSent: sent.bytes, objectsSent: sent.objects, step } })
      }
      throw err
    }
  }

  private async upload(req: InstallRequest, p: Prepared, sent: { bytes: number; objects: number }, installId: number): Promise<void> {
    const d = req.driver
    const total = p.plan.bytesToSend
    if (p.lacking.length === 0) {
      req.onEvent?.({ type: 'phase', phase: 'upload', message: 'the device has every object already' })
      return
    }
    req.onEvent?.({ type: 'phase', phase: 'upload', message: `sending ${p.lacking.length} object(s), ${total} bytes` })
    const t0 = Date.now()
    let done = 0
    let lastEvent = 0
    let lastNoted = t0
    /** The install's row says what was sent, once a second and at the end: a kill -9 loses at most a second of it. */
    const note = (force: boolean): void => {
      const now = Date.now()
      if (!force && now - lastNoted < 1000) return
      lastNoted = now
      this.components.devices.noteSent(installId, { bytesSent: sent.bytes, objectsSent: sent.objects })
    }
    for (const [i, o] of p.lacking.entries()) {
      for (let attempt = 1; ; attempt++) {
        let mine = 0
        const emit = (force: boolean): void => {
          const now = Date.now()
          if (!force && now - lastEvent < 200) return
          lastEvent = now
          const secs = (now - t0) / 1000
          const bytes = done + mine
          const rate = secs > 0 ? bytes / secs : 0
          req.onEvent?.({
            type: 'upload',
            sha: o.sha,
            key: o.key ?? null,
            index: i,
            count: p.lacking.length,
            bytes,
            totalBytes: total,
            rate,
            etaSeconds: rate > 0 ? Math.round((total - bytes) / rate) : null,
          })
        }
        try {
          await d.putObject(o, () => req.objectSource?.(o.sha, req.signal) ?? this.components.library.objects.read(o.sha, { signal: req.signal }), {
            signal: req.signal,
            onBytes: n => {
              mine += n
              sent.bytes += n
              emit(false)
              note(false)
            },
          })
          done += o.size
          mine = 0
          sent.objects++
          emit(true)
          note(i === p.lacking.length - 1)
          break
        } catch (err) {
          if (err instanceof ObjectHashMismatchError && attempt === 1) {
            req.onEvent?.({ type: 'retry', what: `object ${o.sha}`, reason: err.message })
            continue
          }
          throw err
        }
      }
    }
  }
}
