/**
 * RolloutStore: a rollout and each device's part in it, in the library's
 * SQLite database (migration 006), written as the rollout goes so that a
 * process killed with -9 leaves a state the next run resumes from. Writes are
 * synchronous and short (house rule 7).
 */
import { BusyError, type FieldsyncError } from '../../../shared/errors.js'
import type { Db } from '../../store/db.js'
import { processAlive, processIdentity } from '../../store/process-identity.js'

export type RolloutDeviceState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'not-started'
/** abandoned: the technician gave it up (the app's Dismiss): never resumed, never listed as unfinished. */
export type RolloutState = 'running' | 'stopped' | 'finished' | 'abandoned'

/** A rollout that did not finish (killed while running, or stopped), as the app lists it to resume or dismiss. */
export interface UnfinishedRolloutRecord {
  id: number
  planKey: string
  revisionId: string
  revisionName: string | null
  state: 'running' | 'stopped'
  options: RolloutOptionsRecord
  createdAt: number
  endedAt: number | null
  rows: RolloutDeviceRow[]
  /** Another live process runs it now (its pid): it can be neither resumed nor dismissed from here. */
  runningIn: number | null
}

interface RolloutDbRow {
  id: number
  plan_key: string
  revision_id: string
  revision_name: string | null
  state: string
  options: string
  created_at: number
  ended_at: number | null
  owner_pid: number | null
  owner_start: string | null
}

/** The pid of the other, live process that runs rollout row `r`, or null (none, this process, or one that is gone). */
function otherOwner(r: { state: string; owner_pid: number | null; owner_start: string | null }): number | null {
  if (r.state !== 'running' || r.owner_pid === null || r.owner_pid === process.pid) return null
  return processAlive(r.owner_pid, r.owner_start) ? r.owner_pid : null
}

/** The refusal to resume or dismiss a rollout another live process runs (the store's and the app's). */
export function busyElsewhere(id: number, pid: number): FieldsyncError {
  return new BusyError(`rollout ${id} is running in another Fieldsync process (pid ${pid}): let it finish, or stop it there, then resume it`, {
    rollout: id,
    pid,
  })
}

/** The states a rollout can be resumed from. */
const UNFINISHED = "state IN ('running', 'stopped')"

export interface RolloutOptionsRecord {
  parallel: number
  maxFailures: number
  commit: boolean
}

export interface RolloutDeviceRow {
  deviceId: string
  position: number
  canary: boolean
  state: RolloutDeviceState
  outcome: string | null
  message: string | null
  errorCode: string | null
  installId: number | null
  revisionBefore: string | null
  revisionAfter: string | null
  bytesSent: number
  startedAt: number | null
  endedAt: number | null
}

interface DbRow {
  device_id: string
  position: number
  canary: number
  state: string
  outcome: string | null
  message: string | null
  error_code: string | null
  install_id: number | null
  revision_before: string | null
  revision_after: string | null
  bytes_sent: number
  started_at: number | null
  ended_at: number | null
}

function toRow(r: DbRow): RolloutDeviceRow {
  return {
    deviceId: r.device_id,
    position: r.position,
    canary: r.canary === 1,
    state: r.state as RolloutDeviceState,
    outcome: r.outcome,
    message: r.message,
    errorCode: r.error_code,
    installId: r.install_id,
    revisionBefore: r.revision_before,
    revisionAfter: r.revision_after,
    bytesSent: r.bytes_sent,
    startedAt: r.started_at,
    endedAt: r.ended_at,
  }
}

/** Final states a resumed rollout keeps; every other device is tried again. */
export const FINISHED_STATES: readonly RolloutDeviceState[] = ['succeeded', 'skipped']

export class RolloutStore {
  constructor(private readonly db: Db) {}

  /** The newest rollout of this plan that did not finish (killed, or stopped by failures). */
  resumable(planKey: string): number | undefined {
    const r = this.db.prepare(`SELECT id FROM rollouts WHERE plan_key = ? AND ${UNFINISHED} ORDER BY id DESC LIMIT 1`).get(planKey) as
      { id: number } | undefined
    return r?.id
  }

  /** The newest unfinished rollouts (at most `limit`), newest first, each with its devices' rows. */
  unfinished(limit: number): UnfinishedRolloutRecord[] {
    const rs = this.db.prepare(`SELECT * FROM rollouts WHERE ${UNFINISHED} ORDER BY id DESC LIMIT ?`).all(limit) as RolloutDbRow[]
    return rs.map(r => this.record(r)).filter((r): r is UnfinishedRolloutRecord => r !== undefined)
  }

