/**
 * Typed errors with stable codes (house rule 4). Every failure the user can
 * meet has a class here; errors cross IPC and the wire as {code, message} and
 * are rebuilt on the other side with `errorFromWire`.
 */

export const ErrorCodes = {
  Usage: 'E_USAGE',
  Internal: 'E_INTERNAL',
  Aborted: 'E_ABORTED',
  InvalidState: 'E_INVALID_STATE',
  StateTooLarge: 'E_STATE_TOO_LARGE',
  BadArchive: 'E_BAD_ARCHIVE',
  UnsafeEntry: 'E_UNSAFE_ENTRY',
  BadObjectName: 'E_BAD_OBJECT_NAME',
  ObjectHashMismatch: 'E_OBJECT_HASH_MISMATCH',
  ObjectMissing: 'E_OBJECT_MISSING',
  UnknownRevision: 'E_UNKNOWN_REVISION',
  AmbiguousRevision: 'E_AMBIGUOUS_REVISION',
  IncompleteRevision: 'E_INCOMPLETE_REVISION',
  NotFound: 'E_NOT_FOUND',
  BadInput: 'E_BAD_INPUT',
  DatabaseTooNew: 'E_DB_TOO_NEW',
  NoSpace: 'E_NO_SPACE',
  ReadOnly: 'E_READ_ONLY',
  Busy: 'E_BUSY',
  Timeout: 'E_TIMEOUT',
  Protocol: 'E_PROTOCOL',
  PeerUnavailable: 'E_PEER_UNAVAILABLE',
  NotInTeam: 'E_NOT_IN_TEAM',
  DeviceUnreachable: 'E_DEVICE_UNREACHABLE',
  DeviceRefused: 'E_DEVICE_REFUSED',
  InstallFailed: 'E_INSTALL_FAILED',
  SignatureInvalid: 'E_SIGNATURE_INVALID',
  PolicyRefused: 'E_POLICY_REFUSED',
  Forbidden: 'E_FORBIDDEN',
  NotAvailable: 'E_NOT_AVAILABLE',
  StickCorrupt: 'E_STICK_CORRUPT',
  Disconnected: 'E_DISCONNECTED',
  UploadCutShort: 'E_UPLOAD_CUT_SHORT',
  NoTransaction: 'E_NO_TRANSACTION',
  TransactionActive: 'E_TRANSACTION_ACTIVE',
  WrongTransaction: 'E_WRONG_TRANSACTION',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface WireError {
  code: string
  message: string
  details?: Record<string, unknown>
}

export class FieldsyncError extends Error {
  readonly code: string
  readonly details?: Record<string, unknown>
  constructor (code: string, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.details = details
    this.name = 'FieldsyncError'
  }

  toWire (): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

function define (name: string, code: ErrorCode) {
  const cls = class extends FieldsyncError {
    static readonly code = code
    constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
      super(code, message, details, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

export const UsageError = define('UsageError', ErrorCodes.Usage)
export const InternalError = define('InternalError', ErrorCodes.Internal)
export const AbortedError = define('AbortedError', ErrorCodes.Aborted)
export const InvalidStateError = define('InvalidStateError', ErrorCodes.InvalidState)
export const StateTooLargeError = define('StateTooLargeError', ErrorCodes.StateTooLarge)
export const BadArchiveError = define('BadArchiveError', ErrorCodes.BadArchive)
export const UnsafeEntryError = define('UnsafeEntryError', ErrorCodes.UnsafeEntry)
export const BadObjectNameError = define('BadObjectNameError', ErrorCodes.BadObjectName)
export const ObjectHashMismatchError = define('ObjectHashMismatchError', ErrorCodes.ObjectHashMismatch)
export const ObjectMissingError = define('ObjectMissingError', ErrorCodes.ObjectMissing)
export const UnknownRevisionError = define('UnknownRevisionError', ErrorCodes.UnknownRevision)
export const AmbiguousRevisionError = define('AmbiguousRevisionError', ErrorCodes.AmbiguousRevision)
export const IncompleteRevisionError = define('IncompleteRevisionError', ErrorCodes.IncompleteRevision)
export const NotFoundError = define('NotFoundError', ErrorCodes.NotFound)
export const BadInputError = define('BadInputError', ErrorCodes.BadInput)
export const DatabaseTooNewError = define('DatabaseTooNewError', ErrorCodes.DatabaseTooNew)
export const NoSpaceError = define('NoSpaceError', ErrorCodes.NoSpace)
export const ReadOnlyError = define('ReadOnlyError', ErrorCodes.ReadOnly)
/** Another process holds the library (gc waits for writers, writers wait for gc) past the wait allowed. */
export const BusyError = define('BusyError', ErrorCodes.Busy)
export const TimeoutError = define('TimeoutError', ErrorCodes.Timeout)
export const ProtocolError = define('ProtocolError', ErrorCodes.Protocol)
export const PeerUnavailableError = define('PeerUnavailableError', ErrorCodes.PeerUnavailable)
export const NotInTeamError = define('NotInTeamError', ErrorCodes.NotInTeam)
export const DeviceUnreachableError = define('DeviceUnreachableError', ErrorCodes.DeviceUnreachable)
export const DeviceRefusedError = define('DeviceRefusedError', ErrorCodes.DeviceRefused)
export const InstallFailedError = define('InstallFailedError', ErrorCodes.InstallFailed)
export const SignatureInvalidError = define('SignatureInvalidError', ErrorCodes.SignatureInvalid)
export const PolicyRefusedError = define('PolicyRefusedError', ErrorCodes.PolicyRefused)
export const ForbiddenError = define('ForbiddenError', ErrorCodes.Forbidden)
export const NotAvailableError = define('NotAvailableError', ErrorCodes.NotAvailable)
export const StickCorruptError = define('StickCorruptError', ErrorCodes.StickCorrupt)
export const DisconnectedError = define('DisconnectedError', ErrorCodes.Disconnected)
export const UploadCutShortError = define('UploadCutShortError', ErrorCodes.UploadCutShort)
/** pvtx: no transaction (or queue) is in progress. */
export const NoTransactionError = define('NoTransactionError', ErrorCodes.NoTransaction)
/** pvtx: a transaction is in progress already. */
export const TransactionActiveError = define('TransactionActiveError', ErrorCodes.TransactionActive)
/** pvtx: a local transaction asked to commit, or a remote one to deploy. */
export const WrongTransactionError = define('WrongTransactionError', ErrorCodes.WrongTransaction)

/** Rebuild an error that crossed IPC or the wire. */
export function errorFromWire (w: WireError): FieldsyncError {
  return new FieldsyncError(String(w.code), String(w.message), w.details)
}

/** Turn anything thrown into a wire error, keeping codes of known errors. */
export function toWireError (err: unknown): WireError {
  if (err instanceof FieldsyncError) return err.toWire()
  if (err instanceof Error && err.name === 'AbortError') return { code: ErrorCodes.Aborted, message: 'the operation was cancelled' }
  if (err instanceof Error && err.name === 'TimeoutError') return { code: ErrorCodes.Timeout, message: err.message }
  const e = err as { code?: unknown, message?: unknown }
  // SQLite's 'database or disk is full' (better-sqlite3 gives its code as SQLITE_FULL).
  if (e?.code === 'ENOSPC' || e?.code === 'SQLITE_FULL') return { code: ErrorCodes.NoSpace, message: String(e.message ?? 'no space left on device') }
  if (e?.code === 'EROFS') return { code: ErrorCodes.ReadOnly, message: String(e.message ?? 'read-only file system') }
  return { code: ErrorCodes.Internal, message: err instanceof Error ? err.message : String(err) }
}

export function isCode (err: unknown, code: string): boolean {
  return (err as { code?: unknown } | null)?.code === code
}
