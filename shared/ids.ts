/** Revision and object ids: hex sha256, with CIDv1 (raw, sha2-256) for the wire. */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BadObjectNameError } from './errors.js'

export const SHA256_HEX = /^[0-9a-f]{64}$/
export const RAW_CODEC = 0x55
export const SHA2_256 = 0x12

export function isSha256Hex (s: unknown): s is string {
  return typeof s === 'string' && SHA256_HEX.test(s)
}

export function assertSha256Hex (s: unknown, what: string): string {
  if (!isSha256Hex(s)) throw new BadObjectNameError(`${what}: ${JSON.stringify(s)} is not a sha256 (64 lowercase hex characters)`)
  return s
}

export function hexToBytes (hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function bytesToHex (b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0')
  return s
}

/** CIDv1 (raw codec, sha2-256) of an object named by its hex sha256. */
export function shaToCid (sha: string): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, hexToBytes(assertSha256Hex(sha, 'object'))))
}

export function cidToSha (cid: CID | string): string {
  const c = typeof cid === 'string' ? CID.parse(cid) : cid
  if (c.multihash.code !== SHA2_256) throw new BadObjectNameError(`${c.toString()}: not a sha2-256 CID`)
  return bytesToHex(c.multihash.digest)
}

/** Short form for display. */
export function shortId (id: string): string {
  return id.slice(0, 12)
}
