/**
 * The few X.509 fields the device's chain check (mbedtls 2.28) looks at and
 * that node:crypto's X509Certificate does not expose on Node 20: the version,
 * the certificate's signature algorithm, the raw issuer and subject names
 * (compared the mbedtls way) and basicConstraints (CA flag, path length).
 */

export interface Tlv {
  tag: number
  /** Offset of the content. */
  start: number
  /** Offset after the content. */
  end: number
  /** Offset of the tag byte. */
  at: number
}

export class DerError extends Error {}

export function readTlv(b: Uint8Array, at: number, limit = b.length): Tlv {
  if (at + 2 > limit) throw new DerError('truncated DER')
  const tag = b[at]
  let len = b[at + 1]
  let p = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4 || p + n > limit) throw new DerError('bad DER length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]
    p += n
  }
  if (p + len > limit) throw new DerError('DER value runs past its container')
  return { tag, start: p, end: p + len, at }
}

export function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = []
  for (let p = t.start; p < t.end;) {
    const c = readTlv(b, p, t.end)
    out.push(c)
    p = c.end
  }
  return out
}

export function oidString(b: Uint8Array, t: Tlv): string {
  const parts: number[] = []
  let v = 0
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (b[i] & 0x7f)
    if ((b[i] & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80)
      else parts.push(v)
      v = 0
    }
  }
  return parts.join('.')
}

/** One attribute of a distinguished name, with the flag mbedtls calls next_merged. */
export interface NameAttr {
  oid: string
  tag: number
  value: Uint8Array
  merged: boolean
}

function parseName(b: Uint8Array, t: Tlv): NameAttr[] {
  const out: NameAttr[] = []
  for (const rdn of children(b, t)) {
    const attrs = children(b, rdn)
    attrs.forEach((a, i) => {
      const [oid, val] = children(b, a)
      out.push({ oid: oidString(b, oid), tag: val.tag, value: b.subarray(val.start, val.end), merged: i < attrs.length - 1 })
    })
  }
  return out
}

const UTF8 = 0x0c
const PRINTABLE = 0x13

function caseEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    let x = a[i]
    let y = b[i]
    if (x >= 0x41 && x <= 0x5a) x += 0x20
    if (y >= 0x41 && y <= 0x5a) y += 0x20
    if (x !== y) return false
  }
  return true
}

/** mbedtls x509_name_cmp: same attributes in the same order; UTF8/Printable values compare case-insensitively. */
export function sameName(a: NameAttr[], b: NameAttr[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (x.oid !== y.oid || x.merged !== y.merged) return false
    const exact = x.tag === y.tag && Buffer.compare(Buffer.from(x.value), Buffer.from(y.value)) === 0
    const loose = (x.tag === UTF8 || x.tag === PRINTABLE) && (y.tag === UTF8 || y.tag === PRINTABLE) && caseEq(x.value, y.value)
    if (!exact && !loose) return false
  }
  return true
}

export interface CertFields {
  version: number
  /** Dotted OID of the certificate's own signature algorithm. */
  sigAlg: string
  issuer: NameAttr[]
  subject: NameAttr[]
  ca: boolean
  /** As mbedtls stores it: pathLenConstraint + 1, or 0 when absent. */
  maxPathlen: number
}

const BASIC_CONSTRAINTS = '2.5.29.19'

export function parseCertFields(der: Uint8Array): CertFields {
  const cert = readTlv(der, 0)
  const [tbs, sigAlgSeq] = children(der, cert)
  if (tbs === undefined || sigAlgSeq === undefined) throw new DerError('not an X.509 certificate')
  const f = children(der, tbs)
  let i = 0
  let version = 1
  if (f[0]?.tag === 0xa0) {
    const v = readTlv(der, f[0].start, f[0].end)
    version = (der[v.end - 1] ?? 0) + 1
    i = 1
  }
  // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  const issuer = parseName(der, f[i + 2])
  const subject = parseName(der, f[i + 4])
  const sigAlg = oidString(der, children(der, sigAlgSeq)[0])
  let ca = false
  let maxPathlen = 0
  const ext = f.slice(i + 6).find(x => x.tag === 0xa3)
  if (ext !== undefined) {
    for (const e of children(der, readTlv(der, ext.start, ext.end))) {
      const parts = children(der, e)
      if (oidString(der, parts[0]) !== BASIC_CONSTRAINTS) continue
      const octets = parts[parts.length - 1]
      const seq = readTlv(der, octets.start, octets.end)
      for (const c of children(der, seq)) {
        if (c.tag === 0x01) ca = der[c.start] !== 0
        if (c.tag === 0x02) {
          let n = 0
          for (let j = c.start; j < c.end; j++) n = n * 256 + der[j]
          maxPathlen = n + 1
        }
      }
    }
  }
  return { version, sigAlg, issuer, subject, ca, maxPathlen }
}

/** Hash of a certificate signature algorithm, as mbedtls names it; null when mbedtls cannot parse it. */
export function sigAlgHash(oid: string): 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | null {
  switch (oid) {
    case '1.2.840.113549.1.1.4':
      return 'md5'
    case '1.2.840.113549.1.1.5':
    case '1.2.840.10045.4.1':
      return 'sha1'
    case '1.2.840.113549.1.1.14':
    case '1.2.840.10045.4.3.1':
      return 'sha224'
    case '1.2.840.113549.1.1.11':
    case '1.2.840.10045.4.3.2':
      return 'sha256'
    case '1.2.840.113549.1.1.12':
    case '1.2.840.10045.4.3.3':
      return 'sha384'
    case '1.2.840.113549.1.1.13':
    case '1.2.840.10045.4.3.4':
      return 'sha512'
    default:
      return null
  }
}