  /** One unfinished rollout, or undefined (no such rollout, or it finished or was dismissed). */
  getUnfinished(id: number): UnfinishedRolloutRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM rollouts WHERE id = ? AND ${UNFINISHED}`).get(id) as RolloutDbRow | undefined
    return r === undefined ? undefined : this.record(r)
  }

  /** Give an unfinished rollout up: it is never resumed (the same plan again starts afresh) nor listed. False: it was not unfinished. */
  dismiss(id: number): boolean {
    return this.db
      .transaction(() => {
        const r = this.db.prepare('SELECT state, owner_pid, owner_start FROM rollouts WHERE id = ?').get(id) as RolloutDbRow | undefined
        const other = r === undefined ? null : otherOwner(r)
        if (other !== null) throw busyElsewhere(id, other)
        return (
          this.db
            .prepare(
              `UPDATE rollouts SET state = 'abandoned', ended_at = coalesce(ended_at, ?), owner_pid = NULL, owner_start = NULL WHERE id = ? AND ${UNFINISHED}`,
            )
            .run(Date.now(), id).changes === 1
        )
      })
      .immediate()
  }

  private record(r: RolloutDbRow): UnfinishedRolloutRecord | undefined {
    if (r.state !== 'running' && r.state !== 'stopped') return undefined
    const o = JSON.parse(r.options) as Partial<RolloutOptionsRecord>
    return {
      id: r.id,
      planKey: r.plan_key,
      revisionId: r.revision_id,
      revisionName: r.revision_name,
      state: r.state,
      options: { parallel: o.parallel ?? 1, maxFailures: o.maxFailures ?? 1, commit: o.commit === true },
      createdAt: r.created_at,
      endedAt: r.ended_at,
      rows: this.rows(r.id),
      runningIn: otherOwner(r),
    }
  }

  create(r: {
    planKey: string
    revisionId: string
    revisionName: string | null
    options: RolloutOptionsRecord
    devices: Array<{ deviceId: string; canary: boolean }>
  }): number {
    return this.db.transaction(() => {
      const res = this.db
        .prepare(
          "INSERT INTO rollouts (plan_key, revision_id, revision_name, state, options, created_at, owner_pid, owner_start) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
        )
        .run(r.planKey, r.revisionId, r.revisionName, JSON.stringify(r.options), Date.now(), process.pid, processIdentity(process.pid))
      const id = Number(res.lastInsertRowid)
      const ins = this.db.prepare("INSERT INTO rollout_devices (rollout_id, device_id, position, canary, state) VALUES (?, ?, ?, ?, 'pending')")
      r.devices.forEach((d, i) => {
        ins.run(id, d.deviceId, i, d.canary ? 1 : 0)
      })
      return id
    })()
  }

  /**
   * Resume: the rollout runs again, in this process; devices that did not finish are pending again.
   * BusyError, changing nothing, while another live process runs it (two would drive the same devices).
   */
  reopen(id: number): void {
    this.db
      .transaction(() => {
        const r = this.db.prepare('SELECT state, owner_pid, owner_start FROM rollouts WHERE id = ?').get(id) as RolloutDbRow | undefined
        const other = r === undefined ? null : otherOwner(r)
        if (other !== null) throw busyElsewhere(id, other)
        this.db
          .prepare("UPDATE rollouts SET state = 'running', ended_at = NULL, owner_pid = ?, owner_start = ? WHERE id = ?")
          .run(process.pid, processIdentity(process.pid), id)
        this.db
          .prepare(`UPDATE rollout_devices SET state = 'pending' WHERE rollout_id = ? AND state NOT IN (${FINISHED_STATES.map(() => '?').join(', ')})`)
          .run(id, ...FINISHED_STATES)
      })
      .immediate()
  }

  rows(id: number): RolloutDeviceRow[] {
    return (this.db.prepare('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position').all(id) as DbRow[]).map(toRow)
  }

  started(id: number, deviceId: string, revisionBefore: string | null): void {
    this.db
      .prepare(
        "UPDATE rollout_devices SET state = 'running', revision_before = ?, started_at = ?, ended_at = NULL, install_id = NULL, outcome = NULL, message = NULL, error_code = NULL, bytes_sent = 0 WHERE rollout_id = ? AND device_id = ?",
      )
      .run(revisionBefore, Date.now(), id, deviceId)
  }

  /** The install history row of the device's install in this rollout, as soon as it exists (a kill after this still links them). */
  linkInstall(id: number, deviceId: string, installId: number): void {
    this.db.prepare('UPDATE rollout_devices SET install_id = ? WHERE rollout_id = ? AND device_id = ?').run(installId, id, deviceId)
  }

  finished(
    id: number,
    deviceId: string,
    r: {
      state: RolloutDeviceState
      outcome: string
      message: string | null
      errorCode: string | null
      installId: number | null
      revisionBefore?: string | null
      revisionAfter: string | null
      bytesSent: number
    },
  ): void {
    // A device not started (or skipped) has no time of its own in this run.
    const ran = r.state === 'succeeded' || r.state === 'failed'
    const now = Date.now()
    this.db
      .prepare(
        `UPDATE rollout_devices SET state = ?, outcome = ?, message = ?, error_code = ?, install_id = coalesce(?, install_id), revision_before = coalesce(?, revision_before),
      revision_after = ?, bytes_sent = ?, started_at = ?, ended_at = ? WHERE rollout_id = ? AND device_id = ?`,
      )
      .run(
        r.state,
        r.outcome,
        r.message,
        r.errorCode,
        r.installId,
        r.revisionBefore ?? null,
        r.revisionAfter,
        r.bytesSent,
        ran ? (this.startedAt(id, deviceId) ?? now) : null,
        now,
        id,
        deviceId,
      )
  }

  /** A device the rollout stopped following while it ran: still running (a resume follows it), with why in its outcome and message. */
  cut(id: number, deviceId: string, outcome: string, message: string, bytesSent: number): void {
    this.db
      .prepare("UPDATE rollout_devices SET outcome = ?, message = ?, bytes_sent = ? WHERE rollout_id = ? AND device_id = ? AND state = 'running'")
      .run(outcome, message, bytesSent, id, deviceId)
  }

  private startedAt(id: number, deviceId: string): number | null {
    return (
      (
        this.db.prepare('SELECT started_at FROM rollout_devices WHERE rollout_id = ? AND device_id = ?').get(id, deviceId) as
          { started_at: number | null } | undefined
      )?.started_at ?? null
    )
  }

  end(id: number, state: RolloutState): void {
    this.db.prepare('UPDATE rollouts SET state = ?, ended_at = ?, owner_pid = NULL, owner_start = NULL WHERE id = ?').run(state, Date.now(), id)
  }
}
