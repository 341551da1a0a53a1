/** Device answers (HTTP status + body) to typed errors, the same for every driver. */
import { DeviceBusyError, DeviceRefusedError, NoSpaceError, ObjectHashMismatchError, type FieldsyncError } from '../../../shared/errors.js'
import { deviceError } from './types.js'

export type RequestKind = 'object' | 'step' | 'command' | 'other'

/** The error for a non-2xx answer to a request about `what` (e.g. `object <sha>`). */
export function answerError (status: number, body: string, kind: RequestKind, what: string, target: string, retryAfter: number | null = null): FieldsyncError {
  const msg = deviceError(body)
  const details = { status, device: target, deviceMessage: msg }
  if (status === 503) {
    return new DeviceBusyError(`${target}: the device is busy (${msg || 'an update or a command is in progress'}); ${what} will be retried`, { ...details, retryAfter })
  }
  if (status === 507) {
    return new NoSpaceError(`${target}: the device has no room for ${what} (${msg}); free space on it (fieldsync devices show lists what it holds) or install a smaller revision`, details)
  }
  if (status === 422 && kind === 'object') {
    return new ObjectHashMismatchError(`${target}: the device re-hashed ${what} and it does not match its name (${msg}); the bytes were damaged on the way or in the library (fieldsync verify)`, details)
  }
  if (status === 422 && kind === 'step') {
    return new DeviceRefusedError(`${target}: the device refused ${what}: ${msg}`, details)
  }
  return new DeviceRefusedError(`${target}: ${what}: the device answered ${status}${msg === '' ? '' : `: ${msg}`}`, details)
}

export function retryAfterOf (v: string | string[] | undefined): number | null {
  const s = Array.isArray(v) ? v[0] : v
  if (s === undefined) return null
  const n = Number(s)
  return Number.isFinite(n) && n >= 0 ? n : null
}
