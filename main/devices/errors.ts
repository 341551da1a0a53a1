/**
 * Errors of the devices area that shared/errors.ts has no class for (kept
 * here so that the shared list is not edited by every area at once).
 */
import { FieldsyncError } from '../../shared/errors.js'

export const DeviceErrorCodes = {
  /** The device answered 503: a command or an update is in progress. Retry. */
  DeviceBusy: 'E_DEVICE_BUSY',
  /** The device's SSH host key is not the one pinned on first use. */
  HostKeyMismatch: 'E_HOST_KEY_MISMATCH',
} as const

export class DeviceBusyError extends FieldsyncError {
  static readonly code = DeviceErrorCodes.DeviceBusy
  /** Seconds the device asked to wait (Retry-After), when it said. */
  readonly retryAfter: number | null
  constructor (message: string, retryAfter: number | null, details?: Record<string, unknown>) {
    super(DeviceErrorCodes.DeviceBusy, message, details)
    this.name = 'DeviceBusyError'
    this.retryAfter = retryAfter
  }
}

export class HostKeyMismatchError extends FieldsyncError {
  static readonly code = DeviceErrorCodes.HostKeyMismatch
  constructor (message: string, details?: Record<string, unknown>) {
    super(DeviceErrorCodes.HostKeyMismatch, message, details)
    this.name = 'HostKeyMismatchError'
  }
}
