/**
 * CRC-32 (the gzip/zlib one, reflected, polynomial 0xEDB88320) of a
 * concatenation from the CRCs of its pieces, without reading the bytes again:
 * crc(A ‖ B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B), computed in GF(2)[x]
 * modulo P. The export uses it so that one pass over each gzip block gives
 * both the gzip trailer's CRC (over the tar bytes) and the CRC of the file
 * bytes (block headers included) that the read-back is checked against.
 */

const POLY = 0xedb88320
/** x^0 in the reflected representation (the top bit is the lowest power). */
const ONE = 0x80000000

/** a · b mod P, both polynomials in the reflected representation. */
function mulMod(a: number, b: number): number {
  let product = 0
  for (let bit = ONE; bit !== 0 && a !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) {
      product ^= b
      a ^= bit
    }
    // b ← b · x mod P
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLY : b >>> 1
  }
  return product >>> 0
}

/** SQUARES[k] = x^(2^k) mod P. */
const SQUARES: number[] = []
for (let k = 0, p = ONE >>> 1; k < 64; k++, p = mulMod(p, p)) SQUARES.push(p)

/** The last length asked for and its operator (writers ask for the same block length over and over). */
let memoBytes = 0
let memoShift = ONE

/** x^(8·bytes) mod P: the operator that shifts a CRC past `bytes` bytes. */
export function crcShift(bytes: number): number {
  if (bytes === memoBytes) return memoShift
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`crcShift: bad length ${bytes}`)
  let p = ONE
  // x^(8n) = x^(2^3 · n): walk the bits of n from the table's 2^3 entry up.
  for (let k = 3, n = bytes; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) p = mulMod(SQUARES[k], p)
  }
  memoBytes = bytes
  memoShift = p
  return p
}

/** crc(A ‖ B) from crc(A), crc(B) and |B| (or its precomputed crcShift). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number, shift = crcShift(lengthB)): number {
  return (mulMod(shift, crcA) ^ crcB) >>> 0
}
