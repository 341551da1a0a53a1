/** Device answers (HTTP status + body) to typed errors, the same for every driver. */
import { DeviceBusyError, DeviceRefusedError, NoSpaceError, ObjectHashMismatchError, type FieldsyncError } from '../../../shared/errors.js'
import { deviceError } from './types.js'

export type RequestKind = 'object' | 'step' | 'command' | 'other'

/** The error for a non-2xx answer to a request about `what` (e.g. `object <sha>`). */
/** pv-ctrl's answer to a caller it cannot place inside the device. */
const OUTSIDE_CALLER = /"Error"\s*:\s*"Internal error(, unknown caller)?"/i

export function answerError(status: number, body: string, kind: RequestKind, what: string, target: string, retryAfter: number | null = null): FieldsyncError {
  const msg = deviceError(body)
  const details = { status, device: target, deviceMessage: msg }
  if (status === 503) {
    return new DeviceBusyError(`${target}: the device is busy (${msg || 'an update or a command is in progress'}); ${what} will be retried`, {
      ...details,
      retryAfter,
    })
  }
  if (status === 507) {
    return new NoSpaceError(
      `${target}: the device has no room for ${what} (${msg}); free space on it (fieldsync devices show lists what it holds) or install a smaller revision`,
      details,
    )
  }
  if (status === 422 && kind === 'object') {
    return new ObjectHashMismatchError(
      `${target}: the device re-hashed ${what} and it does not match its name (${msg}); the bytes were damaged on the way or in the library (fieldsync verify)`,
      details,
    )
  }
  if (status === 422 && kind === 'step') {
    return new DeviceRefusedError(`${target}: the device refused ${what}: ${msg}`, details)
  }
  if (status === 500 && target.startsWith('unix:') && OUTSIDE_CALLER.test(body)) {
    // pv-ctrl identifies its caller by pid and cgroup (ctrl/ctrl_caller.c): a process outside the
    // device's namespaces gets "Internal Error" (ctrl/ctrl_util.c pv_ctrl_utils_is_req_ok) or, on
    // /steps, "Internal error, unknown caller" (ctrl/ctrl.c), to every request.
    return new DeviceRefusedError(
      `${target}: ${what}: pv-ctrl answered 500 "Internal Error": it serves only callers inside the device (it identifies them by pid and cgroup). Run Fieldsync in a management container on the device, reach it through one (--via ssh), or through a relay inside the device`,
      { ...details, outsideDevice: true },
    )
  }
  return new DeviceRefusedError(`${target}: ${what}: the device answered ${status}${msg === '' ? '' : `: ${msg}`}`, details)
}

export function retryAfterOf(v: string | string[] | undefined): number | null {
  const s = Array.isArray(v) ? v[0] : v
  if (s === undefined) return null
  const n = Number(s)
  return Number.isFinite(n) && n >= 0 ? n : null
}
