/**
 * A revision's signatures as the UI contract carries them: the status (one
 * word and one line, for lists) and the report (every signature, for `show`).
 * The app's handlers and the CLI's `show` both take them from here.
 */
import type { SignatureReportView, SignatureStatus } from '../../shared/api/types.js'
import type { TrustSource } from './policy.js'
import type { SignatureReport } from './types.js'
import { verdictText, verifyStateSignatures } from './verify.js'

export interface SignatureView {
  status: SignatureStatus
  /** null when the stored state could not be checked at all. */
  report: SignatureReportView | null
}

export function signatureStatus(r: SignatureReport): SignatureStatus {
  if (!r.signed) return { state: 'unsigned', summary: r.summary }
  const untrustedOnly = r.signatures.some(s => s.verdict === 'untrusted') && !r.signatures.some(s => s.verdict === 'invalid')
  if (untrustedOnly) return { state: 'untrusted', summary: r.summary }
  if (!r.pass || r.signatures.some(s => !s.ok))
    return { state: 'invalid', summary: r.reason !== null && !r.summary.startsWith('INVALID') ? `${r.summary}: ${r.reason}` : r.summary }
  const notes = [...r.warnings, ...r.signatures.flatMap(s => s.notes)]
  if (notes.length > 0 || r.uncovered.length > 0) return { state: 'warning', summary: notes.length > 0 ? `${r.summary}; ${notes[0]}` : r.summary }
  return { state: 'valid', summary: r.summary }
}

export function signatureReportView(r: SignatureReport): SignatureReportView {
  return {
    policy: r.policy,
    pass: r.pass,
    reason: r.reason,
    signatures: r.signatures.map(s => ({
      key: s.key,
      ok: s.ok,
      verdict: s.verdict,
      signer: s.signer === null ? null : `${s.signer.name}${s.signer.anchor !== null ? ` (${s.signer.anchor})` : ''}`,
      alg: s.alg,
      message: s.ok ? s.message : verdictText(s),
      covers: s.covers,
      notes: s.notes,
    })),
    uncovered: r.uncovered,
    excluded: r.excluded,
    warnings: r.warnings,
  }
}

/** Check a stored state's signatures against the trust store and its policy. Never throws. */
export function signatureView(raw: Uint8Array, trust: TrustSource): SignatureView {
  try {
    const r = verifyStateSignatures(raw, { trust: trust.anchors(), policy: trust.policy() })
    return { status: signatureStatus(r), report: signatureReportView(r) }
  } catch (err) {
    return { status: { state: 'invalid', summary: `INVALID: ${(err as Error).message}` }, report: null }
  }
}
