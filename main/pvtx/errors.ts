/**
 * pvtx's exit statuses (upstream pvtx.c / pvtx_txn.c): scripts written for
 * the device's pvtx test them (its own test suite expects 12 from a commit of
 * a local transaction). An error thrown by a verb carries its status in
 * `details.exit`; anything else ends with 255 (upstream's -1).
 */
import { FieldsyncError, NoTransactionError, TransactionActiveError, WrongTransactionError } from '../../shared/errors.js'

export const EXIT_FAILURE = 255

export function exitStatusOf(err: unknown): number {
  const exit = err instanceof FieldsyncError ? err.details?.exit : undefined
  return typeof exit === 'number' ? exit : EXIT_FAILURE
}

/** A FieldsyncError with pvtx's exit status attached. */
export function withExit<E extends FieldsyncError>(err: E, exit: number): E {
  Object.defineProperty(err, 'details', { value: { ...(err.details ?? {}), exit }, enumerable: true })
  return err
}

export function noTransaction(exit: number, what = 'no active transaction; start one with `pvtx begin`'): FieldsyncError {
  return withExit(new NoTransactionError(what), exit)
}

export function transactionActive(exit: number): FieldsyncError {
  return withExit(
    new TransactionActiveError('a transaction is already in progress; run `pvtx abort` to discard it, or `pvtx commit` / `pvtx deploy` to finish it'),
    exit,
  )
}

export function wrongTransaction(local: boolean, exit: number): FieldsyncError {
  return withExit(
    new WrongTransactionError(
      local
        ? 'this is a local transaction (begun with an objects folder); finish it with `pvtx deploy <dir>`'
        : 'this is a remote transaction (begun without an objects folder); finish it with `pvtx commit`',
    ),
    exit,
  )
}
