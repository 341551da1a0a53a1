/**
 * The trust channels of the UI contract (contract.ts spreads them in): what
 * the library trusts for Pantavisor signatures (CA certificates, pinned
 * keys), the signature policy, and their validators.
 */
import type { Empty } from './types.js'
import { absPath, bool, exactlyOne, object, oneOf, optional, str, type Check } from './validate.js'

export type TrustPolicy = 'disabled' | 'lenient' | 'strict' | 'audit'
export const TRUST_POLICIES: readonly TrustPolicy[] = ['disabled', 'lenient', 'strict', 'audit']

/** What each policy lets through, in the technician's words (as the device applies PV_SECUREBOOT_MODE). */
export const POLICY_MEANINGS: Readonly<Record<TrustPolicy, string>> = {
  disabled: 'Signatures are not checked: everything installs.',
  lenient: "Every signature present must verify; unsigned revisions pass. The default, and a stock device's.",
  strict: 'Every signature must verify and together they must cover every file; unsigned revisions are refused.',
  audit: 'Every signature present must verify; files no signature covers are only logged.',
}

export interface TrustEntryView {
  kind: 'ca' | 'oem-ca' | 'key'
  /** File under the library's trust folder, e.g. `ca/pantavisor-dev-ca.pem`. */
  file: string
  subject: string
  issuer: string | null
  notBefore: string | null
  notAfter: string | null
  validity: 'valid' | 'expired' | 'not-yet-valid' | null
  /** sha256 of the certificate (DER) or of the public key (SubjectPublicKeyInfo), lowercase hex. */
  fingerprint: string
  /** e.g. "RSA 4096 bits". */
  key: string
  /** The device accepts it as an issuer. */
  ca: boolean
  /** Library revisions with a valid signature that chains to it (or is made with it). */
  verifies: Array<{ id: string; name: string }>
}

export interface TrustView {
  policy: TrustPolicy
  oemName: string | null
  entries: TrustEntryView[]
}

export interface TrustAddResult {
  added: TrustEntryView[]
  existed: TrustEntryView[]
  warnings: string[]
}

export interface TrustChannels {
  'trust.list': { req: Empty; res: TrustView }
  /** A PEM file (certificates or public keys) or a public JWK: by path, or an upload's id in browser mode. */
  'trust.add': { req: { path?: string; upload?: string; oem?: boolean }; res: TrustAddResult }
  'trust.remove': { req: { fingerprint: string }; res: { removed: TrustEntryView[] } }
  'trust.setPolicy': { req: { policy: TrustPolicy }; res: { policy: TrustPolicy } }
}

const uploadId = str({ max: 64, pattern: /^[0-9a-f]{8,64}$/, what: 'an upload id of 8-64 lowercase hex digits' })
const fingerprint = str({ max: 64, pattern: /^[0-9a-f]{8,64}$/, what: 'a fingerprint (8-64 lowercase hex digits)' })

export const trustValidators: { [C in keyof TrustChannels]: Check<TrustChannels[C]['req']> } = {
  'trust.list': object({}),
  'trust.add': exactlyOne(object({ path: optional(absPath), upload: optional(uploadId), oem: optional(bool) }), ['path', 'upload']),
  'trust.remove': object({ fingerprint }),
  'trust.setPolicy': object({ policy: oneOf(TRUST_POLICIES) }),
}
