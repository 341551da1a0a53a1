/**
 * A pvr export tarball as a .tgz whose gzip member uses only stored deflate
 * blocks (RFC 1951 BTYPE 00): objects are squashfs images, already
 * compressed, and deflate would cost far more time than it saves. Any gzip
 * reader (busybox tar z, gunzip, Node) reads it. Stored blocks have a fixed
 * size, so the file's exact length follows from the tar's: the free-space
 * check knows the bytes before anything is written.
 *
 * The tar part matches main/store/export.ts byte for byte (ustar headers
 * with fixed fields, `json` first, `objects/<sha>` once each, two zero
 * blocks at the end): gunzipped, the file equals `fieldsync export x.tar`.
 */
import { crc32 } from 'node:zlib'
import { crc32Combine, crcShift } from './crc.js'

const BLOCK = 65535
const BLOCK_HDR = 5
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03])
const GZIP_TRAILER = 8
const ZEROS = Buffer.alloc(1024)
const BLOCK_SHIFT = crcShift(BLOCK)

export interface TarEntry {
  name: string
  size: number
}

/** Bytes of the tar stream for these entries (headers, padded data, end blocks). */
export function tarSize(entries: readonly TarEntry[]): number {
  let n = 1024
  for (const e of entries) n += 512 + pad512(e.size)
  return n
}

/** Exact bytes of the .tgz for a tar stream of `tarBytes`. */
export function tgzSize(tarBytes: number): number {
  const blocks = Math.floor(tarBytes / BLOCK) + 1
  return GZIP_HEADER.length + tarBytes + BLOCK_HDR * blocks + GZIP_TRAILER
}

export function pad512(n: number): number {
  return Math.ceil(n / 512) * 512
}

function octal(buf: Buffer, value: number, off: number, digits: number): void {
  const s = value.toString(8)
  if (s.length > digits) throw new RangeError(`tar field ${value} does not fit ${digits} octal digits`)
  buf.write(s.padStart(digits, '0') + ' ', off, 'latin1')
}

/** A ustar header as tar-stream writes it with the fixed fields of the library's export. */
export function tarHeader(entry: TarEntry & { type?: 'file' | 'directory' }): Buffer {
  const h = Buffer.alloc(512)
  if (Buffer.byteLength(entry.name) > 100) throw new RangeError(`tar entry name ${entry.name} is over 100 bytes`)
  h.write(entry.name, 0, 'utf8')
  const dir = entry.type === 'directory'
  octal(h, dir ? 0o755 : 0o644, 100, 6)
  octal(h, 0, 108, 6)
  octal(h, 0, 116, 6)
  if (entry.size.toString(8).length > 11) {
    // GNU base-256 for sizes of 8 GiB and more (tar-stream, GNU tar and busybox read it).
    h[124] = 0x80
    let v = entry.size
    for (let i = 11; i > 0; i--) {
      h[124 + i] = v % 256
      v = Math.floor(v / 256)
    }
  } else {
    octal(h, entry.size, 124, 11)
  }
  octal(h, 0, 136, 11)
  h[156] = dir ? 0x35 : 0x30
  h.write('ustar\0', 257, 'latin1')
  h.write('00', 263, 'latin1')
  octal(h, 0, 329, 6)
  octal(h, 0, 337, 6)
  let sum = 8 * 32
  for (let i = 0; i < 148; i++) sum += h[i]
  for (let i = 156; i < 512; i++) sum += h[i]
  octal(h, sum, 148, 6)
  return h
}

/**
 * Encodes a byte stream as one gzip member of stored blocks of exactly
 * 65535 bytes (the last one shorter, possibly empty, with BFINAL set).
 * Each block is gathered with its 5-byte header in one reused buffer and
 * handed to `sink`, which must be done with it when its promise resolves
 * (the PartedFileWriter copies it into its write slots). One CRC-32 pass
 * over each block's data gives both the gzip trailer's CRC and the CRC of
 * the buffer handed on (header included), which `sink` gets with it.
 */
export class StoredGzipEncoder {
  private readonly block = Buffer.allocUnsafe(BLOCK_HDR + BLOCK)
  private inBlock = 0
  private started = false
  private crc = 0
  private isize = 0

  /** `crc`: the CRC-32 of all of `b`. */
  constructor(private readonly sink: (b: Uint8Array, crc: number) => Promise<void>) {}

  /** Write the block header; fold the block's data into the gzip CRC; return the CRC of header and data. */
  private seal(final: boolean, len: number, shift: number): number {
    this.block[0] = final ? 1 : 0
    this.block.writeUInt16LE(len, 1)
    this.block.writeUInt16LE(len ^ 0xffff, 3)
    const data = crc32(this.block.subarray(BLOCK_HDR, BLOCK_HDR + len))
    this.crc = crc32Combine(this.crc, data, len, shift)
    return crc32Combine(crc32(this.block.subarray(0, BLOCK_HDR)), data, len, shift)
  }

  async write(data: Uint8Array): Promise<void> {
    if (!this.started) {
      this.started = true
      await this.sink(GZIP_HEADER, crc32(GZIP_HEADER))
    }
    this.isize = (this.isize + data.length) % 0x100000000
    let off = 0
    while (off < data.length) {
      const n = Math.min(BLOCK - this.inBlock, data.length - off)
      this.block.set(data.subarray(off, off + n), BLOCK_HDR + this.inBlock)
      this.inBlock += n
      off += n
      if (this.inBlock === BLOCK) {
        const crc = this.seal(false, BLOCK, BLOCK_SHIFT)
        this.inBlock = 0
        await this.sink(this.block, crc)
      }
    }
  }

  async end(): Promise<void> {
    if (!this.started) {
      this.started = true
      await this.sink(GZIP_HEADER, crc32(GZIP_HEADER))
    }
    this.seal(true, this.inBlock, crcShift(this.inBlock))
    const last = Buffer.allocUnsafe(BLOCK_HDR + this.inBlock + GZIP_TRAILER)
    this.block.copy(last, 0, 0, BLOCK_HDR + this.inBlock)
    last.writeUInt32LE(this.crc >>> 0, BLOCK_HDR + this.inBlock)
    last.writeUInt32LE(this.isize, BLOCK_HDR + this.inBlock + 4)
    this.inBlock = 0
    await this.sink(last, crc32(last))
  }
}

/** Writes tar entries through a StoredGzipEncoder. */
export class TgzWriter {
  constructor(private readonly gz: StoredGzipEncoder) {}

  async header(entry: TarEntry & { type?: 'file' | 'directory' }): Promise<void> {
    await this.gz.write(tarHeader(entry))
  }

  async data(chunk: Uint8Array): Promise<void> {
    await this.gz.write(chunk)
  }

  async padTo(size: number): Promise<void> {
    const p = pad512(size) - size
    if (p > 0) await this.gz.write(ZEROS.subarray(0, p))
  }

  async finish(): Promise<void> {
    await this.gz.write(ZEROS)
    await this.gz.end()
  }
}
