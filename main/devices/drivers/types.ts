/**
 * One interface for every way of reaching a device (pvr-sdk HTTP; pv-ctrl
 * on a Unix socket; pv-ctrl through SSH to a management container). Drivers map the device's answers to
 * typed errors: 422 on an object -> ObjectHashMismatchError, 507 ->
 * NoSpaceError, 503 -> DeviceBusyError, 422/4xx on a step ->
 * DeviceRefusedError, no answer -> DeviceUnreachableError.
 */
import type { Readable } from 'node:stream'
import { DEVICE_VIAS, type DeviceVia } from '../../../shared/api/types.js'
import { ProtocolError } from '../../../shared/errors.js'

export type Via = DeviceVia
export const VIAS = DEVICE_VIAS

export interface ObjectNeed {
  sha: string
  size: number
  /** A state key naming it (for messages and pvr's objectname). */
  key?: string
}

export interface DeviceMeta {
  revision: string | null
  status: string | null
  mode: string | null
  version: string | null
  arch: string | null
  /** pantavisor.dtmodel: the board's device-tree model, where it tells. */
  model?: string | null
  /** storage.real_free: what an upload may use. */
  freeBytes: number | null
}

export interface StepProgress {
  status: string
  statusMsg: string
  progress: number | null
  retries: number | null
  logs: string | null
}

export interface UploadOptions {
  signal: AbortSignal
  /** Called as bytes leave for the device. */
  onBytes: (n: number) => void
}

export interface DeviceDriver {
  readonly via: Via
  /** Where the device is, for messages (`10.0.0.7:12368`, `root@10.0.0.7:8222`). */
  readonly target: string
  open: (signal: AbortSignal) => Promise<void>
  close: () => Promise<void>
  meta: (signal: AbortSignal) => Promise<DeviceMeta>
  /**
   * The objects of `want` the device lacks, each with the size the device
   * holds of it: null when absent, else a size other than the object's (a
   * partial upload; a full device keeps one, ctrl/ctrl_upload.c).
   */
  lacking: (want: ObjectNeed[], signal: AbortSignal) => Promise<Map<string, number | null>>
  putObject: (obj: ObjectNeed, source: () => Readable, opts: UploadOptions) => Promise<void>
  /** Store the state as step `locals/<name>` with a commit message (pvr-sdk: sent with run). */
  putStep: (step: string, raw: Uint8Array, commitMsg: string | null, signal: AbortSignal) => Promise<void>
  /** LOCAL_RUN, or LOCAL_RUN_COMMIT with commit. Resolves to the step's name when the device chose another one (pvr-sdk). */
  run: (step: string, commit: boolean, signal: AbortSignal) => Promise<string | undefined>
  /** The step's progress, null when the device does not know the step (or cannot tell). */
  progress: (step: string, signal: AbortSignal) => Promise<StepProgress | null>
  /** False when the connection cannot read the device's own progress (a stock pvr-sdk). */
  readonly tellsProgress?: boolean
  /** The raw state JSON of a step (`current`: what the device runs), where the connection can read it. */
  stepState?: (step: string, signal: AbortSignal) => Promise<Uint8Array>
}

/**
 * Caps on text a device sends (its answers are read whole up to the HTTP
 * client's 64 MiB): what is kept, in JSON output and the install history,
 * of a step's `status-msg` and `logs`, of its `status`, of a device-meta
 * value, and of an error body. The CLI shows less on a terminal
 * (main/cli/output.ts).
 */
export const STATUS_MSG_MAX = 4096
export const LOGS_MAX = 64 * 1024
export const STATUS_MAX = 64
export const META_VALUE_MAX = 256
export const DEVICE_ERROR_MAX = 300

/** `s` cut to at most `max` characters (UTF-16 units, never half a pair), saying how much was cut. */
export function capDeviceText(s: string, max: number): string {
  if (s.length <= max) return s
  let end = max
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end--
  return `${s.slice(0, end)} [${s.length - end} more characters cut]`
}

export function emptyMeta(): DeviceMeta {
  return { revision: null, status: null, mode: null, version: null, arch: null, freeBytes: null }
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return capDeviceText(v, META_VALUE_MAX)
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return null
}

/**
 * GET /device-meta: values are strings, or raw JSON when the value was valid
 * JSON (a revision "0" arrives as the number 0; storage as an object).
 */
export function parseDeviceMeta(text: string, target: string): DeviceMeta {
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch {
    throw new ProtocolError(`${target}: device-meta is not JSON`)
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ProtocolError(`${target}: device-meta is not a JSON object`)
  const m = o as Record<string, unknown>
  let storage = m.storage
  if (typeof storage === 'string') {
    try {
      storage = JSON.parse(storage)
    } catch {
      storage = null
    }
  }
  const rf = (storage as { real_free?: unknown } | null)?.real_free
  return {
    revision: str(m['pantavisor.revision']),
    status: str(m['pantavisor.status']),
    mode: str(m['pantavisor.mode']),
    version: str(m['pantavisor.version']),
    arch: str(m['pantavisor.arch']),
    model: str(m['pantavisor.dtmodel']),
    freeBytes: typeof rf === 'number' && Number.isFinite(rf) && rf >= 0 ? rf : null,
  }
}

/** A step's progress JSON; ProtocolError when it is not one. */
export function parseProgress(text: string, target: string): StepProgress {
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch {
    throw new ProtocolError(`${target}: progress is not JSON: ${text.slice(0, 80)}`)
  }
  const p = o as Record<string, unknown>
  if (p === null || typeof p !== 'object' || typeof p.status !== 'string') throw new ProtocolError(`${target}: progress without a status: ${text.slice(0, 80)}`)
  return {
    status: capDeviceText(p.status, STATUS_MAX),
    statusMsg: typeof p['status-msg'] === 'string' ? capDeviceText(p['status-msg'], STATUS_MSG_MAX) : '',
    progress: typeof p.progress === 'number' ? p.progress : null,
    retries: typeof p.retries === 'number' ? p.retries : null,
    logs: typeof p.logs === 'string' ? capDeviceText(p.logs, LOGS_MAX) : null,
  }
}

/** GET /objects: `[{"sha256","size"}]` with sizes as strings. */
export function parseObjectList(text: string, target: string): Map<string, number> {
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch {
    throw new ProtocolError(`${target}: object list is not JSON`)
  }
  if (!Array.isArray(o)) throw new ProtocolError(`${target}: object list is not an array`)
  const out = new Map<string, number>()
  for (const e of o as Array<Record<string, unknown>>) {
    if (typeof e?.sha256 !== 'string') continue
    const n = Number(e.size)
    out.set(e.sha256, Number.isFinite(n) ? n : -1)
  }
  return out
}

/** The `Error` of a pv-ctrl error body, or the body itself. */
export function deviceError(body: string): string {
  try {
    const o = JSON.parse(body) as { Error?: unknown }
    if (typeof o?.Error === 'string') return capDeviceText(o.Error, DEVICE_ERROR_MAX)
  } catch {
    /* not JSON */
  }
  return capDeviceText(body.trim(), DEVICE_ERROR_MAX)
}
