/** Who signed what: per signature the signer, algorithm, verdict and the keys it covers; keys nobody covers. */
import type { SignatureReportView } from '../../shared/api/types.js'
import { plural } from '../format.js'
import { Badge, Prose, TrustLink } from '../ui.js'

export function SignaturesPanel(p: { report: SignatureReportView | null; keys: number }) {
  const r = p.report
  if (r === null) return <p class='muted'>Signature checks are not available.</p>
  // The device's reason repeats each failed signature's message, which the table shows: say only the device's words then.
  const repeats = r.reason !== null && r.signatures.some(s => !s.ok && s.message !== null)
  const reason = r.reason === null ? null : repeats ? r.reason.split(': ')[0] : r.reason
  if (r.signatures.length === 0) {
    return (
      <p class='muted'>
        Unsigned. A device in <code>lenient</code> mode accepts it; one in <code>strict</code> mode refuses it (WONTGO).
      </p>
    )
  }
  return (
    <div class='sigs'>
      <div class='row wrap'>
        {r.pass ? <Badge tone='ok'>passes “{r.policy}”</Badge> : <Badge tone='bad'>refused by “{r.policy}”</Badge>}
        {reason !== null && (
          <span class='strong'>
            <Prose text={reason} />
          </span>
        )}
        {!r.pass && <TrustLink>Change the policy…</TrustLink>}
        <span class='muted'>
          {r.uncovered.length === 0 ? `all ${p.keys} keys covered` : `${plural(r.uncovered.length, 'key')} not covered`}
          {r.excluded.length > 0 ? `, ${r.excluded.length} excluded` : ''}
        </span>
      </div>
      <table class='table table-compact' aria-label='Signatures'>
        <thead>
          <tr>
            <th scope='col'>Signature</th>
            <th scope='col'>Signer</th>
            <th scope='col'>Alg</th>
            <th scope='col'>Result</th>
            <th scope='col'>Covers</th>
          </tr>
        </thead>
        <tbody>
          {r.signatures.map(s => (
            <tr key={s.key}>
              <td class='mono'>{s.key}</td>
              <td>{s.signer ?? <span class='muted'>unknown</span>}</td>
              <td class='mono'>{s.alg ?? '—'}</td>
              <td>
                {s.verdict === 'valid' ? (
                  <Badge tone={s.notes.length > 0 ? 'warn' : 'ok'}>{s.notes.length > 0 ? 'valid, see note' : 'valid'}</Badge>
                ) : s.verdict === 'untrusted' ? (
                  <Badge tone='warn'>untrusted signer</Badge>
                ) : (
                  <Badge tone='bad'>INVALID</Badge>
                )}
                {s.message !== null && (
                  <div class='small' data-testid='signature-verdict'>
                    <Prose text={s.message} />
                  </div>
                )}
                {s.verdict === 'untrusted' && (
                  <div class='small'>
                    <TrustLink>Trust its CA…</TrustLink>
                  </div>
                )}
                {s.notes.map(n => (
                  <div key={n} class='small muted'>
                    {n}
                  </div>
                ))}
              </td>
              <td>
                <details>
                  <summary>{plural(s.covers.length, 'key')}</summary>
                  <ul class='key-list'>
                    {s.covers.map(k => (
                      <li key={k} class='mono small'>
                        {k}
                      </li>
                    ))}
                  </ul>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.uncovered.length > 0 && (
        <p>
          <span class='strong'>Not covered by any signature:</span> <span class='mono small'>{r.uncovered.join(', ')}</span>
        </p>
      )}
      {r.warnings.map(w => (
        <p key={w} class='small muted'>
          {w}
        </p>
      ))}
    </div>
  )
}
