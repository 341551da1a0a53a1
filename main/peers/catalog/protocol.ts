/**
 * The catalog protocol, in one place (house rule 1): its id, messages, size
 * limits, deadlines and codecs. A stream carries one request and its answer.
 * Revisions and objects are named by CIDv1 (raw codec, sha2-256; a
 * revision's CID is that of its canonical state JSON): as base32 strings in
 * JSON, as 36 bytes each in a `have` list (shared/ids.ts).
 *
 *   hello    JSON {t:'hello', name, catalog}        -> JSON {name, revisions, catalog}
 *   list     JSON {t:'list'}                        -> JSON {revisions: [{cid, names, bytes, objects, complete}]}
 *   state    JSON {t:'state', cid}                  -> BYTES the state JSON, original bytes
 *   have     JSON {t:'have', n} + BYTES n CIDs      -> BYTES bitfield(n) + u64 BE size per set bit
 *   announce JSON {t:'announce', catalog}           -> JSON {ok:true}   (our catalog changed)
 *   any failure                                     -> ERROR {code, message}
 *
 * Version 1.0.0 named them by hex sha256; a peer that opens it gets one
 * E_PEER_VERSION error frame (wire.ts answerOlderVersion).
 */
import { ProtocolError } from '../../../shared/errors.js'
import { isRevisionName } from '../../store/library.js'
import { CID_BYTES, cidOf, shaToCid } from '../../../shared/ids.js'
import { STATE_MAX_BYTES } from '../../../shared/state/index.js'
import { isObject, isSafeUint, shaOfPeerCid, type ProtocolVersions } from '../wire.js'

export const CATALOG_PROTOCOL = '/fieldsync/catalog/2.0.0'

/** This version and the older ones an inbound stream may ask for (answered with E_PEER_VERSION). */
export const CATALOG_VERSIONS: ProtocolVersions = { id: CATALOG_PROTOCOL, older: ['/fieldsync/catalog/1.0.0'] }

export const CatalogLimits = {
  /** A JSON request frame. */
  requestBytes: 4096,
  /** Shas per `have` request (the client batches larger lists). */
  haveShas: 16384,
  /** A `list` answer: thousands of revisions fit. */
  listBytes: 8 << 20,
  revisions: 20000,
  namesPerRevision: 64,
  nameChars: 128,
  peerNameChars: 64,
  stateBytes: STATE_MAX_BYTES,
  helloBytes: 4096,
  errorBytes: 4096,
  /** Concurrent catalog streams one peer may open to us. */
  inboundStreams: 16,
} as const

export const CatalogTimeouts = {
  /** Whole request, answer included (state JSON is at most 16 MiB). */
  requestMs: 15_000,
}

export type CatalogTimeoutsT = { -readonly [K in keyof typeof CatalogTimeouts]: number }

/** A request as it crosses the wire. */
export type CatalogRequest =
  { t: 'hello'; name: string; catalog: string } | { t: 'list' } | { t: 'state'; cid: string } | { t: 'have'; n: number } | { t: 'announce'; catalog: string }

/** A request once validated: the CID of `state` is the revision's hex id. */
export type ValidCatalogRequest = Exclude<CatalogRequest, { t: 'state' }> | { t: 'state'; id: string }

export interface Hello {
  name: string
  revisions: number
  catalog: string
}

/** A revision as a peer lists it (by its hex id here; by its CID on the wire). */
export interface RemoteRevision {
  id: string
  names: string[]
  /** Sum of the known sizes of its objects. */
  bytes: number
  objects: number
  complete: boolean
}

const CATALOG_RE = /^[0-9a-f]{0,64}$/

function bad(what: string): never {
  throw new ProtocolError(`catalog: ${what}`)
}

export function cleanPeerName(v: unknown): string {
  if (typeof v !== 'string') bad('a peer name is not a string')
  // Printable only, no control characters, bounded.
  const s = v
    .replace(/[\p{C}]/gu, '')
    .trim()
    .slice(0, CatalogLimits.peerNameChars)
  return s
}

/** A request from `peer` (the handler answers a failure with an error frame). */
export function validateRequest(v: unknown, peer: string): ValidCatalogRequest {
  if (!isObject(v) || typeof v.t !== 'string') bad('a request without a type')
  switch (v.t) {
    case 'hello':
      if (typeof v.catalog !== 'string' || !CATALOG_RE.test(v.catalog)) bad('hello: bad catalog version')
      return { t: 'hello', name: cleanPeerName(v.name), catalog: v.catalog }
    case 'list':
      return { t: 'list' }
    case 'state':
      return { t: 'state', id: shaOfPeerCid(v.cid, 'catalog state request', peer) }
    case 'have':
      if (!isSafeUint(v.n, CatalogLimits.haveShas) || v.n === 0) bad(`have: n must be 1..${CatalogLimits.haveShas}`)
      return { t: 'have', n: v.n }
    case 'announce':
      if (typeof v.catalog !== 'string' || !CATALOG_RE.test(v.catalog)) bad('announce: bad catalog version')
      return { t: 'announce', catalog: v.catalog }
    default:
      bad(`unknown request type ${JSON.stringify(v.t).slice(0, 40)}`)
  }
}

