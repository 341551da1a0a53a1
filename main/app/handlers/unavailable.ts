/** Handlers for an area whose service is not in this build or not running: a typed E_NOT_AVAILABLE, never fake data. */
import type { Channel } from '../../../shared/api/contract.js'
import { NotAvailableError } from '../../../shared/errors.js'
import type { Handler } from './context.js'

export function unavailable<C extends Channel> (channel: C, what: string): Handler<C> {
  return async () => { throw new NotAvailableError(`${channel}: ${what}`) }
}
