/**
 * A signature report as the UI shows it: a badge state and one line per
 * revision, and the report view of the revision page. Plain data (it crosses
 * from the signature worker, signature-worker.ts).
 */
import type { SignatureReportView, SignatureStatus } from '../../../shared/api/types.js'
import { verdictText, type SignatureReport } from '../../trust/index.js'

export function statusOf (r: SignatureReport): SignatureStatus {
  if (!r.signed) return { state: 'unsigned', summary: r.summary }
  const untrustedOnly = r.signatures.some(s => s.verdict === 'untrusted') && !r.signatures.some(s => s.verdict === 'invalid')
  if (untrustedOnly) return { state: 'untrusted', summary: r.summary }
  if (!r.pass || r.signatures.some(s => !s.ok)) return { state: 'invalid', summary: r.reason !== null && !r.summary.startsWith('INVALID') ? `${r.summary}: ${r.reason}` : r.summary }
  const notes = [...r.warnings, ...r.signatures.flatMap(s => s.notes)]
  if (notes.length > 0 || r.uncovered.length > 0) return { state: 'warning', summary: notes.length > 0 ? `${r.summary}; ${notes[0]}` : r.summary }
  return { state: 'valid', summary: r.summary }
}

export function viewOf (r: SignatureReport): SignatureReportView {
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
