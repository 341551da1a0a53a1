/**
 * The objects protocol, in one place (house rule 1): bytes of one object from
 * an offset for a length. One stream per range:
 *
 *   request  JSON {sha, offset, length}
 *   answer   JSON {size, offset, length} then exactly `length` raw bytes, then end
 *            or ERROR {code, message}
 *
 * The raw bytes are not framed: the yamux stream delimits them, and the
 * receiver reads exactly `length` (anything short is an error, anything beyond
 * is never read). Flow control is yamux's window: the receiver pauses the
 * stream when it falls behind, the sender waits for 'drain'.
 */
import { ProtocolError } from '../../../shared/errors.js'
import { isSha256Hex } from '../../../shared/ids.js'
import { isObject, isSafeUint } from '../wire.js'

export const OBJECTS_PROTOCOL = '/fieldsync/objects/1.0.0'

export const ObjectsLimits = {
  requestBytes: 512,
  headerBytes: 512,
  errorBytes: 4096,
  /**
   * Largest object a peer may offer (in `have` and in a range header): a
   * size is a promise of that many bytes to plan ranges for and write to
   * disk. Pantavisor objects are kernels, initrds and container images, so
   * far below this; a claim above it is refused, not planned (issue #15).
   */
  maxObjectBytes: 64 * 2 ** 30,
  /** Largest range one request may ask for. */
  maxRangeBytes: 64 << 20,
  /** Concurrent object streams one peer may open to us. */
  inboundStreams: 32,
  /** Size of the reads the server sends in one piece. */
  sendChunkBytes: 1 << 20,
  /** The receiver pauses the stream when this much waits unread. */
  receiveHighWater: 2 << 20,
} as const

export const ObjectsTimeouts = {
  /** From opening the stream to the answer header. */
  headerMs: 10_000,
  /** Longest silence while bytes are due: a stalled peer is dropped. */
  idleMs: 15_000,
}

export type ObjectsTimeoutsT = { -readonly [K in keyof typeof ObjectsTimeouts]: number }

export interface RangeRequest { sha: string, offset: number, length: number }
export interface RangeHeader { size: number, offset: number, length: number }

export function validateRangeRequest (v: unknown): RangeRequest {
  if (!isObject(v) || !isSha256Hex(v.sha)) throw new ProtocolError('objects: the request names no valid sha256')
  if (!isSafeUint(v.offset)) throw new ProtocolError('objects: bad offset')
  if (!isSafeUint(v.length, ObjectsLimits.maxRangeBytes) || v.length === 0) throw new ProtocolError(`objects: length must be 1..${ObjectsLimits.maxRangeBytes}`)
  return { sha: v.sha, offset: v.offset, length: v.length }
}

export function validateRangeHeader (v: unknown, req: RangeRequest): RangeHeader {
  if (!isObject(v) || !isSafeUint(v.size) || !isSafeUint(v.offset) || !isSafeUint(v.length)) throw new ProtocolError('objects: malformed answer header')
  if (v.size > ObjectsLimits.maxObjectBytes) throw new ProtocolError(`objects: the peer offers an object of ${v.size} bytes, over the limit of ${ObjectsLimits.maxObjectBytes}`)
  if (v.offset !== req.offset || v.length !== req.length) throw new ProtocolError(`objects: asked for ${req.length} bytes at ${req.offset}, the peer offers ${v.length} at ${v.offset}`)
  if (v.offset + v.length > v.size) throw new ProtocolError('objects: the range lies beyond the object size the peer gives')
  return { size: v.size, offset: v.offset, length: v.length }
}
