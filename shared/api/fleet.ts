/**
 * The fleet part of the UI contract (issue #18): device labels, a device's
 * page, and rollouts (one revision onto many devices, main/devices/rollout).
 */

/** What a device tells about itself, read live for its page. */
export interface DeviceDetail {
  deviceId: string
  /** The step it runs (device-meta pantavisor.revision). */
  step: string | null
  status: string | null
  mode: string | null
  version: string | null
  arch: string | null
  model: string | null
  freeBytes: number | null
  /** The library revision it runs, when its running state is one (null: not one we carry, or it does not tell). */
  runs: { id: string; name: string } | null
  /** The steps it has been given from this laptop (install history), newest first. */
  steps: string[]
  /** Why the device could not be asked (it is off, unreachable...): the rest is from the store. */
  error: { code: string; message: string } | null
  readAt: number
  /** Its SSH login (on a Pantavisor device, the container entered). */
  ssh: DeviceSsh
}

/**
 * A device's SSH login as Fieldsync knows it: the technician's choice (null:
 * none), the management containers of the state it ran when last read (null:
 * never read), and the container the next login will use, with why.
 */
export interface DeviceSsh {
  container: string | null
  mgmt: string[] | null
  next: { container: string; source: 'flag' | 'state' | 'setting' | 'default' }
}

export type RolloutRowState = 'planned' | 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'not-started'
export type RolloutRunState = 'planning' | 'planned' | 'running' | 'stopping' | 'stopped' | 'finished' | 'failed'

export interface RolloutRowView {
  deviceId: string
  label: string
  canary: boolean
  state: RolloutRowState
  outcome: string | null
  /** The device's words, or why not. */
  message: string | null
  /** The device's own progress percentage, when it tells. */
  progress: number | null
  bytesSent: number
  /** From the plan: what it lacks, whether it fits, whether it runs the revision already. */
  bytesToSend: number | null
  fits: boolean | null
  alreadyRuns: boolean | null
  revisionBefore: string | null
  problems: string[]
}

export interface RolloutView {
  /** This window's run (a plan and its start share it); the stored rollout's number once started. */
  id: string
  rollout: number | null
  resumed: boolean
  revision: { id: string; name: string }
  signature: string
  state: RolloutRunState
  /** What was asked: Resume sends it again (the engine resumes the same revision, devices, canaries and commit). */
  request: { rev: string; devices: string[]; canary: string[]; parallel: number; maxFailures: number; commit: boolean }
  /** Why devices were left not started. */
  stopped: string | null
  error: { code: string; message: string } | null
  summary: RolloutSummary | null
  rows: RolloutRowView[]
}

/** A rollout's devices by how they ended. */
export interface RolloutSummary {
  devices: number
  succeeded: number
  failed: number
  /** Already ran the revision: nothing sent. */
  skipped: number
  /** Never asked for anything (a stop, a failure limit). */
  notStarted: number
  /** Running their update when the rollout was stopped: they go on with it, and a resume follows them. */
  stopped: number
}

/**
 * A rollout that did not finish (the app or the CLI was killed while it ran,
 * or it was stopped), as the Rollout screen offers it to resume or dismiss.
 */
export interface UnfinishedRollout {
  /** The stored rollout's number. */
  rollout: number
  /** running: it was cut off while it ran (a kill, a crash); stopped: a stop or its failure limit ended it. */
  state: 'running' | 'stopped'
  revision: { id: string; name: string }
  /** Its devices' rows as they stand: `stopped` counts devices cut off while running (a resume follows them), `pending` those not reached yet. */
  counts: RolloutSummary & { pending: number }
  startedAt: number
  endedAt: number | null
  /** What Resume sends again: the same revision, devices, canaries and commit (so the engine resumes this rollout). */
  request: { rev: string; devices: string[]; canary: string[]; parallel: number; maxFailures: number; commit: boolean }
  /** The devices' names, in the rollout's order (a device forgotten since is named by its id). */
  labels: string[]
  /** Another Fieldsync process (this pid) runs it now: it can be neither resumed nor dismissed until that one ends. */
  runningIn: number | null
}

/** At most this many unfinished rollouts are listed, newest first. */
export const UNFINISHED_ROLLOUTS_SHOWN = 5

/** Event payload: one row changed, or the run's state did (then `row` is absent). */
export interface RolloutUpdate {
  id: string
  state: RolloutRunState
  stopped: string | null
  row?: RolloutRowView
  view?: RolloutView
}

export const REPORT_KINDS = ['csv', 'json', 'html'] as const
export type ReportKind = (typeof REPORT_KINDS)[number]
