/** The ObjectFetcher's bookkeeping: what each object and each peer of a pull is up to. */
import { ErrorCodes, PeerUnavailableError, ProtocolError, TimeoutError } from '../../../shared/errors.js'
import type { PartialFile } from './partials.js'
import type { Range } from './ranges.js'

export interface Piece {
  range: Range
  avoid?: string
}
export interface Contribution {
  range: Range
  peer: string
}

export interface Obj {
  sha: string
  size: number
  holders: Set<string>
  file?: PartialFile
  opening?: Promise<PartialFile>
  queue: Piece[]
  inflight: number
  contributions: Contribution[]
  /** Pieces of failed attempts: who sent them and what they hashed to. */
  history: Array<{ range: Range; peer: string; digest: string }>
  attempts: number
  /** After a bad hash: the one peer this attempt may use. */
  singleSource?: string
  tried: Set<string>
  state: 'pending' | 'finishing' | 'done' | 'failed'
  error?: Error
  /** Holders dropped from the pull, and why (the error when none is left). */
  lost: Array<{ peer: string; reason: string; code: string }>
}

export interface PeerState {
  failures: number
  dropped: boolean
  slots: number
  active: number
  /** A range of it was cut as slow: it gets work only when no faster peer can take it (until one of its ranges completes). */
  slow: boolean
}

export const newPeer = (): PeerState => ({ failures: 0, dropped: false, slots: 0, active: 0, slow: false })

/** An object whose every holder was dropped fails with the reason of the last one. */
export function orphanError(o: Obj): Error {
  const last = o.lost[o.lost.length - 1]
  const why = last === undefined ? '' : ` (last: peer ${last.peer} was dropped: ${last.reason})`
  return peerFailure(last?.code, `object ${o.sha}: no team peer that has it can send it any more${why}; partial bytes are kept, pull again later`, {
    sha: o.sha,
    dropped: o.lost.slice(-5),
  })
}

/**
 * A pull's failure because of what its peers did, with the code of the cause
 * (`cause`: the code of the peer's own error) so the user sees a timeout or a
 * protocol violation as such; anything else is E_PEER_UNAVAILABLE.
 */
export function peerFailure(cause: unknown, message: string, details: Record<string, unknown>): Error {
  if (cause === ErrorCodes.Timeout) return new TimeoutError(message, details)
  if (cause === ErrorCodes.Protocol) return new ProtocolError(message, details)
  return new PeerUnavailableError(message, details)
}
