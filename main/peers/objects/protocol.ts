/**
 * The objects protocol, in one place (house rule 1): bytes of one object from
 * an offset for a length. One stream per range:
 *
 *   request  JSON {cid, offset, length}       (cid: CIDv1, raw, sha2-256, base32)
 *   answer   JSON {size, offset, length} then exactly `length` raw bytes, then end
 *            or ERROR {code, message}
 *
 * The raw bytes are not framed: the yamux stream delimits them, and the
 * receiver reads exactly `length` (anything short is an error, anything beyond
 * is never read). Flow control is yamux's window: the receiver pauses the
 * stream when it falls behind, the sender waits for 'drain'.
 *
 * Version 1.0.0 named the object by hex sha256; a peer that opens it gets one
 * E_PEER_VERSION error frame (wire.ts answerOlderVersion).
 */
import { ProtocolError } from '../../../shared/errors.js'
import { cidOf } from '../../../shared/ids.js'
import { isObject, isSafeUint, shaOfPeerCid, type ProtocolVersions } from '../wire.js'

export const OBJECTS_PROTOCOL = '/fieldsync/objects/2.0.0'

/** This version and the older ones an inbound stream may ask for (answered with E_PEER_VERSION). */
export const OBJECTS_VERSIONS: ProtocolVersions = { id: OBJECTS_PROTOCOL, older: ['/fieldsync/objects/1.0.0'] }

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

/** A range of an object named by its hex sha256 (its CID on the wire). */
export interface RangeRequest {
  sha: string
  offset: number
  length: number
}
export interface RangeHeader {
  size: number
  offset: number
  length: number
}

/** The request as it crosses the wire. */
export function encodeRangeRequest(req: RangeRequest): unknown {
  return { cid: cidOf(req.sha), offset: req.offset, length: req.length }
}

/** A request from `peer`, its CID turned into the sha the library knows. */
export function validateRangeRequest(v: unknown, peer: string): RangeRequest {
  if (!isObject(v)) throw new ProtocolError('objects: the request is not an object')
  const sha = shaOfPeerCid(v.cid, 'objects request', peer)
  if (!isSafeUint(v.offset)) throw new ProtocolError('objects: bad offset')
  if (!isSafeUint(v.length, ObjectsLimits.maxRangeBytes) || v.length === 0) throw new ProtocolError(`objects: length must be 1..${ObjectsLimits.maxRangeBytes}`)
  return { sha, offset: v.offset, length: v.length }
}

export function validateRangeHeader(v: unknown, req: RangeRequest): RangeHeader {
  if (!isObject(v) || !isSafeUint(v.size) || !isSafeUint(v.offset) || !isSafeUint(v.length)) throw new ProtocolError('objects: malformed answer header')
  if (v.size > ObjectsLimits.maxObjectBytes)
    throw new ProtocolError(`objects: the peer offers an object of ${v.size} bytes, over the limit of ${ObjectsLimits.maxObjectBytes}`)
  if (v.offset !== req.offset || v.length !== req.length)
    throw new ProtocolError(`objects: asked for ${req.length} bytes at ${req.offset}, the peer offers ${v.length} at ${v.offset}`)
  if (v.offset + v.length > v.size) throw new ProtocolError('objects: the range lies beyond the object size the peer gives')
  return { size: v.size, offset: v.offset, length: v.length }
}
