/** The install plan's account of a package composed onto what the device runs: the parts it adds, replaces and removes, and the signature verdict of the state the device gets. */
import type { InstallComposition } from '../../shared/api/types.js'
import { shortId } from '../format.js'
import { Badge } from '../ui.js'

function Parts(p: { label: string; tone: 'ok' | 'warn' | 'bad' | 'muted'; parts: string[]; testid: string }) {
  if (p.parts.length === 0) return null
  return (
    <div data-testid={p.testid}>
      <dt>{p.label}</dt>
      <dd>
        {p.parts.map(x => (
          <Badge key={x} tone={p.tone}>
            {x}
          </Badge>
        ))}
      </dd>
    </div>
  )
}

export function PlanComposition(p: { c: InstallComposition | null }) {
  const c = p.c
  if (c === null) return null
  const sig = c.signature
  return (
    <div class='composition' data-testid='plan-composition'>
      <p>
        A package: composed onto what the device runs (<span class='mono'>{shortId(c.onto)}</span>), as pvtx does; every other part stays.
        {!c.changed && ' The device already runs every part of it as it is.'}
      </p>
      <dl class='facts'>
        <Parts label='Parts added' tone='ok' parts={c.parts.added} testid='parts-added' />
        <Parts label='Parts replaced' tone='warn' parts={c.parts.replaced} testid='parts-replaced' />
        <Parts label='Parts removed' tone='bad' parts={c.parts.removed} testid='parts-removed' />
        <Parts label='Parts as they were' tone='muted' parts={c.parts.unchanged} testid='parts-unchanged' />
        {sig !== null && (
          <div>
            <dt>Signatures</dt>
            <dd>
              <Badge tone={sig.pass ? 'ok' : 'bad'}>{sig.pass ? 'pass' : 'refused'}</Badge> {sig.summary}
              {sig.device !== null && <span class='small'> (the device would answer {sig.device})</span>}
            </dd>
          </div>
        )}
      </dl>
      {sig !== null && sig.broken.length > 0 && (
        <div class='alert alert-bad'>
          <div class='alert-title'>Signatures the composition breaks</div>
          <ul>
            {sig.broken.map(b => (
              <li key={b.key}>
                <span class='mono'>{b.key}</span>: {b.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {c.warnings.length > 0 && (
        <ul class='small muted'>
          {c.warnings.map(w => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  )
}
