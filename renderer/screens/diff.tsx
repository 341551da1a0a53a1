/** Diff of a revision against any other: keys added, removed, changed, and the bytes a device would need. */
import { useState } from 'preact/hooks'
import type { DiffEntry, RevisionSummary } from '../../shared/api/types.js'
import { bytes, plural, shortId } from '../format.js'
import { useResource } from '../hooks.js'
import { Button, ErrorBox } from '../ui.js'

export function Entries(p: { title: string; sign: string; tone: string; list: DiffEntry[] }) {
  if (p.list.length === 0) return null
  return (
    <div class={`diff-group diff-${p.tone}`}>
      <h3>
        {p.title} <span class='muted'>({p.list.length})</span>
      </h3>
      <ul class='diff-list'>
        {p.list.map(e => (
          <li key={e.key}>
            <span class='diff-sign' aria-hidden='true'>
              {p.sign}
            </span>{' '}
            <span class='mono'>{e.key}</span>
            {e.bytes !== null && <span class='muted num'> {bytes(e.bytes)}</span>}
          </li>
        ))}
      </ul>
    </div>
  )
}

export function DiffPanel(p: { revision: RevisionSummary; compare?: string }) {
  const list = useResource(api => api.library.list(), [], ['revision'])
  const others = (list.data?.revisions ?? []).filter(r => r.id !== p.revision.id)
  const [other, setOther] = useState<string>(p.compare ?? '')
  // Default direction: a device running the other revision moves to this one.
  const [toThis, setToThis] = useState(true)
  const a = toThis ? other : p.revision.id
  const b = toThis ? p.revision.id : other
  const diff = useResource(api => (other === '' ? Promise.resolve(null) : api.library.diff({ a, b })), [a, b], ['revision'])
  const d = diff.data

  return (
    <section class='section' aria-labelledby='diff-title'>
      <h2 id='diff-title'>Compare</h2>
      {others.length === 0 ? (
        <p class='muted'>No other revision in the library to compare with.</p>
      ) : (
        <div class='row diff-controls'>
          <label for='diff-other'>Compare with</label>
          <select
            id='diff-other'
            class='input'
            value={other}
            onChange={e => {
              setOther((e.target as HTMLSelectElement).value)
            }}
          >
            <option value=''>choose a revision…</option>
            {others.map(r => (
              <option key={r.id} value={r.id}>
                {r.name} ({shortId(r.id)})
              </option>
            ))}
          </select>
          {other !== '' && (
            <Button
              small
              onClick={() => {
                setToThis(x => !x)
              }}
              title='swap which revision the device runs now'
            >
              ⇄ Swap direction
            </Button>
          )}
        </div>
      )}
      {diff.error !== undefined && <ErrorBox error={diff.error} title='Cannot compare' onRetry={diff.reload} />}
      {d != null && (
        <div class='diff' data-testid='diff-result'>
          <p class='diff-summary'>
            From <strong>{d.a.name}</strong> to <strong>{d.b.name}</strong>: {d.added.length} added, {d.removed.length} removed, {d.changed.length} changed.
          </p>
          <div class='callout'>
            A device running <strong>{d.a.name}</strong> needs <strong data-testid='diff-bytes'>{bytes(d.transferBytes)}</strong> in{' '}
            {plural(d.transferObjects, 'object')} to move to <strong>{d.b.name}</strong>
            {d.unknownSizes > 0 && <span class='muted'> (plus {plural(d.unknownSizes, 'object')} of unknown size)</span>}.
          </div>
          {d.added.length + d.removed.length + d.changed.length === 0 ? (
            <p class='muted'>The two states are identical.</p>
          ) : (
            <div class='diff-groups'>
              <Entries title='Added' sign='+' tone='ok' list={d.added} />
              <Entries title='Removed' sign='−' tone='bad' list={d.removed} />
              <Entries title='Changed' sign='~' tone='warn' list={d.changed} />
            </div>
          )}
        </div>
      )}
    </section>
  )
}
