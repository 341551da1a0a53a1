/** Devices: discovered and added devices, their state, install history; the install wizard lives in install.tsx. */
import { useState } from 'preact/hooks'
import type { DeviceInfo } from '../../shared/api/types.js'
import { useInfo } from '../app-context.js'
import { ago, bytes, dateTime, shortId } from '../format.js'
import { go, useApi, useResource, useTick } from '../hooks.js'
import { Badge, Button, Empty, ErrorBox, NotAvailable, errorParts, useNotify, type Tone } from '../ui.js'

export function statusTone (s: string | null): Tone {
  switch (s) {
    case 'DONE': case 'UPDATED': case 'RUNNING': return 'ok'
    case 'ERROR': case 'WONTGO': case 'NOT_RUNNING': case 'FAILED': case 'TIMEOUT': case 'INTERRUPTED': return 'bad'
    case 'TESTING': case 'INPROGRESS': case 'NEW': case 'QUEUED': case 'DOWNLOADING': return 'info'
    default: return 'muted'
  }
}

function History (p: { device: string }) {
  const h = useResource(a => a.devices.history({ device: p.device }), [p.device], ['install'])
  if (h.error !== undefined) return <ErrorBox error={h.error} title='Cannot read the install history' onRetry={h.reload} />
  const list = h.data ?? []
  if (list.length === 0) return <p class='muted'>No installs from this laptop yet.</p>
  return (
    <table class='table table-compact' aria-label='Install history'>
      <thead><tr><th scope='col'>When</th><th scope='col'>Revision</th><th scope='col'>Step</th><th scope='col'>Outcome</th><th scope='col' class='num'>Sent</th><th scope='col'>Device said</th></tr></thead>
      <tbody>
        {list.map((r, i) => (
          <tr key={i}>
            <td>{dateTime(r.startedAt)}</td>
            <td>{r.revisionName ?? <code class='mono'>{shortId(r.revision)}</code>}</td>
            <td class='mono'>{r.step ?? '—'}</td>
            <td><Badge tone={statusTone(r.status)}>{r.status}</Badge></td>
            <td class='num'>{bytes(r.bytesSent)}</td>
            <td class='ellipsis' title={r.statusMsg ?? ''}>{r.statusMsg ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** How the device is reached: what answered when it was added, or what discovery found. */
function Access (p: { d: DeviceInfo }) {
  const d = p.d
  if (d.pvrSdk) return <Badge tone='ok'>pvr-sdk</Badge>
  if (d.reach === 'offline') return <Badge tone='warn' title='Nothing answered at this address when it was added; installs try it again.'>offline</Badge>
  if (d.reach === 'pv-ctrl') return <Badge tone='ok'>pv-ctrl</Badge>
  return <Badge tone='muted' title='An SSH server answers; pvr-sdk does not'>ssh only</Badge>
}

/** What the add said, for its toast. */
function addedText (d: DeviceInfo): string {
  if (d.reach === 'offline') return 'nothing answers there; added as offline'
  if (d.reach === 'pv-ctrl') return 'its pv-ctrl socket answers'
  if (d.pvrSdk) return 'pvr-sdk answers'
  return 'an SSH server answers (no pvr-sdk)'
}

function DeviceRow (p: { d: DeviceInfo, open: boolean, onToggle: () => void }) {
  const d = p.d
  return (
    <>
      <tr data-testid='device-row' data-device={d.deviceId}>
        <td><button type='button' class='link strong' aria-expanded={p.open} onClick={p.onToggle}>{d.name}</button></td>
        <td><code class='mono' title={d.deviceId}>{d.deviceId.length > 16 ? `${d.deviceId.slice(0, 14)}…` : d.deviceId}</code></td>
        <td class='mono small'>{d.addrs.join(', ')}{d.port !== null ? `:${d.port}` : ''}</td>
        <td>{d.registered === false
          ? <Badge tone='info' title='It advertises no device-id: it never registered with Pantahub. Its id here is a fingerprint of its name, address and port.'>not registered</Badge>
          : d.claimed === null ? <span class='muted'>?</span> : d.claimed ? 'claimed' : <Badge tone='warn'>unclaimed</Badge>}</td>
        <td><Access d={d} /></td>
        <td class='mono small'>{d.revision ?? '—'}</td>
        <td>{d.status !== null ? <Badge tone={statusTone(d.status)}>{d.status}</Badge> : <span class='muted'>—</span>}</td>
        <td title={d.source === 'manual' ? 'added by address' : 'found by mDNS'}>{ago(d.lastSeen)}</td>
        <td class='actions'><Button small kind='primary' onClick={() => { go('devices', 'install', '-', d.deviceId) }} label={`Install on ${d.name}`}>Install…</Button></td>
      </tr>
      {p.open && (
        <tr class='detail-row'><td colSpan={9}><h3 class='small-head'>Install history of {d.name}</h3><History device={d.deviceId} /></td></tr>
      )}
    </>
  )
}

export function DevicesScreen () {
  const info = useInfo()
  const api = useApi()
  const notify = useNotify()
  const [addr, setAddr] = useState('')
  const [adding, setAdding] = useState(false)
  const [offline, setOffline] = useState(false)
  const [open, setOpen] = useState<string | null>(null)
  useTick(5000)
  const list = useResource(a => info.capabilities.devices ? a.devices.list() : Promise.resolve(null), [info.capabilities.devices], ['device', 'install'])
  if (!info.capabilities.devices) {
    return (
      <div class='screen'>
        <header class='screen-head'><div><h1>Devices</h1><p class='subtitle'>Pantavisor devices on this network.</p></div></header>
        <NotAvailable title='Devices are not available yet'>
          <p>Finding Pantavisor devices and installing revisions onto them over the network is not in this build of Fieldsync yet.</p>
          <p>Meanwhile, export a revision from the <a href='#/library'>Library</a> and install it on the device with <code>pvcontrol steps install</code>.</p>
        </NotAvailable>
      </div>
    )
  }
  const devices = list.data ?? []
  return (
    <div class='screen'>
      <header class='screen-head'>
        <div><h1>Devices</h1><p class='subtitle'>Pantavisor devices found on this network, or added by address.</p></div>
        <form class='toolbar' onSubmit={(e) => {
          e.preventDefault()
          setAdding(true)
          api.devices.add({ address: addr.trim(), ...(offline ? { offline: true } : {}) }).then(d => {
            setAddr('')
            notify({ tone: d.reach === 'offline' ? 'warn' : 'ok', title: `Added ${d.name}`, body: `${d.deviceId}: ${addedText(d)}` })
          }, er => {
            const x = errorParts(er); notify({ tone: 'bad', title: `Cannot reach ${addr}`, body: `${x.message}${x.hint !== null ? ` — ${x.hint}` : ''}` })
          }).finally(() => { setAdding(false) })
        }}>
          <label class='sr-only' for='device-addr'>Device address</label>
          <input id='device-addr' class='input mono' placeholder='10.0.0.7 or host:port' value={addr} onInput={(e) => { setAddr((e.target as HTMLInputElement).value) }} />
          <label class='check small' title='Keep the address even if nothing answers there now'><input type='checkbox' checked={offline} onChange={(e) => { setOffline((e.target as HTMLInputElement).checked) }} /> even if offline</label>
          <Button type='submit' busy={adding} disabled={addr.trim() === ''}>Add device</Button>
          <Button kind='primary' onClick={() => { go('devices', 'install') }}>Install a revision…</Button>
        </form>
      </header>
      {list.error !== undefined && <ErrorBox error={list.error} title='Cannot read the device list' onRetry={list.reload} />}
      {list.data != null && devices.length === 0 && <Empty title='No devices found yet'>Devices running pv-avahi appear here as they answer. Where multicast is blocked, add one by its address.</Empty>}
      {devices.length > 0 && (
        <div class='table-wrap'>
          <table class='table' aria-label='Devices'>
            <thead><tr><th scope='col'>Name</th><th scope='col'>Device id</th><th scope='col'>Address</th><th scope='col'>Pantahub</th><th scope='col'>Access</th><th scope='col'>Running</th><th scope='col'>Status</th><th scope='col'>Seen</th><th scope='col'><span class='sr-only'>Actions</span></th></tr></thead>
            <tbody>{devices.map(d => <DeviceRow key={d.deviceId} d={d} open={open === d.deviceId} onToggle={() => { setOpen(o => o === d.deviceId ? null : d.deviceId) }} />)}</tbody>
          </table>
        </div>
      )}
    </div>
  )
}
