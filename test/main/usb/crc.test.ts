import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { crc32 } from 'node:zlib'
import { crc32Combine, crcShift } from '../../../main/usb/crc.js'

describe('crc32Combine', () => {
  it('equals zlib crc32 of the concatenation, for lengths from 0 to past 4 GiB', () => {
    const lengths = [0, 1, 2, 3, 5, 7, 8, 64, 511, 512, 4096, 65535, 65536, 100_003]
    for (const la of lengths) {
      for (const lb of lengths) {
        const a = randomBytes(la)
        const b = randomBytes(lb)
        assert.equal(crc32Combine(crc32(a), crc32(b), lb), crc32(Buffer.concat([a, b])), `${la} + ${lb}`)
      }
    }
    // Lengths past 2^32 (a part of a big tarball): zeros have a CRC that zlib computes in a loop.
    const zeros = Buffer.alloc(64 << 20)
    let z = 0
    for (let i = 0; i < 65; i++) z = crc32(zeros, z) // 65 · 64 MiB = 4160 MiB
    const head = randomBytes(100)
    assert.equal(crc32Combine(crc32(head), crc32Combine(0, 0, 0), 0), crc32(head))
    let expected = crc32(head)
    for (let i = 0; i < 65; i++) expected = crc32(zeros, expected)
    const zerosCrc = z
    assert.equal(crc32Combine(crc32(head), zerosCrc, 65 * (64 << 20)), expected)
  })

  it('a precomputed shift gives the same result, and folds many pieces like one pass', () => {
    const shift = crcShift(65535)
    let folded = 0
    const all: Buffer[] = []
    for (let i = 0; i < 20; i++) {
      const piece = randomBytes(65535)
      all.push(piece)
      folded = crc32Combine(folded, crc32(piece), 65535, shift)
    }
    assert.equal(folded, crc32(Buffer.concat(all)))
    assert.throws(() => crcShift(-1), RangeError)
  })
})
