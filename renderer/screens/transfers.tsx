/** Transfers: every running pull, install, import, export and USB write; progress, rate, ETA, peers, cancel; Retry once one failed. */
import type { TransferInfo, TransferKind } from '../../shared/api/types.js'
import { ago, bytes, duration, plural, rate } from '../format.js'
import { useApi, useTick } from '../hooks.js'
import { useState } from 'preact/hooks'
import { Badge, Button, Empty, ProgressBar, errorParts, transferToastKey, useNotify, type Tone } from '../ui.js'

const KIND: Record<TransferKind, string> = {
  upload: 'Upload',
  import: 'Import',
  export: 'Export',
  pull: 'Pull',
  install: 'Install',
  'usb-export': 'USB write',
  'usb-import': 'USB read',
}
const STATE_TONE: Record<TransferInfo['state'], Tone> = { running: 'info', done: 'ok', failed: 'bad', cancelled: 'muted' }

/** "1.2 MiB of 3.4 MiB", or "2 of 3 objects" for transfers counted in items. */
export function amount(t: TransferInfo): string {
  if (t.unit === 'items') return t.totalBytes !== null ? `${t.bytes} of ${plural(t.totalBytes, 'object')}` : plural(t.bytes, 'object')
  return `${bytes(t.bytes)}${t.totalBytes !== null ? ` of ${bytes(t.totalBytes)}` : ''}`
}

function PeerShare(p: { peers: TransferInfo['peers'] }) {
  const total = p.peers.reduce((a, x) => a + x.bytes, 0)
  if (p.peers.length === 0 || total === 0) return null
  return (
    <div class='peer-share'>
      <div class='small muted'>From peers</div>
      <div class='share-bar' role='img' aria-label={p.peers.map(x => `${x.peer}: ${bytes(x.bytes)}`).join(', ')}>
        {p.peers.map((x, i) => (
          <div key={x.peer} class={`seg seg-${i % 8}`} style={{ flexGrow: x.bytes }} />
        ))}
      </div>
      <ul class='share-legend'>
        {p.peers.map((x, i) => (
          <li key={x.peer}>
            <span class={`swatch seg-${i % 8}`} aria-hidden='true' /> <span class='mono'>{x.peer.length > 16 ? `…${x.peer.slice(-10)}` : x.peer}</span>{' '}
            {bytes(x.bytes)} <span class='muted'>({Math.round((x.bytes / total) * 100)}%)</span>
          </li>
        ))}
      </ul>
    </div>
  )
}

/**
 * How a finished transfer went, in words: its whole time, the average rate
 * over the time bytes were moving only, and for an install the device's run
 * after the upload with its own time ("6.9 MiB/s over 0.7 s of upload · the
 * device's run 26 s"), never one average over both.
 */
export function finishedText(t: TransferInfo): string {
  const elapsed = ((t.endedAt ?? Date.now()) - t.startedAt) / 1000
  const parts = [`took ${duration(elapsed)}`]
  const moving = t.movedFrom !== null && t.movedUntil !== null ? (t.movedUntil - t.movedFrom) / 1000 : null
  if (t.unit === 'bytes' && t.bytes > 0 && moving !== null && moving > 0) {
    parts.push(`${rate(t.bytes / moving)} average over ${duration(moving)} of ${t.kind === 'install' ? 'upload' : 'transfer'}`)
  }
  if (t.kind === 'install' && t.endedAt !== null) {
    const after = (t.endedAt - (t.movedUntil ?? t.startedAt)) / 1000
    parts.push(t.bytes === 0 ? `nothing to send; the device's run ${duration(after)}` : `the device's run ${duration(after)}`)
  }
  parts.push(`ended ${ago(t.endedAt)}`)
  return parts.join(' · ')
}

/** Run a failed or cancelled transfer's request again (the new transfer shows above, as it runs). */
function RetryButton(p: { t: TransferInfo }) {
  const api = useApi()
  const notify = useNotify()
  const [busy, setBusy] = useState(false)
  const t = p.t
  return (
    <Button
      small
      kind='primary'
      busy={busy}
      label={`Retry ${t.label}`}
      onClick={() => {
        setBusy(true)
        api.transfers
          .retry({ id: t.id })
          .catch((e: unknown) => {
            const x = errorParts(e)
            notify({ tone: 'bad', title: `Cannot retry ${t.label}`, body: `${x.message}${x.hint !== null ? ` — ${x.hint}` : ''}`, key: transferToastKey(t) })
          })
          .finally(() => {
            setBusy(false)
          })
      }}
    >
      Retry
    </Button>
  )
}

