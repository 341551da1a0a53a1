/** Human text for a SignatureReport (the CLI's `verify-sig` output), in the spirit of `pvr sig ls`. */
import type { SignatureReport } from './types.js'
import { signerLabel, verdictText } from './verify.js'

function indent(lines: string[], pad = '    '): string[] {
  return lines.map(l => pad + l)
}

export function formatReport(r: SignatureReport, opts: { keys?: boolean } = {}): string {
  const showKeys = opts.keys !== false
  const out: string[] = []
  out.push(`${r.pass ? 'PASS' : 'FAIL'} under policy "${r.policy}": ${r.summary}`)
  if (r.reason !== null) out.push(`  reason: ${r.reason}`)
  for (const s of r.signatures) {
    out.push(
      '',
      `${s.key}: ${s.ok ? 'valid' : `${s.verdict.toUpperCase()} (${s.failure})`}${s.alg !== null ? `, ${s.alg}` : ''}${s.signer !== null ? `, ${s.ok ? 'signed by' : 'signer'} ${signerLabel(s)}` : ''}`,
    )
    if (!s.ok) out.push(`  ${verdictText(s)}`)
    if (s.signer?.kind === 'x5c') {
      out.push('  chain:')
      for (const c of s.signer.chain) {
        const v =
          c.validity === 'valid' ? '' : c.validity === 'expired' ? `  EXPIRED ${c.notAfter.slice(0, 10)}` : `  NOT YET VALID (from ${c.notBefore.slice(0, 10)})`
        out.push(`    ${c.role.padEnd(12)} ${c.subject}  (issuer ${c.issuer}; ${c.key}; ${c.notBefore.slice(0, 10)} .. ${c.notAfter.slice(0, 10)})${v}`)
      }
      if (s.signer.store === 'oem') out.push('  checked against the OEM truststore')
    } else if (s.signer?.kind === 'pinned-key') {
      out.push(`  pinned key ${s.signer.name} (${s.signer.key})`)
    }
    if (s.include !== null) out.push(`  include ${JSON.stringify(s.include)}  exclude ${JSON.stringify(s.exclude)}`)
    if (showKeys && s.covers.length > 0) out.push(`  covers ${s.covers.length} key(s):`, ...indent(s.covers))
    for (const n of s.notes) out.push(`  note: ${n}`)
  }
  if (showKeys) {
    out.push('')
    out.push(`covered (${r.covered.length})${r.covered.length > 0 ? ':' : ''}`, ...indent(r.covered, '  '))
    out.push(`excluded (${r.excluded.length})${r.excluded.length > 0 ? ':' : ''}`, ...indent(r.excluded, '  '))
    out.push(
      `not covered (${r.uncovered.length})${r.uncovered.length > 0 ? ':' : ''}${r.uncovered.length > 0 && r.policy !== 'strict' ? '   (only "strict" refuses these)' : ''}`,
      ...indent(r.uncovered, '  '),
    )
  }
  for (const w of r.warnings) out.push(`warning: ${w}`)
  return out.join('\n')
}
