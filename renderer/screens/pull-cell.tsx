/**
 * A pull's progress on its revision's row of the Peers screen (issue #17
 * item 17): while it runs, the bar, the bytes, the rate and the ETA and a
 * Cancel, as under Transfers; after a failure, what went wrong beside the
 * button that pulls again. Its "Here" cell says the revision is being
 * pulled while it is, and "incomplete" only for a partial revision that no
 * pull is filling.
 */
import type { ComponentChildren } from 'preact'
import type { PeerRevision, TransferInfo } from '../../shared/api/types.js'
import { duration, percent, rate } from '../format.js'
import { useApi } from '../hooks.js'
import { Badge, Button, ProgressBar, errorParts } from '../ui.js'
import { amount } from './transfers.js'

/** The newest pull transfer of each revision (by its full id). */
export function latestPulls(transfers: TransferInfo[]): Map<string, TransferInfo> {
  const out = new Map<string, TransferInfo>()
  for (const t of transfers) {
    if (t.kind !== 'pull' || t.rev === undefined) continue
    const had = out.get(t.rev)
    if (had === undefined || had.startedAt < t.startedAt) out.set(t.rev, t)
  }
  return out
}

export function PullCell(p: { transfer: TransferInfo | undefined; name: string; children: ComponentChildren }) {
  const api = useApi()
  const t = p.transfer
  if (t?.state === 'running') {
    return (
      <div class='row-progress' data-testid='pull-progress' aria-live='polite'>
        <ProgressBar done={t.bytes} total={t.totalBytes} label={`Pulling ${p.name}`} />
        {t.cancellable && (
          <Button
            small
            kind='quiet'
            label={`Cancel the pull of ${p.name}`}
            onClick={() => {
              void api.transfers.cancel({ id: t.id }).catch(() => {})
            }}
          >
            Cancel
          </Button>
        )}
        <span class='small num'>
          {t.totalBytes === null && t.bytes === 0 ? 'asking peers…' : amount(t)}
          {t.rate > 0 ? ` · ${rate(t.rate)} · ETA ${duration(t.etaSeconds)}` : ''}
        </span>
      </div>
    )
  }
  if (t?.state === 'failed' && t.error !== null) {
    return (
      <div class='row-progress'>
        {p.children}
        <span class='small bad' role='alert' data-testid='pull-failed'>
          Pull failed: {errorParts(t.error).message}
        </span>
      </div>
    )
  }
  return <>{p.children}</>
}

/**
 * What this laptop holds of a revision a peer offers. A pull stores the
 * revision's state before its objects, so while a pull runs the library
 * already holds it incomplete: that is the pull at work, not a problem, and
 * says so with its progress (`transfer`: the revision's latest pull).
 */
export function HereBadge(p: { local: PeerRevision['local']; transfer: TransferInfo | undefined }) {
  const t = p.transfer
  if (t?.state === 'running') {
    const pct = percent(t.bytes, t.totalBytes)
    return <Badge tone='info'>{pct === null ? 'pulling…' : `pulling ${Math.floor(pct)}%`}</Badge>
  }
  if (p.local === 'partial')
    return (
      <Badge tone='warn' title='part of it is here: no pull is running; Pull fetches the rest'>
        incomplete
      </Badge>
    )
  return <Badge tone='muted'>not here</Badge>
}
