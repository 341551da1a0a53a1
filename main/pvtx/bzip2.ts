/**
 * A bzip2 decompressor as a Transform stream (pvtx accepts bzip2 tarballs;
 * Node has gzip only). Written from the format: per block a CRC, the BWT
 * origin, the symbol map, 2-6 Huffman tables chosen per 50 symbols, the
 * MTF/RLE2 symbols, then the inverse BWT and the RLE1 run expansion; block
 * and stream CRCs are checked. Concatenated streams are read on. Blocks
 * written with the long-obsolete "randomised" flag are refused.
 *
 * Streaming: a block is decoded once enough compressed bytes for a whole
 * block are buffered (or the input ended), so memory stays bounded by one
 * block (at most 900 kB of BWT data) whatever the file size.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { BadArchiveError } from '../../shared/errors.js'

const BLOCK_MAGIC_HI = 0x314159
const BLOCK_MAGIC_LO = 0x265359
const END_MAGIC_HI = 0x177245
const END_MAGIC_LO = 0x385090
const MAX_CODE_LEN = 20
const GROUP_SIZE = 50
const OUT_CHUNK = 1 << 16

class NeedMore extends Error {}
const NEED_MORE = new NeedMore('need more input')

const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 24
    for (let k = 0; k < 8; k++) c = (c & 0x80000000) !== 0 ? (c << 1) ^ 0x04c11db7 : c << 1
    t[i] = c >>> 0
  }
  return t
})()

class BitReader {
  byte = 0
  bit = 0
  constructor(
    public buf: Buffer,
    private readonly final: () => boolean,
  ) {}

  bits(n: number): number {
    let v = 0
    while (n > 0) {
      if (this.byte >= this.buf.length) throw NEED_MORE
      const avail = 8 - this.bit
      const take = n < avail ? n : avail
      v = v * (1 << take) + ((this.buf[this.byte] >> (avail - take)) & ((1 << take) - 1))
      n -= take
      this.bit += take
      if (this.bit === 8) {
        this.bit = 0
        this.byte++
      }
    }
    return v
  }

  align(): void {
    if (this.bit !== 0) {
      this.bit = 0
      this.byte++
    }
  }
  get atEnd(): boolean {
    return this.final() && this.byte >= this.buf.length
  }
}

interface Table {
  limit: Int32Array
  base: Int32Array
  perm: Int32Array
  minLen: number
}

function makeTable(lengths: Uint8Array, alphaSize: number): Table {
  let minLen = 32
  let maxLen = 0
  for (let i = 0; i < alphaSize; i++) {
    minLen = Math.min(minLen, lengths[i])
    maxLen = Math.max(maxLen, lengths[i])
  }
  const perm = new Int32Array(alphaSize)
  let pp = 0
  for (let len = minLen; len <= maxLen; len++) for (let s = 0; s < alphaSize; s++) if (lengths[s] === len) perm[pp++] = s
  const count = new Int32Array(MAX_CODE_LEN + 2)
  for (let s = 0; s < alphaSize; s++) count[lengths[s]]++
  const limit = new Int32Array(MAX_CODE_LEN + 2).fill(-1)
  const base = new Int32Array(MAX_CODE_LEN + 2)
  // canonical codes: base[len] = first code of that length minus the index of its first symbol in perm
  let code = 0
  let index = 0
  for (let len = minLen; len <= maxLen; len++) {
    base[len] = code - index
    code += count[len]
    index += count[len]
    limit[len] = code - 1
    code <<= 1
  }
  return { limit, base, perm, minLen }
}

export class Bunzip2 extends Transform {
  private buf: Buffer = Buffer.alloc(0)
  private pending: Buffer[] = []
  private pendingLen = 0
  private ended = false
  private readonly rd = new BitReader(this.buf, () => this.ended)
  private blockMax = 0
  private streamCrc = 0
  private state: 'header' | 'blocks' | 'done' | 'trailing' = 'header'
  private out = Buffer.alloc(OUT_CHUNK)
  private outLen = 0
  private tt = new Uint32Array(0)

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.feed(chunk)
    try {
      this.pump(false)
    } catch (err) {
      cb(err as Error)
      return
    }
    cb()
  }

  override _flush(cb: TransformCallback): void {
    this.ended = true
    try {
      this.pump(true)
      if (this.state === 'blocks' || (this.state === 'header' && this.rd.byte === 0))
        throw new BadArchiveError('bzip2: the data ends before its end-of-stream marker (truncated)')
    } catch (err) {
      cb(err as Error)
      return
    }
    this.emitOut()
    cb()
  }

  private feed(chunk: Buffer): void {
    this.pending.push(chunk)
    this.pendingLen += chunk.length
  }

  /** Bytes available to decode; the pending chunks are joined only when they are needed. */
  private available(need: number, final: boolean): number {
    const have = this.buf.length - this.rd.byte
    if (this.pendingLen > 0 && (final || have < need)) {
      this.buf = Buffer.concat([this.buf.subarray(this.rd.byte), ...this.pending])
      this.pending = []
      this.pendingLen = 0
      this.rd.buf = this.buf
      this.rd.byte = 0
    }
    return this.buf.length - this.rd.byte + this.pendingLen
  }

  private pump(final: boolean): void {
    for (;;) {
      if (this.state === 'trailing') {
        this.rd.byte = this.buf.length
        this.rd.bit = 0
        return
      }
      const need = this.state === 'blocks' ? this.blockMax : 4
      if (this.pendingLen + this.buf.length - this.rd.byte < need && !final) return
      this.available(need, final)
      const saveByte = this.rd.byte
      const saveBit = this.rd.bit
      try {
        if (this.state === 'header' || this.state === 'done') {
          if (this.rd.atEnd) return
          if (this.state === 'done' && this.rd.bits(8) !== 0x42) {
            this.state = 'trailing'
            continue
          } // bytes after a stream that are not another one: ignored, as bzip2 does
          if (this.state === 'header' && this.rd.bits(8) !== 0x42) throw new BadArchiveError('bzip2: not a bzip2 stream (no "BZh" header)')
          if (this.rd.bits(8) !== 0x5a || this.rd.bits(8) !== 0x68) throw new BadArchiveError('bzip2: not a bzip2 stream (no "BZh" header)')
          const level = this.rd.bits(8) - 0x30
          if (level < 1 || level > 9) throw new BadArchiveError(`bzip2: bad block size ${level}`)
          this.blockMax = (level * 100000 * 5) / 4 + 4096
          if (this.tt.length < level * 100000) this.tt = new Uint32Array(level * 100000)
          this.streamCrc = 0
          this.state = 'blocks'
          continue
        }
        if (!this.block()) this.state = 'done'
        this.emitOut()
      } catch (err) {
        if (!(err instanceof NeedMore)) throw err
        this.rd.byte = saveByte
        this.rd.bit = saveBit
        if (final) throw new BadArchiveError('bzip2: the data ends in the middle of a block (truncated)')
        return
      }
    }
  }

  /** One block; false at the end-of-stream marker. */
  private block(): boolean {
    const rd = this.rd
    const hi = rd.bits(24)
    const lo = rd.bits(24)
    if (hi === END_MAGIC_HI && lo === END_MAGIC_LO) {
      const crc = rd.bits(32)
      if (crc !== this.streamCrc) throw new BadArchiveError('bzip2: stream CRC mismatch (corrupt data)')
      rd.align()
      return false
    }
    if (hi !== BLOCK_MAGIC_HI || lo !== BLOCK_MAGIC_LO) throw new BadArchiveError('bzip2: bad block header (corrupt data)')
    const blockCrc = rd.bits(32)
    if (rd.bits(1) !== 0) throw new BadArchiveError('bzip2: "randomised" blocks (bzip2 before 0.9.5) are not supported')
    const origPtr = rd.bits(24)
    // symbol map
    const used = rd.bits(16)
    const seqToUnseq: number[] = []
    for (let i = 0; i < 16; i++) {
      if ((used & (0x8000 >> i)) === 0) continue
      const bits = rd.bits(16)
      for (let j = 0; j < 16; j++) if ((bits & (0x8000 >> j)) !== 0) seqToUnseq.push(i * 16 + j)
    }
    if (seqToUnseq.length === 0) throw new BadArchiveError('bzip2: a block uses no symbols (corrupt data)')
    const alphaSize = seqToUnseq.length + 2
    const nGroups = rd.bits(3)
    const nSelectors = rd.bits(15)
    if (nGroups < 2 || nGroups > 6 || nSelectors < 1) throw new BadArchiveError('bzip2: bad Huffman table count (corrupt data)')
    const mtfGroups = Array.from({ length: nGroups }, (_, i) => i)
    const selectors = new Uint8Array(nSelectors)
    for (let i = 0; i < nSelectors; i++) {
      let j = 0
      while (rd.bits(1) === 1) {
        j++
        if (j >= nGroups) throw new BadArchiveError('bzip2: bad selector (corrupt data)')
      }
      const v = mtfGroups[j]
      mtfGroups.splice(j, 1)
      mtfGroups.unshift(v)
      selectors[i] = v
    }
    const tables: Table[] = []
    for (let g = 0; g < nGroups; g++) {
      const lengths = new Uint8Array(alphaSize)
      let len = rd.bits(5)
      for (let s = 0; s < alphaSize; s++) {
        for (;;) {
          if (len < 1 || len > MAX_CODE_LEN) throw new BadArchiveError('bzip2: bad code length (corrupt data)')
          if (rd.bits(1) === 0) break
          len += rd.bits(1) === 0 ? 1 : -1
        }
        lengths[s] = len
      }
      tables.push(makeTable(lengths, alphaSize))
    }
    // MTF + RLE2 symbols into tt (low byte), counting byte frequencies
    const tt = this.tt
    const maxBlock = tt.length
    const freq = new Int32Array(256)
    const mtf = new Uint8Array(seqToUnseq.length)
    for (let i = 0; i < mtf.length; i++) mtf[i] = i
    const unseq = Uint8Array.from(seqToUnseq)
    const eob = alphaSize - 1
    let n = 0
    let sel = 0
    let left = 0
    let table = tables[0]
    let runLen = 0
    let runBit = 1
    for (;;) {
      if (left === 0) {
        if (sel >= nSelectors) throw new BadArchiveError('bzip2: ran out of selectors (corrupt data)')
        table = tables[selectors[sel++]]
        left = GROUP_SIZE
      }
      left--
      let zn = table.minLen
      let zvec = rd.bits(zn)
      while (zvec > table.limit[zn]) {
        zn++
        if (zn > MAX_CODE_LEN) throw new BadArchiveError('bzip2: bad Huffman code (corrupt data)')
        zvec = (zvec << 1) | rd.bits(1)
      }
      const sym = table.perm[zvec - table.base[zn]]
      if (sym === undefined) throw new BadArchiveError('bzip2: bad Huffman code (corrupt data)')
      if (sym <= 1) {
        runLen += (sym + 1) * runBit
        runBit <<= 1
        continue
      }
      if (runLen > 0) {
        const b = unseq[mtf[0]]
        if (n + runLen > maxBlock) throw new BadArchiveError('bzip2: block larger than its declared size (corrupt data)')
        freq[b] += runLen
        tt.fill(b, n, n + runLen)
        n += runLen
        runLen = 0
        runBit = 1
      }
      if (sym === eob) break
      const idx = sym - 1
      const v = mtf[idx]
      for (let k = idx; k > 0; k--) mtf[k] = mtf[k - 1]
      mtf[0] = v
      const b = unseq[v]
      if (n >= maxBlock) throw new BadArchiveError('bzip2: block larger than its declared size (corrupt data)')
      freq[b]++
      tt[n++] = b
    }
    if (origPtr >= n) throw new BadArchiveError('bzip2: bad BWT origin (corrupt data)')
    // inverse BWT: tt[i] keeps its byte in the low 8 bits and gets the next position above
    const start = new Int32Array(256)
    for (let i = 1; i < 256; i++) start[i] = start[i - 1] + freq[i - 1]
    for (let i = 0; i < n; i++) {
      const b = tt[i] & 0xff
      tt[start[b]++] |= i << 8
    }
    let pos = tt[origPtr] >>> 8
    let crc = 0xffffffff
    let last = -1
    let same = 0
    for (let i = 0; i < n; i++) {
      const t = tt[pos]
      const b = t & 0xff
      pos = t >>> 8
      if (same === 4) {
        for (let k = 0; k < b; k++) {
          crc = this.put(last, crc)
        }
        same = 0
        last = -1
        continue
      }
      if (b === last) same++
      else {
        same = 1
        last = b
      }
      crc = this.put(b, crc)
    }
    crc = ~crc >>> 0
    if (crc !== blockCrc) throw new BadArchiveError('bzip2: block CRC mismatch (corrupt data)')
    this.streamCrc = (((this.streamCrc << 1) | (this.streamCrc >>> 31)) ^ crc) >>> 0
    return true
  }

  private put(b: number, crc: number): number {
    this.out[this.outLen++] = b
    if (this.outLen === OUT_CHUNK) this.emitOut()
    return ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]) >>> 0
  }

  private emitOut(): void {
    if (this.outLen === 0) return
    this.push(Buffer.from(this.out.subarray(0, this.outLen)))
    this.outLen = 0
  }
}

export function createBunzip2(): Bunzip2 {
  return new Bunzip2()
}
