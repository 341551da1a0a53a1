/**
 * Typed errors with stable codes (house rule 4, docs/architecture.md). One
 * table, both ways: every code has its class and its HTTP status
 * (ERROR_TABLE); errors cross IPC, HTTP and the wire as {code, message} and
 * are rebuilt into their class on the other side with `errorFromWire`. A
 * broken invariant (a bug, not a user's input) throws `BugError`.
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
  /** The peer speaks another version of a peer protocol (an older or newer Fieldsync). */
  PeerVersion: 'E_PEER_VERSION',
  DeviceUnreachable: 'E_DEVICE_UNREACHABLE',
  DeviceRefused: 'E_DEVICE_REFUSED',
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
  /** The device ran the install and ended it in ERROR, WONTGO or NOT_RUNNING. */
  InstallFailed: 'E_INSTALL_FAILED',
  /** The device answered 503: a command or an update is in progress. Retry. */
  DeviceBusy: 'E_DEVICE_BUSY',
  /** The device's SSH host key is not the one pinned on first use. */
  HostKeyMismatch: 'E_HOST_KEY_MISMATCH',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes))

/** True when `v` is one of this build's error codes. */
export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && CODES.has(v)
}

export interface WireError {
  code: ErrorCode
  message: string
  details?: Record<string, unknown>
}

export class FieldsyncError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.details = details
    this.name = 'FieldsyncError'
  }

  toWire(): WireError {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details }
  }
}

/** An error class of the table: its code, and a constructor of (message, details, options). */
export interface ErrorClass {
  readonly code: ErrorCode
  new (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }): FieldsyncError
}

