/**
 * The Devices table for a site: search (name, alias, tag, address, id),
 * filter by tag and status, sort, pages of 50, checkboxes with "select all
 * that match", and on the selection: tag, untag, forget, roll out.
 */
import { useMemo, useState } from 'preact/hooks'
import type { DeviceInfo } from '../../shared/api/types.js'
import { ago } from '../format.js'
import { go, useApi } from '../hooks.js'
import { matches, Pager, SearchBox, usePage } from '../list-tools.js'
import { Badge, Button, errorParts, useNotify } from '../ui.js'
import { Access, History, statusTone } from './device-parts.js'

type SortKey = 'name' | 'status' | 'seen' | 'revision'
const SORTS: Array<[SortKey, string]> = [
  ['name', 'Name'],
  ['status', 'Status'],
  ['revision', 'Running'],
  ['seen', 'Last seen'],
]

export const ROLLOUT_SELECTION_KEY = 'fieldsync.rollout.devices'

function compare(k: SortKey): (a: DeviceInfo, b: DeviceInfo) => number {
  const text = (x: string | null): string => x ?? '\uffff'
  switch (k) {
    case 'status':
      return (a, b) => text(a.status).localeCompare(text(b.status)) || a.name.localeCompare(b.name)
    case 'revision':
      return (a, b) => text(a.revision).localeCompare(text(b.revision)) || a.name.localeCompare(b.name)
    case 'seen':
      return (a, b) => b.lastSeen - a.lastSeen
    default:
      return (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.deviceId.localeCompare(b.deviceId)
  }
}

/** Where it answers: a device added as host:port keeps its port in its id (two devices on one IP are two rows). */
function address(d: DeviceInfo): string {
  const hosts = d.addrs.join(', ')
  if (d.port !== null) return `${hosts}:${d.port}`
  return d.addrs.length === 1 && d.deviceId.startsWith(`${hosts}:`) ? d.deviceId : hosts
}

export function DeviceTable(p: { devices: DeviceInfo[]; reload: () => void }) {
  const api = useApi()
  const notify = useNotify()
  const [query, setQuery] = useState('')
  const [tag, setTag] = useState('')
  const [status, setStatus] = useState('')
  const [sort, setSort] = useState<SortKey>('name')
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [tagText, setTagText] = useState('')
  const [busy, setBusy] = useState(false)
  const [open, setOpen] = useState<string | null>(null)

  const tags = useMemo(() => [...new Set(p.devices.flatMap(d => d.tags ?? []))].sort(), [p.devices])
  const statuses = useMemo(() => [...new Set(p.devices.map(d => d.status ?? 'unknown'))].sort(), [p.devices])
  const shownAll = useMemo(
    () =>
      p.devices
        .filter(d => tag === '' || (d.tags ?? []).includes(tag))
        .filter(d => status === '' || (d.status ?? 'unknown') === status)
        .filter(d => matches(query, [d.name, d.alias, d.deviceId, address(d), d.revision, ...(d.tags ?? [])]))
        .sort(compare(sort)),
    [p.devices, query, tag, status, sort],
  )
  const pg = usePage(shownAll, `${query}|${tag}|${status}|${sort}`)
  const chosen = p.devices.filter(d => selected.has(d.deviceId))
  const allMatchSelected = shownAll.length > 0 && shownAll.every(d => selected.has(d.deviceId))

  const toggle = (id: string): void => {
    setSelected(s => {
      const n = new Set(s)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return n
    })
  }
  const act = (title: string, fn: () => Promise<unknown>): void => {
    setBusy(true)
    fn()
      .then(
        () => {
          notify({ tone: 'ok', title })
          p.reload()
        },
        er => {
          const x = errorParts(er)
          notify({ tone: 'bad', title: `Could not: ${title.toLowerCase()}`, body: x.message })
        },
      )
      .finally(() => {
        setBusy(false)
      })
  }
  const tagList = (): string[] => tagText.split(/[\s,]+/).filter(t => t !== '')

  return (
    <>
      <div class='filters'>
        <SearchBox id='device-search' label='Search devices' placeholder='Search name, alias, tag, address, id' value={query} onInput={setQuery} />
        <label class='small' for='device-tag-filter'>
          Tag
        </label>
        <select
          id='device-tag-filter'
          class='input'
          value={tag}
          onChange={e => {
            setTag((e.target as HTMLSelectElement).value)
          }}
        >
          <option value=''>any</option>
          {tags.map(t => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <label class='small' for='device-status-filter'>
          Status
        </label>
        <select
          id='device-status-filter'
          class='input'
          value={status}
          onChange={e => {
            setStatus((e.target as HTMLSelectElement).value)
          }}
        >
          <option value=''>any</option>
          {statuses.map(s => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <label class='small' for='device-sort'>
          Sort by
        </label>
        <select
          id='device-sort'
          class='input'
          value={sort}
          onChange={e => {
            setSort((e.target as HTMLSelectElement).value as SortKey)
          }}
        >
          {SORTS.map(([k, l]) => (
            <option key={k} value={k}>
              {l}
            </option>
          ))}
        </select>
      </div>
      <div class='bulk' role='group' aria-label='Selected devices'>
        <span data-testid='selected-count'>{chosen.length} selected</span>
        <Button
          small
          onClick={() => {
            setSelected(s => new Set([...s, ...shownAll.map(d => d.deviceId)]))
          }}
          disabled={allMatchSelected}
        >
          Select all {shownAll.length} that match
        </Button>
        <Button
          small
          onClick={() => {
            setSelected(new Set())
          }}
          disabled={chosen.length === 0}
        >
          Clear
        </Button>
        <label class='sr-only' for='bulk-tags'>
          Tags
        </label>
        <input
          id='bulk-tags'
          class='input'
          placeholder='tags, e.g. line-3 canary'
          value={tagText}
          onInput={e => {
            setTagText((e.target as HTMLInputElement).value)
          }}
        />
        <Button
          small
          busy={busy}
          disabled={chosen.length === 0 || tagList().length === 0}
          onClick={() => {
            act(`Tagged ${chosen.length} device(s)`, async () => await api.devices.tag({ devices: chosen.map(d => d.deviceId), tags: tagList() }))
          }}
        >
          Tag
        </Button>
        <Button
          small
          busy={busy}
          disabled={chosen.length === 0 || tagList().length === 0}
          onClick={() => {
            act(
              `Untagged ${chosen.length} device(s)`,
              async () => await api.devices.tag({ devices: chosen.map(d => d.deviceId), tags: tagList(), remove: true }),
            )
          }}
        >
          Untag
        </Button>
        <Button
          small
          kind='danger'
          busy={busy}
          disabled={chosen.length === 0}
          onClick={() => {
            if (!confirm(`Forget ${chosen.length} device(s)? Their alias and tags go; their install history stays.`)) return
            act(`Forgot ${chosen.length} device(s)`, async () => {
              await api.devices.forget({ devices: chosen.map(d => d.deviceId) })
              setSelected(new Set())
            })
          }}
        >
          Forget
        </Button>
        <Button
          small
          kind='primary'
          disabled={chosen.length === 0}
          onClick={() => {
            sessionStorage.setItem(ROLLOUT_SELECTION_KEY, JSON.stringify(chosen.map(d => d.deviceId)))
            go('rollout')
          }}
        >
          Roll out…
        </Button>
      </div>
      <Pager page={pg.page} pages={pg.pages} total={shownAll.length} what='devices' setPage={pg.setPage} />
      <div class='table-wrap'>
        <table class='table table-devices' aria-label='Devices'>
          <thead>
            <tr>
              <th scope='col'>
                <input
                  type='checkbox'
                  aria-label='Select the devices on this page'
                  checked={pg.shown.length > 0 && pg.shown.every(d => selected.has(d.deviceId))}
                  onChange={e => {
                    const on = (e.target as HTMLInputElement).checked
                    setSelected(s => {
                      const n = new Set(s)
                      for (const d of pg.shown) {
                        if (on) n.add(d.deviceId)
                        else n.delete(d.deviceId)
                      }
                      return n
                    })
                  }}
                />
              </th>
              <th scope='col'>Name</th>
              <th scope='col'>Tags</th>
              <th scope='col'>Address</th>
              <th scope='col'>Access</th>
              <th scope='col'>Running</th>
              <th scope='col'>Status</th>
              <th scope='col' class='col-seen'>
                Seen
              </th>
              <th scope='col'>
                <span class='sr-only'>Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {pg.shown.map(d => [
              <tr key={d.deviceId} data-testid='device-row' data-device={d.deviceId}>
                <td>
                  <input
                    type='checkbox'
                    aria-label={`Select ${d.name}`}
                    checked={selected.has(d.deviceId)}
                    onChange={() => {
                      toggle(d.deviceId)
                    }}
                  />
                </td>
                <td>
                  <a class='strong' href={`#/devices/device/${encodeURIComponent(d.deviceId)}`}>
                    {d.name}
                  </a>
                  {/* The id under the alias, unless the Address column already says it (a device added as host:port). */}
                  {d.alias != null && d.name !== d.deviceId && d.deviceId !== address(d) && (
                    <div class='muted small mono' title={d.deviceId}>
                      {d.deviceId.length > 22 ? `${d.deviceId.slice(0, 20)}…` : d.deviceId}
                    </div>
                  )}
                </td>
                <td>
                  {(d.tags ?? []).map(t => (
                    <span key={t} class='tag'>
                      {t}
                    </span>
                  ))}
                </td>
                <td class='mono small' title={address(d)}>
                  {address(d)}
                </td>
                <td>
                  <Access d={d} />
                  {d.registered === false && (
                    <>
                      {' '}
                      <Badge
                        tone='info'
                        title='It advertises no device-id: it never registered with Pantahub. Its id here is a fingerprint of its name, address and port.'
                      >
                        not registered
                      </Badge>
                    </>
                  )}
                </td>
                <td class='mono small' title={d.revision ?? undefined}>
                  {d.revision ?? '—'}
                </td>
                <td>{d.status !== null ? <Badge tone={statusTone(d.status)}>{d.status}</Badge> : <span class='muted'>—</span>}</td>
                <td class='col-seen' title={d.source === 'manual' ? 'added by address' : 'found by mDNS'}>
                  {ago(d.lastSeen)}
                </td>
                <td class='actions'>
                  <button
                    type='button'
                    class='link small'
                    aria-expanded={open === d.deviceId}
                    aria-label={`Install history of ${d.name}`}
                    onClick={() => {
                      setOpen(o => (o === d.deviceId ? null : d.deviceId))
                    }}
                  >
                    History
                  </button>{' '}
                  <Button
                    small
                    onClick={() => {
                      go('devices', 'install', '-', d.deviceId)
                    }}
                    label={`Install on ${d.name}`}
                  >
                    Install…
                  </Button>
                </td>
              </tr>,
              open === d.deviceId && (
                <tr key={`${d.deviceId}-h`} class='detail-row'>
                  <td colSpan={9}>
                    <h3 class='small-head'>Install history of {d.name}</h3>
                    <History device={d.deviceId} />
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      </div>
    </>
  )
}
