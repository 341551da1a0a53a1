/**
 * The JWS part of a pvs@2 signature, as the device checks it: base64 the way
 * Pantavisor's utils/base64.c decodes, the hash chosen by `alg`, and the
 * verification chosen by the KEY (mbedtls_pk_verify): RSA keys use PKCS#1
 * v1.5, EC keys ECDSA with the signature read as DER first and, failing that,
 * as raw r||s (meta-pantavisor patches mbedtls's pk_wrap.c for JWS).
 */
import { constants, verify, type KeyObject } from 'node:crypto'

export type JwsHash = 'sha256' | 'sha384' | 'sha512'

/** signature.c: RS256/ES256 → SHA-256, ES384 → SHA-384, ES512 → SHA-512; anything else is refused. */
export function hashForAlg(alg: string): JwsHash | null {
  if (alg === 'RS256' || alg === 'ES256') return 'sha256'
  if (alg === 'ES384') return 'sha384'
  if (alg === 'ES512') return 'sha512'
  return null
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

/** pv_base64_decode (mbedtls_base64_decode): standard alphabet, padded. */
export function b64Device(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !B64.test(s)) return null
  return Buffer.from(s, 'base64')
}

/** pv_base64_url_decode: pad to a multiple of 4, map -_ to +/, then decode as standard base64. */
export function b64urlDevice(s: string): Buffer | null {
  let t = s
  if (t.length % 4 === 2) t += '=='
  else if (t.length % 4 === 3) t += '='
  return b64Device(t.replace(/_/g, '/').replace(/-/g, '+'))
}

function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  if (n < 0x100) return Buffer.from([0x81, n])
  return Buffer.from([0x82, n >> 8, n & 0xff])
}

function derInt(b: Buffer): Buffer | null {
  let i = 0
  while (i < b.length && b[i] === 0) i++
  if (i === b.length) return null
  let v = b.subarray(i)
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v])
  return Buffer.concat([Buffer.from([0x02]), derLen(v.length), v])
}

/** mbedtls pk_ecdsa_sig_asn1_from_psa: split in two halves, encode as an ASN.1 SEQUENCE of two INTEGERs. */
export function rawEcdsaToDer(sig: Buffer): Buffer | null {
  const half = Math.floor(sig.length / 2)
  const r = derInt(sig.subarray(0, half))
  const s = derInt(sig.subarray(half, 2 * half))
  if (r === null || s === null) return null
  const body = Buffer.concat([r, s])
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body])
}

function tryVerify(fn: () => boolean): boolean {
  try {
    return fn()
  } catch {
    return false
  }
}

/** mbedtls_pk_verify(pk, md(alg), hash(input), sig) on a patched device build. */
export function verifyWithKey(key: KeyObject, hash: JwsHash, input: Buffer, sig: Buffer): boolean {
  if (key.asymmetricKeyType === 'rsa') {
    return tryVerify(() => verify(hash, input, { key, padding: constants.RSA_PKCS1_PADDING }, sig))
  }
  if (key.asymmetricKeyType === 'ec') {
    if (tryVerify(() => verify(hash, input, { key, dsaEncoding: 'der' }, sig))) return true
    const der = rawEcdsaToDer(sig)
    return der !== null && tryVerify(() => verify(hash, input, { key, dsaEncoding: 'der' }, der))
  }
  return false
}
