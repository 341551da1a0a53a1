/**
 * A device's page: what it runs (the step, and the library revision it is),
 * free storage, architecture and model where it tells them, the steps this
 * laptop gave it, its install history; asked again every few seconds while
 * shown. Rename, tag, untag and forget, in the same store as the CLI.
 */
import { useEffect, useState } from 'preact/hooks'
import { bytes, dateTime } from '../format.js'
import { go, useApi, useResource } from '../hooks.js'
import { Badge, Button, ErrorBox, errorParts, useNotify } from '../ui.js'
import { History, statusTone } from './device-parts.js'

const REFRESH_MS = 5000

/** Why the next SSH login enters that container (on a Pantavisor device the login name is the container: fallbear-cmd). */
const SSH_WHY: Record<'flag' | 'state' | 'setting' | 'default', string> = {
  flag: 'given for this install',
  state: 'the state it runs gives it the management role',
  setting: 'set for this device',
  default: 'the management container of stock images; nothing else known yet',
}

export function DevicePage(p: { id: string }) {
  const api = useApi()
  const notify = useNotify()
  const list = useResource(a => a.devices.list(), [], ['device', 'install'])
  const detail = useResource(a => a.devices.detail({ device: p.id }), [p.id], ['install'])
  const [alias, setAlias] = useState<string | null>(null)
  const [tagText, setTagText] = useState('')
  const [sshText, setSshText] = useState<string | null>(null)
  useEffect(() => {
    const t = setInterval(() => {
      detail.reload()
    }, REFRESH_MS)
    return () => {
      clearInterval(t)
    }
  }, [detail.reload])
  const d = list.data?.find(x => x.deviceId === p.id)
  const m = detail.data
  const act = (title: string, fn: () => Promise<unknown>): void => {
    fn().then(
      () => {
        notify({ tone: 'ok', title })
      },
      er => {
        const x = errorParts(er)
        notify({ tone: 'bad', title: `Could not: ${title.toLowerCase()}`, body: x.message })
      },
    )
  }
  const name = d?.name ?? p.id
  return (
    <div class='screen'>
      <nav aria-label='Breadcrumb' class='small'>
        <a href='#/devices'>Devices</a> › {name}
      </nav>
      <header class='screen-head'>
        <div>
          <h1>{name}</h1>
          <p class='subtitle mono'>{p.id}</p>
        </div>
        <div class='toolbar'>
          <Button
            kind='primary'
            onClick={() => {
              go('devices', 'install', '-', p.id)
            }}
          >
            Install…
          </Button>
        </div>
      </header>
      {list.data !== undefined && d === undefined && <p class='muted'>This device is not in the list (forgotten?). Its install history stays below.</p>}
      {detail.error !== undefined && <ErrorBox error={detail.error} title='Cannot read the device' onRetry={detail.reload} />}
      {m !== undefined && (
        <section aria-label='What the device tells' data-testid='device-detail'>
          {m.error !== null && (
            <p class='muted' role='status'>
              The device did not answer just now ({m.error.message}); what it last told is shown.
            </p>
          )}
          <dl class='detail-grid'>
            <dt>Runs step</dt>
            <dd class='mono' data-testid='device-step'>
              {m.step ?? '—'}
            </dd>
            <dt>Which is</dt>
            <dd data-testid='device-runs'>
              {m.runs !== null ? (
                <a href={`#/revision/${m.runs.id}`}>{m.runs.name}</a>
              ) : (
                <span class='muted'>not a revision in this library (or it does not tell)</span>
              )}
            </dd>
            <dt>Status</dt>
            <dd>{m.status !== null ? <Badge tone={statusTone(m.status)}>{m.status}</Badge> : '—'}</dd>
            <dt>Free storage</dt>
            <dd data-testid='device-free'>{m.freeBytes === null ? '—' : bytes(m.freeBytes)}</dd>
            <dt>Architecture</dt>
            <dd>{m.arch ?? '—'}</dd>
            <dt>Model</dt>
            <dd>{m.model ?? '—'}</dd>
            <dt>Pantavisor</dt>
            <dd>
              {m.version ?? '—'}
              {m.mode !== null ? ` (${m.mode} mode)` : ''}
            </dd>
            <dt>Steps from this laptop</dt>
            <dd class='mono small'>{m.steps.length === 0 ? '—' : m.steps.join(', ')}</dd>
            <dt>Asked</dt>
            <dd class='small muted'>{dateTime(m.readAt)}</dd>
          </dl>
        </section>
      )}
      {d !== undefined && (
        <section aria-label='Labels' class='filters'>
          <label class='small' for='dev-alias'>
            Alias
          </label>
          <input
            id='dev-alias'
            class='input'
            value={alias ?? d.alias ?? ''}
            placeholder='e.g. line-3'
            onInput={e => {
              setAlias((e.target as HTMLInputElement).value)
            }}
          />
          <Button
            small
            onClick={() => {
              act(alias === '' ? 'Alias removed' : `Renamed to ${alias ?? ''}`, async () => {
                await api.devices.rename({ device: p.id, alias: (alias ?? d.alias ?? '').trim() })
                setAlias(null)
              })
            }}
          >
            Rename
          </Button>
          <span>
            {(d.tags ?? []).map(t => (
              <span key={t} class='tag'>
                {t}{' '}
                <button
                  type='button'
                  class='link'
                  aria-label={`Remove tag ${t}`}
                  onClick={() => {
                    act(`Untagged ${t}`, async () => await api.devices.tag({ devices: [p.id], tags: [t], remove: true }))
                  }}
                >
                  ×
                </button>
              </span>
            ))}
          </span>
          <label class='sr-only' for='dev-tag'>
            Add a tag
          </label>
          <input
            id='dev-tag'
            class='input'
            value={tagText}
            placeholder='add a tag'
            onInput={e => {
              setTagText((e.target as HTMLInputElement).value)
            }}
          />
          <Button
            small
            disabled={tagText.trim() === ''}
            onClick={() => {
              act(`Tagged ${tagText.trim()}`, async () => {
                await api.devices.tag({ devices: [p.id], tags: [tagText.trim()] })
                setTagText('')
              })
            }}
          >
            Tag
          </Button>
          <Button
            small
            kind='danger'
            onClick={() => {
              if (!confirm(`Forget ${name}? Its alias and tags go; its install history stays.`)) return
              act(`Forgot ${name}`, async () => {
                await api.devices.forget({ devices: [p.id] })
                go('devices')
              })
            }}
          >
            Forget
          </Button>
        </section>
      )}
      {m !== undefined && d !== undefined && (
        <section aria-label='SSH login' class='filters' data-testid='device-ssh'>
          <span class='small'>
            Next SSH login:{' '}
            <code class='mono' data-testid='device-ssh-next'>
              {m.ssh.next.container}
            </code>{' '}
            <span class='muted'>({SSH_WHY[m.ssh.next.source]})</span>
          </span>
          <label class='small' for='dev-ssh'>
            SSH container
          </label>
          <input
            id='dev-ssh'
            class='input mono'
            value={sshText ?? m.ssh.container ?? ''}
            placeholder={m.ssh.mgmt?.[0] ?? 'pvr-sdk'}
            onInput={e => {
              setSshText((e.target as HTMLInputElement).value)
            }}
          />
          {m.ssh.container !== null && m.ssh.mgmt !== null && m.ssh.mgmt.length > 0 && !m.ssh.mgmt.includes(m.ssh.container) && (
            <span class='small' role='note' data-testid='device-ssh-note'>
              {m.ssh.container} has no management role in the state the device runs, so it cannot reach pv-ctrl: logins enter {m.ssh.next.container}
            </span>
          )}
          <Button
            small
            onClick={() => {
              const c = (sshText ?? m.ssh.container ?? '').trim()
              act(c === '' ? 'SSH container choice forgotten' : `SSH logins to ${name} enter ${c}`, async () => {
                await api.devices.setSsh({ device: p.id, container: c })
                setSshText(null)
                detail.reload()
              })
            }}
          >
            Set
          </Button>
        </section>
      )}
      <h2 class='small-head'>Install history</h2>
      <History device={p.id} />
    </div>
  )
}