function define(name: string, code: ErrorCode) {
  const cls = class extends FieldsyncError {
    static readonly code = code
    constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
      super(code, message, details, options)
      this.name = name
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

export const UsageError = define('UsageError', ErrorCodes.Usage)
/** A broken invariant: a bug in Fieldsync, never a user's input (E_INTERNAL). */
export const BugError = define('BugError', ErrorCodes.Internal)
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
/** The peer speaks another version of a peer protocol: one of the two laptops needs a newer Fieldsync. */
export const PeerVersionError = define('PeerVersionError', ErrorCodes.PeerVersion)
export const DeviceUnreachableError = define('DeviceUnreachableError', ErrorCodes.DeviceUnreachable)
export const DeviceRefusedError = define('DeviceRefusedError', ErrorCodes.DeviceRefused)
export const SignatureInvalidError = define('SignatureInvalidError', ErrorCodes.SignatureInvalid)
export const PolicyRefusedError = define('PolicyRefusedError', ErrorCodes.PolicyRefused)
/** Browser mode's gate refused a request (no or wrong token, another origin, another host). */
export const ForbiddenError = define('ForbiddenError', ErrorCodes.Forbidden)
export const NotAvailableError = define('NotAvailableError', ErrorCodes.NotAvailable)
export const StickCorruptError = define('StickCorruptError', ErrorCodes.StickCorrupt)
/** The renderer lost its connection to the core. */
export const DisconnectedError = define('DisconnectedError', ErrorCodes.Disconnected)
export const UploadCutShortError = define('UploadCutShortError', ErrorCodes.UploadCutShort)
/** The device ended an install in ERROR, WONTGO or NOT_RUNNING (the transfer's error in the app). */
export const InstallFailedError = define('InstallFailedError', ErrorCodes.InstallFailed)
/** pvtx: no transaction (or queue) is in progress. */
export const NoTransactionError = define('NoTransactionError', ErrorCodes.NoTransaction)
/** pvtx: a transaction is in progress already. */
export const TransactionActiveError = define('TransactionActiveError', ErrorCodes.TransactionActive)
/** pvtx: a local transaction asked to commit, or a remote one to deploy. */
export const WrongTransactionError = define('WrongTransactionError', ErrorCodes.WrongTransaction)

/** The device is busy (503); `retryAfter` is the seconds it asked to wait (Retry-After), when it said. */
export class DeviceBusyError extends FieldsyncError {
  static readonly code = ErrorCodes.DeviceBusy
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(ErrorCodes.DeviceBusy, message, details, options)
    this.name = 'DeviceBusyError'
  }

  get retryAfter(): number | null {
    const v = this.details?.retryAfter
    return typeof v === 'number' ? v : null
  }
}
/** The device's SSH host key is not the one pinned on first use. */
export const HostKeyMismatchError = define('HostKeyMismatchError', ErrorCodes.HostKeyMismatch)

/**
 * THE table: each code's class and the HTTP status browser mode answers it
 * with (the body always carries the {code, message} envelope). Complete by
 * type: a new code does not compile until it has its row.
 */
export const ERROR_TABLE: { readonly [C in ErrorCode]: { readonly cls: ErrorClass; readonly http: number } } = {
  E_USAGE: { cls: UsageError, http: 400 },
  E_INTERNAL: { cls: BugError, http: 500 },
  E_ABORTED: { cls: AbortedError, http: 409 },
  E_INVALID_STATE: { cls: InvalidStateError, http: 400 },
  E_STATE_TOO_LARGE: { cls: StateTooLargeError, http: 400 },
  E_BAD_ARCHIVE: { cls: BadArchiveError, http: 400 },
  E_UNSAFE_ENTRY: { cls: UnsafeEntryError, http: 400 },
  E_BAD_OBJECT_NAME: { cls: BadObjectNameError, http: 400 },
  E_OBJECT_HASH_MISMATCH: { cls: ObjectHashMismatchError, http: 422 },
  E_OBJECT_MISSING: { cls: ObjectMissingError, http: 409 },
  E_UNKNOWN_REVISION: { cls: UnknownRevisionError, http: 404 },
  E_AMBIGUOUS_REVISION: { cls: AmbiguousRevisionError, http: 400 },
  E_INCOMPLETE_REVISION: { cls: IncompleteRevisionError, http: 409 },
  E_NOT_FOUND: { cls: NotFoundError, http: 404 },
  E_BAD_INPUT: { cls: BadInputError, http: 400 },
  E_DB_TOO_NEW: { cls: DatabaseTooNewError, http: 500 },
  E_NO_SPACE: { cls: NoSpaceError, http: 507 },
  E_READ_ONLY: { cls: ReadOnlyError, http: 500 },
  E_BUSY: { cls: BusyError, http: 503 },
  E_TIMEOUT: { cls: TimeoutError, http: 504 },
  E_PROTOCOL: { cls: ProtocolError, http: 502 },
  E_PEER_UNAVAILABLE: { cls: PeerUnavailableError, http: 502 },
  E_NOT_IN_TEAM: { cls: NotInTeamError, http: 409 },
  E_PEER_VERSION: { cls: PeerVersionError, http: 502 },
  E_DEVICE_UNREACHABLE: { cls: DeviceUnreachableError, http: 502 },
  E_DEVICE_REFUSED: { cls: DeviceRefusedError, http: 502 },
  E_INSTALL_FAILED: { cls: InstallFailedError, http: 409 },
  E_DEVICE_BUSY: { cls: DeviceBusyError, http: 503 },
  E_HOST_KEY_MISMATCH: { cls: HostKeyMismatchError, http: 502 },
  E_SIGNATURE_INVALID: { cls: SignatureInvalidError, http: 409 },
  E_POLICY_REFUSED: { cls: PolicyRefusedError, http: 409 },
  E_FORBIDDEN: { cls: ForbiddenError, http: 403 },
  E_NOT_AVAILABLE: { cls: NotAvailableError, http: 501 },
  E_STICK_CORRUPT: { cls: StickCorruptError, http: 422 },
  E_DISCONNECTED: { cls: DisconnectedError, http: 503 },
  E_UPLOAD_CUT_SHORT: { cls: UploadCutShortError, http: 400 },
  E_NO_TRANSACTION: { cls: NoTransactionError, http: 409 },
  E_TRANSACTION_ACTIVE: { cls: TransactionActiveError, http: 409 },
  E_WRONG_TRANSACTION: { cls: WrongTransactionError, http: 409 },
}

/** The HTTP status of an error code (500 for a code this build does not know). */
export function httpStatusOf(code: string): number {
  return isErrorCode(code) ? ERROR_TABLE[code].http : 500
}

/**
 * Rebuild an error that crossed IPC or the wire into its class. A code this
 * build does not know (a newer peer's) becomes a ProtocolError that keeps
 * it in details.code.
 */
export function errorFromWire(w: { code?: unknown; message?: unknown; details?: unknown }): FieldsyncError {
  const message = String(w.message)
  const details = w.details !== null && typeof w.details === 'object' && !Array.isArray(w.details) ? (w.details as Record<string, unknown>) : undefined
  if (isErrorCode(w.code)) return new ERROR_TABLE[w.code].cls(message, details)
  return new ProtocolError(`${message} (error code ${String(w.code)}, unknown to this version)`, { ...details, code: String(w.code) })
}

/** Turn anything thrown into a wire error, keeping codes of known errors. */
export function toWireError(err: unknown): WireError {
  if (err instanceof FieldsyncError) return err.toWire()
  if (err instanceof Error && err.name === 'AbortError') return { code: ErrorCodes.Aborted, message: 'the operation was cancelled' }
  if (err instanceof Error && err.name === 'TimeoutError') return { code: ErrorCodes.Timeout, message: err.message }
  const e = err as { code?: unknown; message?: unknown }
  // SQLite's 'database or disk is full' (better-sqlite3 gives its code as SQLITE_FULL).
  if (e?.code === 'ENOSPC' || e?.code === 'SQLITE_FULL') return { code: ErrorCodes.NoSpace, message: String(e.message ?? 'no space left on device') }
  // SQLite's 'database is locked' (SQLITE_BUSY and its extended codes): another process held the index past the busy timeout.
  if (typeof e?.code === 'string' && e.code.startsWith('SQLITE_BUSY')) {
    return {
      code: ErrorCodes.Busy,
      message: `the library's index is busy: another Fieldsync process held it longer than this one waits (${String(e.message ?? 'database is locked')}); run the command again`,
    }
  }
  if (e?.code === 'EROFS') return { code: ErrorCodes.ReadOnly, message: String(e.message ?? 'read-only file system') }
  return { code: ErrorCodes.Internal, message: err instanceof Error ? err.message : String(err) }
}

export function isCode(err: unknown, code: ErrorCode): boolean {
  return (err as { code?: unknown } | null)?.code === code
}
