/**
 * Rollout: one revision onto many devices through the rollout engine
 * (main/devices/rollout, the same as `fieldsync rollout`). Pick a revision
 * (searchable), devices by tag or by hand and canaries, parallel and max
 * failures; see the plan; start; watch each device's row live; stop;
 * resume (the same rollout again: devices that finished are skipped); save
 * the report as csv, json or html. Rollouts an earlier run left unfinished
 * (killed, closed, stopped) are offered as cards (rollout-unfinished.tsx).
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import type { ReportKind, RolloutRowView, RolloutView } from '../../shared/api/fleet.js'
import { FolderPicker } from '../folder-picker.js'
import { bytes, shortId } from '../format.js'
import { useApi, useEvent, useResource } from '../hooks.js'
import { matches, SearchBox } from '../list-tools.js'
import { Badge, Button, ErrorBox, ProgressBar, errorParts, useNotify, type Tone } from '../ui.js'
import { ROLLOUT_SELECTION_KEY } from './device-list.js'
import { UnfinishedRollouts } from './rollout-unfinished.js'

const ROW_TONE: Record<RolloutRowView['state'], Tone> = {
  planned: 'muted',
  pending: 'muted',
  running: 'info',
  succeeded: 'ok',
  failed: 'bad',
  skipped: 'ok',
  'not-started': 'warn',
}

function RowLine(p: { r: RolloutRowView }) {
  const r = p.r
  const verdict =
    r.alreadyRuns === true ? 'already runs it' : r.fits === false ? 'does not fit' : r.problems.length > 0 ? r.problems[0] : r.fits === true ? 'fits' : ''
  return (
    <tr data-testid='rollout-row' data-device={r.deviceId} data-state={r.state}>
      <td>
        <span class='strong'>{r.label}</span>
        {r.canary && (
          <>
            {' '}
            <Badge tone='info'>canary</Badge>
          </>
        )}
      </td>
      <td>
        <Badge tone={ROW_TONE[r.state]}>{r.outcome ?? r.state}</Badge>
      </td>
      <td class='rollout-progress'>
        {r.state === 'running' && r.outcome === null ? (
          <ProgressBar done={r.progress ?? r.bytesSent} total={r.progress !== null ? 100 : r.bytesToSend} label={`progress of ${r.label}`} />
        ) : null}
      </td>
      <td class='num'>{r.bytesToSend === null ? '—' : bytes(r.bytesToSend)}</td>
      <td class='num'>{bytes(r.bytesSent)}</td>
      <td>{verdict}</td>
      <td class='mono small'>{r.revisionBefore ?? '—'}</td>
      <td class='ellipsis' title={r.message ?? ''}>
        {r.message ?? ''}
      </td>
    </tr>
  )
}

/** How far a run has got: its events and a call's answer race (the stop's answer may come after the event that it stopped). */
const RUN_RANK: Record<RolloutView['state'], number> = { planning: 0, running: 0, stopping: 1, planned: 2, stopped: 2, finished: 2, failed: 2 }

/** The view to keep when a call answers: its answer, unless the events already told a later state of the same run. */
function newer(current: RolloutView | null, answer: RolloutView): RolloutView {
  if (current === null || current.id !== answer.id) return answer
  return RUN_RANK[answer.state] > RUN_RANK[current.state] ? answer : current
}

