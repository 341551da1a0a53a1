/**
 * Certificates as the trust code uses them: node:crypto's X509Certificate for
 * parsing and signature checks, plus the DER fields mbedtls looks at, plus a
 * plain description for reports.
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto'
import { DerError, parseCertFields, type CertFields } from './der.js'
import type { CertInfo } from './types.js'

export interface TrustCert {
  x509: X509Certificate
  der: Buffer
  fields: CertFields
  info: CertInfo
}

/** The curves the device's mbedtls is built with (meta-pantavisor mbedtls bbappend), as OpenSSL names them. */
const DEVICE_CURVES = new Set([
  'prime192v1',
  'secp224r1',
  'prime256v1',
  'secp384r1',
  'secp521r1',
  'secp192k1',
  'secp224k1',
  'secp256k1',
  'brainpoolP256r1',
  'brainpoolP384r1',
  'brainpoolP512r1',
])

/** Why the device's mbedtls could not use this public key; null when it can. */
export function unsupportedKey(key: KeyObject): string | null {
  const t = key.asymmetricKeyType
  if (t === 'rsa') return null
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown'
    return DEVICE_CURVES.has(curve) ? null : `EC curve ${curve} is not built into the device's mbedtls`
  }
  return `${t ?? 'unknown'} keys are not supported by the device (RSA and EC only)`
}

export function keyDescription(key: KeyObject): string {
  const d = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? '?'} bits`
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve ?? '?'}`
  return String(key.asymmetricKeyType)
}

/** The last CN of a distinguished name as Node prints it (mbedtls's _get_cn keeps the last one too). */
export function commonName(dn: string): string | null {
  let cn: string | null = null
  for (const line of dn.split('\n')) if (line.startsWith('CN=')) cn = line.slice(3)
  return cn
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ')
}

function isoDate(s: string): string {
  const t = Date.parse(s)
  return Number.isNaN(t) ? s : new Date(t).toISOString()
}

export function describeCert(x: X509Certificate, fields: CertFields | null): CertInfo {
  const key = x.publicKey
  return {
    subject: oneLine(x.subject),
    issuer: oneLine(x.issuer),
    cn: commonName(x.subject),
    issuerCn: commonName(x.issuer),
    serial: x.serialNumber,
    notBefore: isoDate(x.validFrom),
    notAfter: isoDate(x.validTo),
    fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    key: keyDescription(key),
    ca: fields?.ca ?? x.ca,
  }
}

/** Parse one DER certificate; throws DerError or node's error when it is not one. */
export function certFromDer(der: Buffer): TrustCert {
  const x509 = new X509Certificate(der)
  const fields = parseCertFields(der)
  return { x509, der, fields, info: describeCert(x509, fields) }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g

export interface PemBlock {
  type: string
  der: Buffer
  text: string
}

export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = []
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = m[2].replace(/^[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, '')
    out.push({ type: m[1], der: Buffer.from(body, 'base64'), text: m[0] })
  }
  return out
}

/** Every CERTIFICATE block of a PEM bundle; throws (naming the block) when one does not parse. */
export function certsFromPem(text: string, what: string): TrustCert[] {
  const out: TrustCert[] = []
  pemBlocks(text).forEach((b, i) => {
    if (b.type !== 'CERTIFICATE') return
    try {
      out.push(certFromDer(b.der))
    } catch (err) {
      const why = err instanceof DerError ? err.message : (err as Error).message
      throw new Error(`${what}: certificate #${i + 1} does not parse: ${why}`)
    }
  })
  return out
}

export function sha256hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex')
}

/** Validity of a certificate at `now`, for the report. */
export function validityAt(info: CertInfo, now: Date): 'valid' | 'expired' | 'not-yet-valid' {
  if (now.getTime() > Date.parse(info.notAfter)) return 'expired'
  if (now.getTime() < Date.parse(info.notBefore)) return 'not-yet-valid'
  return 'valid'
}
