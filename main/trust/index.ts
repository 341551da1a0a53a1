/**
 * Trust: Pantavisor pvs@2 signature verification with the device's verdict,
 * a trust store (CA bundles, OEM bundles, pinned keys, library policy) and the
 * refusal hook for install/USB export.
 */
export { verifyStateSignatures, summarize, signerLabel, verdictText, DEVICE_MESSAGES, SignatureLimits } from './verify.js'
export { applyPolicy, checkPolicy, signatureSummary, type PolicyCheck, type TrustSource } from './policy.js'
export { TrustStore, type TrustEntry, type TrustKind, type AddResult } from './store.js'
export { formatReport } from './format.js'
export { signatureView, signatureStatus, signatureReportView, type SignatureView } from './view.js'
export { certsFromPem, type TrustCert } from './certs.js'
export { compositionVerdict, type CompositionJudge, type CompositionVerdict } from './composition.js'
export {
  POLICY_MODES,
  DEFAULT_POLICY,
  isPolicyMode,
  emptyAnchors,
  type PolicyMode,
  type TrustAnchors,
  type PinnedKey,
  type SignatureReport,
  type SignatureCheck,
  type SignatureFailure,
  type SignerInfo,
  type CertCheck,
  type CertInfo,
  type DeviceResult,
  type VerifyOptions,
} from './types.js'