function initialSelection(): string[] {
  try {
    const v = JSON.parse(sessionStorage.getItem(ROLLOUT_SELECTION_KEY) ?? '[]') as unknown
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

export function RolloutScreen() {
  const api = useApi()
  const notify = useNotify()
  const lib = useResource(a => a.library.list(), [], ['revision'])
  const devs = useResource(a => a.devices.list(), [], ['device'])
  const [revQuery, setRevQuery] = useState('')
  const [rev, setRev] = useState('')
  const [devQuery, setDevQuery] = useState('')
  const [chosen, setChosen] = useState<Set<string>>(() => new Set(initialSelection()))
  const [canary, setCanary] = useState<Set<string>>(new Set())
  const [parallel, setParallel] = useState(4)
  const [maxFailures, setMaxFailures] = useState(1)
  const [view, setView] = useState<RolloutView | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const [kind, setKind] = useState<ReportKind>('html')
  const [picking, setPicking] = useState(false)

  useEffect(() => {
    api.rollout.current().then(
      v => {
        if (v !== null) setView(v)
      },
      () => {},
    )
  }, [api])
  useEvent('rollout', u => {
    setView(v => {
      if (u.view !== undefined) return { ...u.view, rows: [...u.view.rows] }
      if (v === null || v.id !== u.id) return v
      const rows = u.row === undefined ? v.rows : v.rows.map(r => (r.deviceId === u.row?.deviceId ? u.row : r))
      return { ...v, state: u.state, stopped: u.stopped, rows }
    })
  })

  const revs = (lib.data?.revisions ?? []).filter(r => r.complete && matches(revQuery, [r.name, r.id, ...r.names]))
  const devices = devs.data ?? []
  const tags = useMemo(() => [...new Set(devices.flatMap(d => d.tags ?? []))].sort(), [devices])
  const shownDevices = devices.filter(d => matches(devQuery, [d.name, d.alias, d.deviceId, ...(d.tags ?? [])]))
  const running = view?.state === 'running' || view?.state === 'stopping' || view?.state === 'planning'
  const request = () => ({ rev, devices: [...chosen], canary: [...canary].filter(id => chosen.has(id)), parallel })
  const call = (fn: () => Promise<RolloutView>): void => {
    setBusy(true)
    setError(null)
    fn()
      .then(res => {
        setView(v => newer(v, res))
      }, setError)
      .finally(() => {
        setBusy(false)
      })
  }
  const toggle = (set: Set<string>, id: string, on: boolean): Set<string> => {
    const n = new Set(set)
    if (on) n.add(id)
    else n.delete(id)
    return n
  }

  return (
    <div class='screen'>
      <header class='screen-head'>
        <div>
          <h1>Rollout</h1>
          <p class='subtitle'>One revision onto many devices: canaries first, then the rest a few at a time.</p>
        </div>
      </header>
      <UnfinishedRollouts
        disabled={running}
        onResumed={res => {
          setView(v => newer(v, res))
        }}
      />
      <section class='rollout-form' aria-label='What to roll out'>
        <div>
          <label for='rollout-rev'>Revision</label>
          <SearchBox id='rollout-rev-search' label='Search revisions' placeholder='Search revisions' value={revQuery} onInput={setRevQuery} />
          <select
            id='rollout-rev'
            class='input'
            size={6}
            value={rev}
            onChange={e => {
              setRev((e.target as HTMLSelectElement).value)
            }}
          >
            {revs.slice(0, 200).map(r => (
              <option key={r.id} value={r.id}>
                {r.name} · {shortId(r.id)}
              </option>
            ))}
          </select>
          {revs.length > 200 && <p class='muted small'>{revs.length - 200} more: search to narrow.</p>}
        </div>
        <div>
          <label for='rollout-tag'>Devices</label>
          <div class='filters'>
            <select
              id='rollout-tag'
              class='input'
              value=''
              onChange={e => {
                const t = (e.target as HTMLSelectElement).value
                if (t !== '') setChosen(s => new Set([...s, ...devices.filter(d => (d.tags ?? []).includes(t)).map(d => d.deviceId)]))
              }}
            >
              <option value=''>Add devices tagged…</option>
              {tags.map(t => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
            <Button
              small
              onClick={() => {
                setChosen(new Set())
                setCanary(new Set())
              }}
              disabled={chosen.size === 0}
            >
              Clear
            </Button>
            <span data-testid='rollout-chosen'>
              {chosen.size} chosen, {[...canary].filter(id => chosen.has(id)).length} canary
            </span>
          </div>
          <SearchBox id='rollout-dev-search' label='Search devices' placeholder='Search devices' value={devQuery} onInput={setDevQuery} />
          <div class='check-list' role='group' aria-label='Devices of the rollout'>
            {shownDevices.slice(0, 200).map(d => (
              <div key={d.deviceId}>
                <label class='small'>
                  <input
                    type='checkbox'
                    checked={chosen.has(d.deviceId)}
                    aria-label={`Roll out to ${d.name}`}
                    onChange={e => {
                      setChosen(s => toggle(s, d.deviceId, (e.target as HTMLInputElement).checked))
                    }}
                  />{' '}
                  {d.name}
                </label>{' '}
                <label class='small muted'>
                  <input
                    type='checkbox'
                    checked={canary.has(d.deviceId)}
                    aria-label={`${d.name} is a canary`}
                    onChange={e => {
                      const on = (e.target as HTMLInputElement).checked
                      setCanary(s => toggle(s, d.deviceId, on))
                      if (on) setChosen(s => toggle(s, d.deviceId, true))
                    }}
                  />{' '}
                  canary
                </label>
                {(d.tags ?? []).map(t => (
                  <span key={t} class='tag'>
                    {t}
                  </span>
                ))}
              </div>
            ))}
          </div>
        </div>
        <div>
          <label for='rollout-parallel'>At once (parallel)</label>
          <input
            id='rollout-parallel'
            class='input'
            type='number'
            min={1}
            max={64}
            value={parallel}
            onInput={e => {
              setParallel(Math.max(1, Number((e.target as HTMLInputElement).value) || 1))
            }}
          />
          <label for='rollout-maxfail'>Stop after this many failures</label>
          <input
            id='rollout-maxfail'
            class='input'
            type='number'
            min={1}
            max={1000}
            value={maxFailures}
            onInput={e => {
              setMaxFailures(Math.max(1, Number((e.target as HTMLInputElement).value) || 1))
            }}
          />
          <div class='toolbar'>
            <Button
              busy={busy && view?.state === 'planning'}
              disabled={rev === '' || chosen.size === 0 || running}
              onClick={() => {
                call(async () => await api.rollout.plan(request()))
              }}
            >
              Check the plan
            </Button>
            <Button
              kind='primary'
              disabled={rev === '' || chosen.size === 0 || running}
              onClick={() => {
                call(async () => await api.rollout.start({ ...request(), maxFailures }))
              }}
            >
              Start rollout
            </Button>
          </div>
        </div>
      </section>
      {error !== null && <ErrorBox error={error} title='The rollout did not start' />}
      {view !== null && (
        <section aria-label='Rollout' data-testid='rollout-view' data-state={view.state}>
          <div class='filters'>
            <h2 class='small-head'>
              {view.state === 'planned' ? 'Plan' : 'Rollout'} of {view.revision.name}
              {view.rollout !== null ? ` (no. ${view.rollout}${view.resumed ? ', resumed' : ''})` : ''}
            </h2>
            <Badge tone={view.state === 'finished' ? 'ok' : view.state === 'failed' ? 'bad' : view.state === 'stopped' ? 'warn' : 'info'}>{view.state}</Badge>
            {view.summary !== null && (
              <span class='small' data-testid='rollout-summary'>
                {view.summary.succeeded} succeeded, {view.summary.failed} failed, {view.summary.skipped} already ran it, {view.summary.notStarted} not started,
                {view.summary.stopped > 0 ? ` ${view.summary.stopped} stopped while running,` : ''} of {view.summary.devices}
              </span>
            )}
            <Button
              kind='danger'
              disabled={!running || view.state === 'stopping'}
              onClick={() => {
                call(async () => await api.rollout.stop({ id: view.id }))
              }}
            >
              Stop
            </Button>
            <Button
              disabled={running || view.state !== 'stopped'}
              onClick={() => {
                const q = view.request
                call(
                  async () =>
                    await api.rollout.start({
                      rev: q.rev,
                      devices: q.devices,
                      canary: q.canary,
                      parallel: q.parallel,
                      maxFailures: q.maxFailures,
                      commit: q.commit,
                    }),
                )
              }}
            >
              Resume
            </Button>
            <label class='sr-only' for='report-kind'>
              Report format
            </label>
            <select
              id='report-kind'
              class='input'
              value={kind}
              onChange={e => {
                setKind((e.target as HTMLSelectElement).value as ReportKind)
              }}
            >
              <option value='html'>HTML</option>
              <option value='csv'>CSV</option>
              <option value='json'>JSON</option>
            </select>
            <Button
              disabled={running || view.summary === null}
              onClick={() => {
                setPicking(true)
              }}
            >
              Save report…
            </Button>
          </div>
          {view.signature !== '' && <p class='small muted'>Signatures: {view.signature}</p>}
          {view.stopped !== null && (
            <p role='status' class='small'>
              <strong>Stopped:</strong> {view.stopped}
            </p>
          )}
          {view.error !== null && <ErrorBox error={{ code: view.error.code, message: view.error.message }} title='The rollout failed' />}
          <div class='table-wrap'>
            <table class='table' aria-label='Rollout devices'>
              <thead>
                <tr>
                  <th scope='col'>Device</th>
                  <th scope='col'>State</th>
                  <th scope='col'>Progress</th>
                  <th scope='col' class='num'>
                    To send
                  </th>
                  <th scope='col' class='num'>
                    Sent
                  </th>
                  <th scope='col'>Plan</th>
                  <th scope='col'>Ran before</th>
                  <th scope='col'>Device message</th>
                </tr>
              </thead>
              <tbody>
                {view.rows.map(r => (
                  <RowLine key={r.deviceId} r={r} />
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <FolderPicker
        open={picking}
        title='Save the report in'
        chooseLabel='Save here'
        onClose={() => {
          setPicking(false)
        }}
        onPick={folder => {
          setPicking(false)
          if (view === null) return
          api.rollout.report({ id: view.id, folder, kind }).then(
            r => {
              notify({ tone: 'ok', title: 'Report saved', body: r.path })
            },
            er => {
              const x = errorParts(er)
              notify({ tone: 'bad', title: 'Cannot save the report', body: x.message })
            },
          )
        }}
      />
    </div>
  )
}
