/** Types of the trust area: anchors, policy modes, the signature report. */
import type { KeyObject } from 'node:crypto'
import type { TrustCert } from './certs.js'

/** The device's secureboot modes (PV_SECUREBOOT_MODE). */
export type PolicyMode = 'disabled' | 'lenient' | 'strict' | 'audit'
export const POLICY_MODES: readonly PolicyMode[] = ['disabled', 'lenient', 'strict', 'audit']
export const DEFAULT_POLICY: PolicyMode = 'lenient'

export function isPolicyMode(s: unknown): s is PolicyMode {
  return typeof s === 'string' && (POLICY_MODES as readonly string[]).includes(s)
}

export interface CertInfo {
  subject: string
  issuer: string
  cn: string | null
  issuerCn: string | null
  serial: string
  notBefore: string
  notAfter: string
  /** sha256 of the DER, lowercase hex. */
  fingerprint: string
  key: string
  ca: boolean
}

/** A public key pinned for signatures without x5c (the device's pvs/trust/pub.pem). */
export interface PinnedKey {
  name: string
  key: KeyObject
  /** sha256 of the SubjectPublicKeyInfo DER, hex. */
  fingerprint: string
}

/** What the device trusts: its truststores and its pinned key. */
export interface TrustAnchors {
  /** PV_SECUREBOOT_TRUSTSTORE (ca-certificates.crt). */
  cas: readonly TrustCert[]
  /** PV_SECUREBOOT_OEM_TRUSTSTORE (ca-oem-certificates.crt). */
  oemCas: readonly TrustCert[]
  /** PV_OEM_NAME: a leaf with this CN that signs nothing under bsp/ or <oem>/ is checked against oemCas. */
  oemName: string | null
  pinnedKeys: readonly PinnedKey[]
}

export function emptyAnchors(): TrustAnchors {
  return { cas: [], oemCas: [], oemName: null, pinnedKeys: [] }
}

/** Why one signature does not verify (stable codes; tests assert on these). */
export type SignatureFailure =
  | 'BAD_PROTECTED'
  | 'BAD_TYP'
  | 'NO_PVS'
  | 'NO_ALG'
  | 'NO_INCLUDE'
  | 'NO_EXCLUDE'
  | 'BAD_X5C'
  | 'UNKNOWN_ALG'
  | 'BAD_CERT'
  | 'UNKNOWN_CA'
  | 'BAD_CHAIN'
  | 'WEAK_CERT'
  | 'NO_PINNED_KEY'
  | 'UNSUPPORTED_KEY'
  | 'BAD_SIGNATURE'

export interface CertCheck extends CertInfo {
  role: 'leaf' | 'intermediate' | 'anchor'
  validity: 'valid' | 'expired' | 'not-yet-valid'
}

export interface SignerInfo {
  kind: 'x5c' | 'pinned-key'
  /** Leaf certificate CN, or the pinned key's name. */
  name: string
  /** The trust anchor's CN (x5c), or null. */
  anchor: string | null
  /** Which truststore the device picks for it. */
  store: 'default' | 'oem' | null
  /** Leaf first, anchor last (as far as it could be built). */
  chain: CertCheck[]
  key: string
}

/**
 * One signature's verdict, for people: valid; untrusted (it may be sound, but
 * its signer's CA, or its key, is not trusted here: trust it); invalid (the
 * state changed after signing, or the signature is malformed).
 */
export type SignatureVerdict = 'valid' | 'untrusted' | 'invalid'

/** Failures that say who signed is not trusted here, not that anything was changed. */
export const UNTRUSTED_FAILURES: readonly SignatureFailure[] = ['UNKNOWN_CA', 'NO_PINNED_KEY']

export interface SignatureCheck {
  /** The state key holding the signature, e.g. `_sigs/pvwificonnect.json`. */
  key: string
  ok: boolean
  verdict: SignatureVerdict
  failure: SignatureFailure | null
  message: string | null
  alg: string | null
  include: string[] | null
  exclude: string[] | null
  signer: SignerInfo | null
  /** Keys in this signature's payload, in state order. */
  covers: string[]
  /** Keys an exclude glob of this signature matched. */
  excludes: string[]
  /** Things worth knowing that do not change the verdict (expired certificates, alg/key mismatch). */
  notes: string[]
}

export type DeviceResult = 'ok' | 'invalid' | 'uncovered'

export interface SignatureReport {
  policy: PolicyMode
  /** What the device's pv_signature_verify returns in this mode (disabled: ok). */
  result: DeviceResult
  /** Whether the device accepts the state in this mode. */
  pass: boolean
  /** Why not, in one line; null when it passes. */
  reason: string | null
  /** At least one pvs@2 signature was found. */
  signed: boolean
  signatures: SignatureCheck[]
  /** `_sigs/` entries (or any pvs-looking value) the device skips, with why. */
  ignored: Array<{ key: string; reason: string }>
  /** Keys some signature's payload includes. */
  covered: string[]
  /** Keys matched only by exclude globs (the device counts them as covered). */
  excluded: string[]
  /** Keys outside `_sigs/` no include or exclude glob matched: what `strict` refuses. */
  uncovered: string[]
  warnings: string[]
  /** One line: `signed by pv-developer-01 (Pantavisor Dev CA), all keys covered` / `unsigned` / `INVALID: ...`. */
  summary: string
  checkedAt: string
}

export interface VerifyOptions {
  trust: TrustAnchors
  policy?: PolicyMode
  /** The clock used to report certificate validity (the device does not check it). */
  now?: Date
}
