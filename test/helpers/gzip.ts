/**
 * Reads the deflate blocks of a one-member gzip file (RFC 1952 with no
 * optional header fields, as Node and Fieldsync write it): whether every
 * block is stored (RFC 1951 BTYPE 00, level 0) and what the tar inside
 * would weigh. Stored blocks end byte-aligned, so each next header starts
 * a byte; the first non-stored block ends the walk.
 */
export interface DeflateBlocks {
  /** Every block is stored and they end exactly at the 8-byte trailer. */
  storedOnly: boolean
  blocks: number
  /** BTYPE of the first block (0 stored, 1 fixed Huffman, 2 dynamic). */
  firstType: number
}

export function deflateBlocks(gz: Uint8Array): DeflateBlocks {
  const b = Buffer.from(gz.buffer, gz.byteOffset, gz.byteLength)
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) throw new Error('not a gzip member')
  if (b[3] !== 0) throw new Error('gzip header has optional fields: not written by Node or Fieldsync')
  let pos = 10
  const firstType = (b[pos] >> 1) & 3
  let blocks = 0
  for (;;) {
    const head = b[pos]
    if (((head >> 1) & 3) !== 0) return { storedOnly: false, blocks, firstType }
    const len = b.readUInt16LE(pos + 1)
    if ((len ^ b.readUInt16LE(pos + 3)) !== 0xffff) return { storedOnly: false, blocks, firstType }
    pos += 5 + len
    blocks++
    if ((head & 1) === 1) break
  }
  return { storedOnly: pos + 8 === b.length, blocks, firstType }
}
