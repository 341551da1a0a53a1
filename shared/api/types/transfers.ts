/** Long operations as the transfers list shows them. */
import type { WireError } from '../../errors.js'

export type TransferKind = 'upload' | 'import' | 'export' | 'pull' | 'install' | 'usb-export' | 'usb-import'
export type TransferState = 'running' | 'done' | 'failed' | 'cancelled'

export interface TransferInfo {
  id: string
  kind: TransferKind
  /** e.g. "pull pvwificonnect", "install pvwificonnect on rpi-kitchen". */
  label: string
  state: TransferState
  /** What `bytes`/`totalBytes` count: bytes, or items (objects) when the size is not known up front. */
  unit: 'bytes' | 'items'
  bytes: number
  totalBytes: number | null
  /** Bytes per second over the last few seconds. */
  rate: number
  etaSeconds: number | null
  startedAt: number
  endedAt: number | null
  /**
   * When bytes were moving: from the first progress report to the last one
   * (null before any). An average rate is `bytes` over this span only, never
   * over the whole transfer: an install's device phase (TESTING, a reboot)
   * comes after it, and takes `endedAt - movedUntil`.
   */
  movedFrom: number | null
  movedUntil: number | null
  /** Per-peer share of a pull. */
  peers: Array<{ peer: string; bytes: number }>
  /** The revision it moves, once known (a pull: for its row on the Peers screen). */
  rev?: string
  /** Current step in words (e.g. "TESTING: waiting for the containers"). */
  detail: string | null
  cancellable: boolean
  error: WireError | null
  /** It can run again with the same request once it failed or was cancelled (`transfers.retry`); an upload cannot (its bytes are in the browser). */
  retryable: boolean
  /** The transfer this one retries. */
  retryOf: string | null
  /** The transfer that retried this one. */
  retriedBy: string | null
}
