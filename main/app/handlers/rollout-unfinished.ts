/**
 * The unfinished rollouts the Rollout screen offers (rollout.unfinished,
 * rollout.resume, rollout.dismiss): rollouts the database says are running
 * or stopped, left by a process that was killed or closed mid-rollout, or
 * stopped. Resume sends the stored request again, so that the engine
 * resumes the same rollout (same plan key: finished devices are skipped, a
 * device cut off while running is followed). Pure reads and checks: the
 * RolloutService runs it.
 */
import { UNFINISHED_ROLLOUTS_SHOWN, type UnfinishedRollout } from '../../../shared/api/fleet.js'
import { BusyError, NotFoundError, UsageError } from '../../../shared/errors.js'
import { deviceLabel, type ResolvedDevice } from '../../devices/index.js'
import { busyElsewhere, type RolloutStore, type UnfinishedRolloutRecord } from '../../devices/rollout/index.js'
import type { Library } from '../../store/library.js'

/** Resolves a stored device id as the app does (DeviceService.resolve); throws when it names no device. */
export type DeviceResolver = (ref: string) => ResolvedDevice

/** The device the id names in the store now, or undefined: it was forgotten (or the id now names another). */
function known(resolve: DeviceResolver | undefined, deviceId: string): ResolvedDevice | undefined {
  if (resolve === undefined) return undefined
  try {
    const r = resolve(deviceId)
    return r.deviceId === deviceId && r.record !== undefined ? r : undefined
  } catch {
    return undefined
  }
}

/** The request that resumes `rec`: its revision, its devices in their order, its canaries and options. */
export function resumeRequest(rec: UnfinishedRolloutRecord): UnfinishedRollout['request'] {
  return {
    rev: rec.revisionId,
    devices: rec.rows.map(r => r.deviceId),
    canary: rec.rows.filter(r => r.canary).map(r => r.deviceId),
    parallel: rec.options.parallel,
    maxFailures: rec.options.maxFailures,
    commit: rec.options.commit,
  }
}

/** Refuse to resume `rec` when a device of it was forgotten since: the error names each one, and nothing is changed. */
export function checkDevicesKnown(rec: UnfinishedRolloutRecord, resolve: DeviceResolver): void {
  const gone = rec.rows.map(r => r.deviceId).filter(id => known(resolve, id) === undefined)
  if (gone.length === 0) return
  throw new NotFoundError(
    `rollout ${rec.id}: ${gone.length === 1 ? 'device' : 'devices'} ${gone.join(', ')} ${gone.length === 1 ? 'was' : 'were'} forgotten since it started; ` +
      'add it again by its address to resume the rollout, or dismiss it',
    { rollout: rec.id, devices: gone },
  )
}

/** The newest unfinished rollouts, at most UNFINISHED_ROLLOUTS_SHOWN, but the one of plan `exclude` (this window's). */
export function listUnfinished(store: RolloutStore, library: Library, resolve: DeviceResolver | undefined, exclude: string | null): UnfinishedRollout[] {
  return store
    .unfinished(UNFINISHED_ROLLOUTS_SHOWN + 1)
    .filter(r => r.planKey !== exclude)
    .slice(0, UNFINISHED_ROLLOUTS_SHOWN)
    .map(r => unfinishedView(r, library, resolve))
}

function unfinishedRecord(store: RolloutStore, id: number): UnfinishedRolloutRecord {
  const rec = store.getUnfinished(id)
  if (rec === undefined) throw new NotFoundError(`rollout ${id}: no unfinished rollout of that number (it finished, was dismissed, or never was)`)
  return rec
}

/**
 * The stored request of unfinished rollout `id`, checked before anything
 * changes: every device still known, and the engine would resume this very
 * rollout (`keyOf`: the engine's plan key of a request).
 */
export function checkedResume(
  store: RolloutStore,
  id: number,
  resolve: DeviceResolver,
  keyOf: (req: UnfinishedRollout['request']) => string,
): UnfinishedRollout['request'] {
  const rec = unfinishedRecord(store, id)
  if (rec.runningIn !== null) throw busyElsewhere(id, rec.runningIn)
  checkDevicesKnown(rec, resolve)
  const req = resumeRequest(rec)
  // The engine resumes the newest unfinished rollout of the plan: it must be this one.
  const key = keyOf(req)
  const resumes = store.resumable(key)
  if (key !== rec.planKey || resumes !== id)
    throw new UsageError(`rollout ${id}: its devices no longer make the same rollout${resumes === undefined ? '' : ` (rollout ${resumes} would be resumed)`}`)
  return req
}

/** Mark unfinished rollout `id` abandoned; refused while it runs (`running`: the plan key of the rollout this window runs, if any). */
export function dismissRollout(store: RolloutStore, id: number, running: string | null): void {
  const rec = unfinishedRecord(store, id)
  if (rec.planKey === running) throw new BusyError(`rollout ${id} runs in this window: stop it before dismissing it`)
  if (!store.dismiss(id)) throw new NotFoundError(`rollout ${id}: no unfinished rollout of that number`)
}

export function unfinishedView(rec: UnfinishedRolloutRecord, library: Library, resolve: DeviceResolver | undefined): UnfinishedRollout {
  let name = rec.revisionName ?? rec.revisionId.slice(0, 12)
  try {
    // Its name now (it may have been renamed since); a revision removed since keeps the stored name.
    name = library.resolve(rec.revisionId).name
  } catch {
    /* the stored name */
  }
  const n = (s: string): number => rec.rows.filter(r => r.state === s).length
  return {
    rollout: rec.id,
    state: rec.state,
    revision: { id: rec.revisionId, name },
    counts: {
      devices: rec.rows.length,
      succeeded: n('succeeded'),
      failed: n('failed'),
      skipped: n('skipped'),
      notStarted: n('not-started'),
      stopped: n('running'),
      pending: n('pending'),
    },
    startedAt: rec.createdAt,
    endedAt: rec.endedAt,
    request: resumeRequest(rec),
    runningIn: rec.runningIn,
    labels: rec.rows.map(r => {
      const d = known(resolve, r.deviceId)?.record
      return d === undefined ? r.deviceId : deviceLabel(d)
    }),
  }
}
