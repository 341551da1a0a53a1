/**
 * A pull's progress on its revision's row of the Peers screen (issue #17
 * item 17): while it runs, the bar, the bytes, the rate and the ETA and a
 * Cancel, as under Transfers; after a failure, what went wrong beside the
 * button that pulls again.
 */
import type { ComponentChildren } from 'preact'
import type { TransferInfo } from '../../shared/api/types.js'
import { duration, rate } from '../format.js'
import { useApi } from '../hooks.js'
import { Button, ProgressBar, errorParts } from '../ui.js'
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
