/**
 * Revision and object ids. The library, the CLI and the UI name them by hex
 * sha256; the peer wire (main/peers: catalog and objects) names them by CIDv1
 * (raw codec, sha2-256), as content-addressed libp2p protocols do, and the
 * CLI's `show` and the revision page print the CID beside the sha.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { BadObjectNameError } from './errors.js'
import { assertSha256Hex, bytesToHex, hexToBytes } from './hex.js'

export { SHA256_HEX, isSha256Hex, assertSha256Hex, hexToBytes, bytesToHex } from './hex.js'
export const RAW_CODEC = 0x55
export const SHA2_256 = 0x12

/** A CIDv1 (raw, sha2-256) in binary: version, codec, hash code, digest length, then the 32-byte digest. */
export const CID_BYTES = 36

/** CIDv1 (raw codec, sha2-256) of an object named by its hex sha256. */
export function shaToCid(sha: string): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA2_256, hexToBytes(assertSha256Hex(sha, 'object'))))
}

/** The CID's string form (base32, `bafkrei...`), as the wire and the user see it. */
export function cidOf(sha: string): string {
  return shaToCid(sha).toString()
}

/**
 * The hex sha256 a CID names. Only what `shaToCid` makes is accepted: CIDv1,
 * raw codec, sha2-256 with a 32-byte digest, and as a string its canonical
 * base32 spelling. Anything else is a BadObjectNameError saying what is wrong.
 */
export function cidToSha(cid: CID | string | Uint8Array): string {
  let c: CID
  if (cid instanceof Uint8Array || typeof cid === 'string') {
    const shown = typeof cid === 'string' ? JSON.stringify(cid.slice(0, 80)) : `${cid.byteLength} bytes`
    try {
      if (typeof cid === 'string' && cid.length > 100) throw new Error(`${cid.length} characters`)
      c = typeof cid === 'string' ? CID.parse(cid) : CID.decode(cid)
    } catch (err) {
      throw new BadObjectNameError(`${shown} is not a CID (${(err as Error).message})`)
    }
    if (typeof cid === 'string' && c.toString() !== cid) throw new BadObjectNameError(`${shown} is not a CID in its base32 form (${c.toString()})`)
  } else {
    c = cid
  }
  const name = c.toString().slice(0, 80)
  if (c.version !== 1) throw new BadObjectNameError(`${name}: a CIDv${c.version}, not a CIDv1`)
  if (c.code !== RAW_CODEC) throw new BadObjectNameError(`${name}: codec 0x${c.code.toString(16)}, not raw (0x55)`)
  if (c.multihash.code !== SHA2_256) throw new BadObjectNameError(`${name}: hash 0x${c.multihash.code.toString(16)}, not sha2-256 (0x12)`)
  if (c.multihash.digest.byteLength !== 32) throw new BadObjectNameError(`${name}: a digest of ${c.multihash.digest.byteLength} bytes, not 32`)
  return bytesToHex(c.multihash.digest)
}

/** Short form for display. */
export function shortId(id: string): string {
  return id.slice(0, 12)
}
