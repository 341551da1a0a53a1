/**
 * Certificate chain check as the device does it: mbedtls 2.28's
 * mbedtls_x509_crt_verify with the default profile, built from
 * meta-pantavisor's configuration (config-mini-tls1_1.h plus a few -D flags):
 *
 * - the chain is built from the leaf (x5c[0]) upwards, looking for a parent
 *   first among the trusted certificates (name match, CA bit unless a v1/v2
 *   trusted root, path length, and a signature that verifies), then among the
 *   x5c certificates that follow the child;
 * - a self-issued leaf that is byte-identical to a trusted certificate is trusted;
 * - certificates must be signed with SHA-224..SHA-512 (no SHA-1, no MD5) and RSA
 *   keys must have at least 2048 bits (leaf, intermediates, anchor);
 * - at most 8 intermediates;
 * - NO validity period check: MBEDTLS_HAVE_TIME_DATE is not defined in that
 *   build, so expired and not-yet-valid certificates pass (reported, not refused);
 * - no key usage check (MBEDTLS_X509_CHECK_KEY_USAGE is not defined).
 */
import type { KeyObject } from 'node:crypto'
import { sameName, sigAlgHash } from './der.js'
import type { TrustCert } from './certs.js'

const MAX_INTERMEDIATE_CA = 8

export type ChainFailure = 'UNKNOWN_CA' | 'BAD_CHAIN' | 'WEAK_CERT' | 'BAD_CERT'

export interface ChainResult {
  ok: boolean
  failure: ChainFailure | null
  message: string | null
  /** Leaf first; the anchor last when one was found. */
  chain: TrustCert[]
  anchor: TrustCert | null
}

function rsaTooSmall(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048
}

function name(c: TrustCert): string {
  return c.info.cn !== null ? `CN=${c.info.cn}` : c.info.subject
}

function signedBy(child: TrustCert, parent: TrustCert): boolean {
  try {
    return child.x509.verify(parent.x509.publicKey)
  } catch {
    return false
  }
}

/** x509_crt_check_parent + the path length test of x509_crt_find_parent_in. */
function suitableParent(child: TrustCert, parent: TrustCert, top: boolean, pathCnt: number, selfCnt: number): boolean {
  if (!sameName(child.fields.issuer, parent.fields.subject)) return false
  const needCa = !(top && parent.fields.version < 3)
  if (needCa && !parent.fields.ca) return false
  if (parent.fields.maxPathlen > 0 && parent.fields.maxPathlen < 1 + pathCnt - selfCnt) return false
  return true
}

interface Found {
  parent: TrustCert
  trusted: boolean
  good: boolean
  index: number
}

function findParent(
  child: TrustCert,
  childIndex: number,
  x5c: readonly TrustCert[],
  trust: readonly TrustCert[],
  pathCnt: number,
  selfCnt: number,
): Found | null {
  for (const p of trust) {
    if (!suitableParent(child, p, true, pathCnt, selfCnt)) continue
    if (!signedBy(child, p)) continue
    return { parent: p, trusted: true, good: true, index: -1 }
  }
  // x5c candidates after the child; the first suitable one is taken even if its signature is bad
  for (let i = childIndex + 1; i < x5c.length; i++) {
    const p = x5c[i]
    if (!suitableParent(child, p, false, pathCnt, selfCnt)) continue
    return { parent: p, trusted: false, good: signedBy(child, p), index: i }
  }
  return null
}

function fail(failure: ChainFailure, message: string, chain: TrustCert[], anchor: TrustCert | null = null): ChainResult {
  return { ok: false, failure, message, chain, anchor }
}

/** Verify `x5c` (leaf first) against the trusted certificates the device would load. */
export function verifyChain(x5c: readonly TrustCert[], trust: readonly TrustCert[]): ChainResult {
  const leaf = x5c[0]
  const chain: TrustCert[] = []
  const problems: Array<{ failure: ChainFailure; message: string }> = []
  if (rsaTooSmall(leaf.x509.publicKey)) {
    problems.push({
      failure: 'WEAK_CERT',
      message: `${name(leaf)} has an RSA key of ${leaf.x509.publicKey.asymmetricKeyDetails?.modulusLength} bits; the device needs at least 2048`,
    })
  }
  let child = leaf
  let childIndex = 0
  let childTrusted = false
  let selfCnt = 0
  let anchor: TrustCert | null = null
  for (;;) {
    chain.push(child)
    if (childTrusted) {
      anchor = child
      break
    }
    const md = sigAlgHash(child.fields.sigAlg)
    if (md === null) return fail('BAD_CERT', `${name(child)} uses signature algorithm ${child.fields.sigAlg}, which the device's mbedtls cannot parse`, chain)
    if (md === 'md5' || md === 'sha1')
      problems.push({ failure: 'WEAK_CERT', message: `${name(child)} is signed with ${md.toUpperCase()}; the device accepts SHA-224 to SHA-512 only` })
    if (chain.length === 1 && sameName(child.fields.issuer, child.fields.subject) && trust.some(t => t.der.equals(child.der))) {
      anchor = child
      break
    }
    const found = findParent(child, childIndex, x5c, trust, chain.length - 1, selfCnt)
    if (found === null) {
      const issuer = child.info.issuerCn !== null ? `CN=${child.info.issuerCn}` : child.info.issuer
      const msg =
        trust.length === 0
          ? `${name(child)} is issued by ${issuer}, and the trust store is empty: add the CA your devices trust with \`fieldsync trust add <pem>\``
          : `${name(child)} is issued by ${issuer}, which is not in the trust store (add that CA with \`fieldsync trust add <pem>\` if your devices trust it)`
      return fail('UNKNOWN_CA', msg, chain)
    }
    if (chain.length !== 1 && sameName(child.fields.issuer, child.fields.subject)) selfCnt++
    if (!found.trusted && chain.length > MAX_INTERMEDIATE_CA)
      return fail('BAD_CHAIN', `the certificate chain is longer than the device allows (${MAX_INTERMEDIATE_CA} intermediates)`, chain)
    if (!found.good) problems.push({ failure: 'BAD_CHAIN', message: `the signature of ${name(child)} by ${name(found.parent)} does not verify` })
    if (rsaTooSmall(found.parent.x509.publicKey)) {
      problems.push({
        failure: 'WEAK_CERT',
        message: `${name(found.parent)} has an RSA key of ${found.parent.x509.publicKey.asymmetricKeyDetails?.modulusLength} bits; the device needs at least 2048`,
      })
    }
    child = found.parent
    childIndex = found.index
    childTrusted = found.trusted
  }
  if (problems.length > 0) {
    const first = problems.find(p => p.failure === 'BAD_CHAIN') ?? problems[0]
    return fail(first.failure, problems.map(p => p.message).join('; '), chain, anchor)
  }
  return { ok: true, failure: null, message: null, chain, anchor }
}
