/** What the device screens share: a status's tone, a device's install history, how a device is reached. */
import type { DeviceInfo } from '../../shared/api/types.js'
import { bytes, dateTime, shortId } from '../format.js'
import { useResource } from '../hooks.js'
import { Badge, ErrorBox, type Tone } from '../ui.js'

export function statusTone(s: string | null): Tone {
  switch (s) {
    case 'DONE':
    case 'UPDATED':
    case 'RUNNING':
      return 'ok'
    case 'ERROR':
    case 'WONTGO':
    case 'NOT_RUNNING':
    case 'FAILED':
    case 'TIMEOUT':
    case 'INTERRUPTED':
      return 'bad'
    case 'STOPPED':
      return 'warn'
    case 'TESTING':
    case 'INPROGRESS':
    case 'NEW':
    case 'QUEUED':
    case 'DOWNLOADING':
      return 'info'
    default:
      return 'muted'
  }
}

export function History(p: { device: string }) {
  const h = useResource(a => a.devices.history({ device: p.device }), [p.device], ['install'])
  if (h.error !== undefined) return <ErrorBox error={h.error} title='Cannot read the install history' onRetry={h.reload} />
  const list = h.data ?? []
  if (list.length === 0) return <p class='muted'>No installs from this laptop yet.</p>
  return (
    <table class='table table-compact' aria-label='Install history'>
      <thead>
        <tr>
          <th scope='col'>When</th>
          <th scope='col'>Revision</th>
          <th scope='col'>Step</th>
          <th scope='col'>Outcome</th>
          <th scope='col' class='num'>
            Sent
          </th>
          <th scope='col'>Device said</th>
        </tr>
      </thead>
      <tbody>
        {list.map((r, i) => (
          <tr key={i}>
            <td>{dateTime(r.startedAt)}</td>
            <td>{r.revisionName ?? <code class='mono'>{shortId(r.revision)}</code>}</td>
            <td class='mono'>{r.step ?? '—'}</td>
            <td>
              <Badge tone={statusTone(r.status)}>{r.status}</Badge>
            </td>
            <td class='num'>{bytes(r.bytesSent)}</td>
            <td class='ellipsis' title={r.statusMsg ?? ''}>
              {r.statusMsg ?? ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** How the device is reached: what answered when it was added, or what discovery found. */
export function Access(p: { d: DeviceInfo }) {
  const d = p.d
  if (d.pvrSdk) return <Badge tone='ok'>pvr-sdk</Badge>
  if (d.reach === 'offline')
    return (
      <Badge tone='warn' title='Nothing answered at this address when it was added; installs try it again.'>
        offline
      </Badge>
    )
  if (d.reach === 'pv-ctrl') return <Badge tone='ok'>pv-ctrl</Badge>
  return (
    <Badge tone='muted' title='An SSH server answers; pvr-sdk does not'>
      ssh only
    </Badge>
  )
}

/** What the add said, for its toast. */
export function addedText(d: DeviceInfo): string {
  if (d.reach === 'offline') return 'nothing answers there; added as offline'
  if (d.reach === 'pv-ctrl') return 'its pv-ctrl socket answers'
  if (d.pvrSdk) return 'pvr-sdk answers'
  return 'an SSH server answers (no pvr-sdk)'
}