export function validateHello(v: unknown): Hello {
  if (!isObject(v)) bad('hello answer is not an object')
  if (!isSafeUint(v.revisions, CatalogLimits.revisions)) bad('hello answer: bad revision count')
  if (typeof v.catalog !== 'string' || !CATALOG_RE.test(v.catalog)) bad('hello answer: bad catalog version')
  return { name: cleanPeerName(v.name), revisions: v.revisions, catalog: v.catalog }
}

/** Our revisions as a `list` answer. */
export function encodeList(revisions: readonly RemoteRevision[]): unknown {
  return { revisions: revisions.map(r => ({ cid: cidOf(r.id), names: r.names, bytes: r.bytes, objects: r.objects, complete: r.complete })) }
}

/** A `list` answer from `peer`, with each revision's CID turned into its hex id. */
export function validateList(v: unknown, peer: string): RemoteRevision[] {
  if (!isObject(v) || !Array.isArray(v.revisions)) bad('list answer has no revisions array')
  if (v.revisions.length > CatalogLimits.revisions) bad('list answer: too many revisions')
  return v.revisions.map((r: unknown, i: number) => {
    if (!isObject(r)) bad(`list answer: revision ${i} is not an object`)
    const id = shaOfPeerCid(r.cid, `catalog list answer, revision ${i}`, peer)
    if (!Array.isArray(r.names) || r.names.length > CatalogLimits.namesPerRevision || !r.names.every(n => typeof n === 'string' && isRevisionName(n)))
      bad(`list answer: revision ${i} has bad names`)
    if (!isSafeUint(r.bytes) || !isSafeUint(r.objects, 1_000_000) || typeof r.complete !== 'boolean') bad(`list answer: revision ${i} has bad sizes or flags`)
    return { id, names: r.names as string[], bytes: r.bytes, objects: r.objects, complete: r.complete }
  })
}

/** The object list of a `have` request: each sha as its binary CID, CID_BYTES each. */
export function encodeCids(shas: readonly string[]): Uint8Array {
  const out = new Uint8Array(shas.length * CID_BYTES)
  shas.forEach((s, i) => out.set(shaToCid(s).bytes, i * CID_BYTES))
  return out
}

/** The `n` objects of a `have` request from `peer`, as hex shas; every CID is checked. */
export function decodeCids(b: Uint8Array, n: number, peer: string): string[] {
  if (b.byteLength !== n * CID_BYTES) bad(`have: expected ${n} CIDs of ${CID_BYTES} bytes (${n * CID_BYTES}), got ${b.byteLength} bytes`)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(shaOfPeerCid(b.subarray(i * CID_BYTES, (i + 1) * CID_BYTES), `catalog have request, object ${i}`, peer))
  return out
}

/** Answer to `have`: a bitfield (bit i set = holds sha i) then the size of each held object. */
export function encodeHave(sizes: ReadonlyArray<number | undefined>): Uint8Array {
  const held = sizes.filter(s => s !== undefined).length
  const bits = Math.ceil(sizes.length / 8)
  const out = new Uint8Array(bits + held * 8)
  const dv = new DataView(out.buffer)
  let at = bits
  sizes.forEach((s, i) => {
    if (s === undefined) return
    out[i >> 3] |= 1 << (i & 7)
    dv.setBigUint64(at, BigInt(s))
    at += 8
  })
  return out
}

export function haveAnswerMax(n: number): number {
  return Math.ceil(n / 8) + n * 8
}

export function decodeHave(b: Uint8Array, shas: readonly string[]): Map<string, number> {
  const bits = Math.ceil(shas.length / 8)
  if (b.byteLength < bits) bad('have answer is shorter than its bitfield')
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out = new Map<string, number>()
  let at = bits
  for (let i = 0; i < shas.length; i++) {
    if ((b[i >> 3] & (1 << (i & 7))) === 0) continue
    if (at + 8 > b.byteLength) bad('have answer: sizes are missing')
    const size = dv.getBigUint64(at)
    at += 8
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) bad('have answer: an object size is out of range')
    out.set(shas[i], Number(size))
  }
  if (at !== b.byteLength) bad('have answer has trailing bytes')
  // Unused high bits of the last bitfield byte must be zero.
  if (shas.length % 8 !== 0 && b[bits - 1] >> (shas.length % 8) !== 0) bad('have answer sets bits past the list')
  return out
}
