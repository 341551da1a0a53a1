/** The rollout's contract: what is asked, the events it tells as it goes, and what it reports. */
import type { RolloutSummary } from '../../../shared/api/fleet.js'
import type { InstallEvent } from '../install.js'
import type { DevicePlan, RolloutTarget } from './plan.js'
import type { SharedReadStats } from './shared-reads.js'
import type { RolloutDeviceState } from './store.js'

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
