/**
 * The Rollout screen's unfinished rollouts: a card for each rollout the
 * library says did not finish (the app or the CLI was killed or closed while
 * it ran, or it was stopped), the newest few, but the one this window shows.
 * Resume starts it again with its stored request (the engine resumes it:
 * devices that finished are skipped, a device cut off while running is
 * followed); Dismiss gives it up.
 */
import { useState } from 'preact/hooks'
import type { RolloutUpdate, RolloutView, UnfinishedRollout } from '../../shared/api/fleet.js'
import { dateTime, plural, shortId } from '../format.js'
import { useApi, useResource } from '../hooks.js'
import { Badge, Button, ErrorBox } from '../ui.js'

/** How many device names a card lists before "and N more". */
const NAMES_SHOWN = 8

export function countsText(c: UnfinishedRollout['counts']): string {
  const parts = [`${c.succeeded} succeeded`, `${c.failed} failed`]
  if (c.skipped > 0) parts.push(`${c.skipped} already ran it`)
  if (c.notStarted > 0) parts.push(`${c.notStarted} not started`)
  if (c.stopped > 0) parts.push(`${c.stopped} stopped while running`)
  if (c.pending > 0) parts.push(`${c.pending} pending`)
  return `${plural(c.devices, 'device')}: ${parts.join(', ')}`
}

function Card(p: { r: UnfinishedRollout; disabled: boolean; onResumed: (v: RolloutView) => void; onDismissed: () => void }) {
  const api = useApi()
  const [busy, setBusy] = useState<'resume' | 'dismiss' | null>(null)
  const [error, setError] = useState<{ what: 'resume' | 'dismiss'; err: unknown } | null>(null)
  const r = p.r
  const q = r.request
  const act = (what: 'resume' | 'dismiss'): void => {
    setBusy(what)
    setError(null)
    const done =
      what === 'resume'
        ? api.rollout.resume({ rollout: r.rollout }).then(p.onResumed)
        : api.rollout.dismiss({ rollout: r.rollout }).then(() => {
            p.onDismissed()
          })
    done
      .catch((err: unknown) => {
        setError({ what, err })
      })
      .finally(() => {
        setBusy(null)
      })
  }
  const titleId = `unfinished-${r.rollout}`
  return (
    <section class='card' aria-labelledby={titleId} data-testid='unfinished-rollout' data-rollout={r.rollout} data-state={r.state}>
      <header class='card-head'>
        <h3 id={titleId}>
          Rollout no. {r.rollout} of {r.revision.name}{' '}
          <span class='muted small mono' title={r.revision.id}>
            {shortId(r.revision.id)}
          </span>
        </h3>
        {r.runningIn !== null ? (
          <Badge tone='info' title='another Fieldsync window or command is running it now'>
            running in another Fieldsync process (pid {r.runningIn})
          </Badge>
        ) : (
          <Badge tone='warn' title={r.state === 'running' ? 'the app or the command running it ended before it did' : 'it was stopped'}>
            {r.state === 'running' ? 'cut off while running' : 'stopped'}
          </Badge>
        )}
      </header>
      <p data-testid='unfinished-counts'>{countsText(r.counts)}</p>
      <p class='small muted'>
        Started {dateTime(r.startedAt)}
        {r.endedAt !== null
          ? `, stopped ${dateTime(r.endedAt)}`
          : r.runningIn !== null
            ? ', still running'
            : ', never ended (the app or the command was closed or killed)'}{' '}
        · {q.parallel === 1 ? 'one device at a time' : `${q.parallel} at once`}, stops after {plural(q.maxFailures, 'failure')}
        {q.canary.length > 0 ? `, ${plural(q.canary.length, 'canary', 'canaries')}` : ''}
        {q.commit ? ', commits' : ''}
      </p>
      <p class='small'>
        {r.labels.slice(0, NAMES_SHOWN).join(', ')}
        {r.labels.length > NAMES_SHOWN ? ` and ${r.labels.length - NAMES_SHOWN} more` : ''}
      </p>
      {error !== null && <ErrorBox error={error.err} title={error.what === 'dismiss' ? 'Not dismissed' : 'The rollout did not resume'} />}
      <div class='toolbar'>
        <Button
          kind='primary'
          busy={busy === 'resume'}
          disabled={p.disabled || busy !== null || r.runningIn !== null}
          label={`Resume rollout no. ${r.rollout}`}
          onClick={() => {
            act('resume')
          }}
        >
          Resume
        </Button>
        <Button
          kind='quiet'
          busy={busy === 'dismiss'}
          disabled={busy !== null || r.runningIn !== null}
          label={`Dismiss rollout no. ${r.rollout}`}
          title='Give this rollout up: it is no longer offered, and the same rollout started again begins afresh'
          onClick={() => {
            act('dismiss')
          }}
        >
          Dismiss
        </Button>
      </div>
    </section>
  )
}

/** The cards, or nothing when every rollout finished. `disabled`: this window runs a rollout (one at a time). */
export function UnfinishedRollouts(p: { disabled: boolean; onResumed: (v: RolloutView) => void }) {
  // A rollout's state change (not each row's progress) may change the list.
  const list = useResource(
    a => a.rollout.unfinished(),
    [],
    ['rollout'],
    (_e, u) => (u as RolloutUpdate).row === undefined,
  )
  if (list.data === undefined) return null
  const rs = list.data
  return (
    <section aria-label='Unfinished rollouts' data-testid='unfinished-rollouts' data-count={rs.length}>
      {rs.length > 0 && (
        <>
          <h2 class='small-head'>Unfinished rollouts</h2>
          <p class='small muted'>
            These did not finish: resume one to finish it (devices that finished are skipped, one cut off while running is followed), or dismiss it.
          </p>
        </>
      )}
      {rs.map(r => (
        <Card
          key={r.rollout}
          r={r}
          disabled={p.disabled}
          onResumed={v => {
            p.onResumed(v)
            list.reload()
          }}
          onDismissed={list.reload}
        />
      ))}
    </section>
  )
}