export function TransferRow(p: { t: TransferInfo }) {
  const api = useApi()
  const notify = useNotify()
  const t = p.t
  const err = t.error !== null ? errorParts(t.error) : null
  return (
    <li class={`transfer transfer-${t.state}`} data-testid='transfer' data-kind={t.kind} data-state={t.state}>
      <div class='transfer-head'>
        <span class='transfer-kind'>{KIND[t.kind]}</span>
        <span class='transfer-label strong'>{t.label}</span>
        <Badge tone={STATE_TONE[t.state]}>{t.state}</Badge>
        <span class='grow' />
        {t.state === 'running' && t.cancellable && (
          <Button
            small
            kind='danger'
            label={`Cancel ${t.label}`}
            onClick={() => {
              api.transfers.cancel({ id: t.id }).then(
                r => {
                  if (!r.cancelled) notify({ tone: 'info', title: 'It had already finished' })
                },
                e => {
                  notify({ tone: 'bad', title: 'Cannot cancel', body: (e as Error).message })
                },
              )
            }}
          >
            Cancel
          </Button>
        )}
        {(t.state === 'failed' || t.state === 'cancelled') && t.retryable && t.retriedBy === null && <RetryButton t={t} />}
        {t.retriedBy !== null && <span class='muted small'>retried</span>}
      </div>
      <ProgressBar done={t.bytes} total={t.totalBytes} tone={STATE_TONE[t.state]} running={t.state === 'running'} label={`${t.label} progress`} />
      <div class='transfer-meta'>
        <span class='num'>{amount(t)}</span>
        {t.state === 'running' ? (
          t.unit === 'bytes' && (
            <>
              <span>{rate(t.rate)}</span>
              <span>ETA {duration(t.etaSeconds)}</span>
            </>
          )
        ) : (
          <span data-testid='transfer-outcome'>{finishedText(t)}</span>
        )}
        {t.detail !== null && <span class='transfer-detail'>{t.detail}</span>}
      </div>
      <PeerShare peers={t.peers} />
      {err !== null && t.state === 'failed' && (
        <div class='transfer-error' role='alert'>
          {err.message}
          {err.hint !== null ? <span class='muted'> — {err.hint}</span> : null}
        </div>
      )}
    </li>
  )
}

export function TransfersScreen(p: { transfers: TransferInfo[] }) {
  const api = useApi()
  useTick(1000)
  const running = p.transfers.filter(t => t.state === 'running')
  const finished = p.transfers.filter(t => t.state !== 'running')
  return (
    <div class='screen'>
      <header class='screen-head'>
        <div>
          <h1>Transfers</h1>
          <p class='subtitle'>
            {running.length === 0 ? 'Nothing running.' : `${running.length} running.`} Pulls, installs, imports, exports and USB writes show here while they
            run.
          </p>
        </div>
        <div class='toolbar'>
          <Button
            onClick={() => {
              void api.transfers.clear()
            }}
            disabled={finished.length === 0}
          >
            Clear finished
          </Button>
        </div>
      </header>
      {p.transfers.length === 0 && <Empty title='No transfers yet'>Import, export, pull or install something and it shows here with its progress.</Empty>}
      {running.length > 0 && (
        <section class='section' aria-labelledby='running-title'>
          <h2 id='running-title'>Running</h2>
          <ul class='transfers'>
            {running.map(t => (
              <TransferRow key={t.id} t={t} />
            ))}
          </ul>
        </section>
      )}
      {finished.length > 0 && (
        <section class='section' aria-labelledby='finished-title'>
          <h2 id='finished-title'>Finished</h2>
          <ul class='transfers'>
            {finished.map(t => (
              <TransferRow key={t.id} t={t} />
            ))}
          </ul>
        </section>
      )}
    </div>
  )
}
