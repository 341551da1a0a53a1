/** Object names: hex sha256 here, CIDv1 (raw, sha2-256) on the peer wire; only what we make is accepted back. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { ErrorCodes } from '../../shared/errors.js'
import { CID_BYTES, cidOf, cidToSha, shaToCid } from '../../shared/ids.js'

const EMPTY = createHash('sha256').update('').digest('hex')
const code = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    return (e as { code?: string }).code
  }
  return undefined
}

describe('ids: CIDs', () => {
  it('an object sha is the CIDv1 the IPFS world gives the same bytes, and back', () => {
    // The CID of the empty raw block, as `ipfs add --cid-version 1 --raw-leaves` prints it.
    assert.equal(cidOf(EMPTY), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    assert.equal(shaToCid(EMPTY).bytes.byteLength, CID_BYTES)
    assert.equal(cidToSha(cidOf(EMPTY)), EMPTY)
    assert.equal(cidToSha(shaToCid(EMPTY).bytes), EMPTY)
    assert.equal(
      code(() => shaToCid('ABC')),
      ErrorCodes.BadObjectName,
    )
  })

  it('refuses any other version, codec, hash, digest length or spelling', () => {
    const d = new Uint8Array(32).fill(1)
    const bad: unknown[] = [
      CID.createV0(Digest.create(0x12, d)).toString(),
      CID.createV1(0x70, Digest.create(0x12, d)).toString(),
      CID.createV1(0x55, Digest.create(0x13, new Uint8Array(64))).toString(),
      CID.createV1(0x55, Digest.create(0x12, d.subarray(0, 20))).bytes,
      cidOf(EMPTY).toUpperCase(),
      `${cidOf(EMPTY)}a`,
      Uint8Array.from([...shaToCid(EMPTY).bytes, 0]),
      'b'.repeat(200),
      EMPTY,
    ]
    for (const b of bad)
      assert.equal(
        code(() => cidToSha(b as string)),
        ErrorCodes.BadObjectName,
        String(b),
      )
  })
})
