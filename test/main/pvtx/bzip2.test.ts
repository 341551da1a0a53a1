/**
 * The bzip2 decoder against Debian's bzip2: what it compresses (runs,
 * random bytes, zeros, several streams, every block size) comes back byte for
 * byte through any chunking; damage and truncation are BadArchive errors.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Readable } from 'node:stream'
import { createBunzip2 } from '../../../main/pvtx/bzip2.js'
import { isCode } from '../../../shared/errors.js'

const hasBzip2 = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v bzip2'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

function bzip2(data: Buffer, level = 9): Buffer {
  return execFileSync('bzip2', [`-${level}`, '-c'], { input: data, maxBuffer: 1 << 28 })
}

async function bunzip2(data: Buffer, chunk = 65536): Promise<Buffer> {
  const parts: Buffer[] = []
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk))
  const out: Buffer[] = []
  for await (const c of Readable.from(parts).pipe(createBunzip2())) out.push(c as Buffer)
  return Buffer.concat(out)
}

function sample(): Buffer {
  // runs longer than RLE1's 4+255, text, random bytes, a long zero stretch
  return Buffer.concat([
    Buffer.alloc(1000, 'a'),
    Buffer.from('pantavisor '.repeat(20000)),
    randomBytes(300_000),
    Buffer.alloc(400_000),
    Buffer.from([1, 1, 1, 1, 1, 2]),
  ])
}

describe('bzip2 decoder', { skip: hasBzip2 ? false : 'bzip2 not installed (apt-get install bzip2)' }, () => {
  it('decodes what bzip2 -1 and -9 write, whatever the chunk size', async () => {
    const data = sample()
    for (const level of [1, 9]) {
      const z = bzip2(data, level)
      for (const chunk of [1 << 20, 4093, 17]) {
        if (chunk === 17 && level === 9) continue // slow for nothing new
        assert.ok((await bunzip2(z, chunk)).equals(data), `level ${level}, chunks of ${chunk}`)
      }
    }
  })

  it('reads concatenated streams (pbzip2, cat a.bz2 b.bz2) and empty input data', async () => {
    const a = Buffer.from('first stream\n')
    const b = randomBytes(5000)
    assert.ok((await bunzip2(Buffer.concat([bzip2(a), bzip2(b)]))).equals(Buffer.concat([a, b])))
    assert.equal((await bunzip2(bzip2(Buffer.alloc(0)))).length, 0)
  })

  it('refuses a damaged block (CRC) and a truncated stream', async () => {
    const z = bzip2(Buffer.from('pantavisor '.repeat(5000)))
    const bad = Buffer.from(z)
    bad[Math.floor(bad.length / 2)] ^= 0x10
    await assert.rejects(bunzip2(bad), (e: unknown) => isCode(e, 'E_BAD_ARCHIVE'))
    await assert.rejects(bunzip2(z.subarray(0, z.length - 20)), (e: unknown) => isCode(e, 'E_BAD_ARCHIVE') && /truncated|CRC/.test((e as Error).message))
    await assert.rejects(bunzip2(Buffer.from('not bzip2 at all')), (e: unknown) => isCode(e, 'E_BAD_ARCHIVE'))
  })
})
