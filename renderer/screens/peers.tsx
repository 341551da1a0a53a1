/** Peers: team laptops on the LAN, what each has that we lack, pull with one click, team create/join. */
import { useState } from 'preact/hooks'
import type { PeerInfo, PeersStatus } from '../../shared/api/types.js'
import { useInfo } from '../app-context.js'
import { ago, bytes, plural, shortId } from '../format.js'
import { useApi, useResource, useTick } from '../hooks.js'
import { Badge, Button, Copy, Empty, ErrorBox, NotAvailable, errorParts, useNotify } from '../ui.js'

function TeamPanel (p: { status: PeersStatus }) {
  const api = useApi()
  const notify = useNotify()
  const [code, setCode] = useState<string | null>(null)
  const [join, setJoin] = useState('')
  const [name, setName] = useState('')
  const [error, setError] = useState<unknown>(null)
  return (
    <section class='card' aria-labelledby='team-title'>
      <header class='card-head'>
        <h2 id='team-title'>Team</h2>
        {p.status.team.joined ? <Badge tone='ok'>{p.status.team.name ?? 'joined'}</Badge> : <Badge tone='warn'>no team</Badge>}
      </header>
      <p class='muted'>Only laptops of the same team see each other's revisions and exchange bytes.</p>
      <div class='team-forms'>
        <form class='form' onSubmit={(e) => {
          e.preventDefault(); setError(null)
          api.team.create(name === '' ? {} : { name }).then(r => { setCode(r.code); notify({ tone: 'ok', title: 'Team created', body: 'Give the join code to your colleagues.' }) }, setError)
        }}>
          <label for='team-name'>Create a team</label>
          <div class='row'>
            <input id='team-name' class='input grow' placeholder='name (optional)' value={name} onInput={(e) => { setName((e.target as HTMLInputElement).value) }} />
            <Button type='submit'>Create</Button>
          </div>
        </form>
        <form class='form' onSubmit={(e) => {
          e.preventDefault(); setError(null)
          api.team.join({ code: join.trim() }).then(() => { setJoin(''); notify({ tone: 'ok', title: 'Joined the team' }) }, setError)
        }}>
          <label for='team-code'>Join with a code</label>
          <div class='row'>
            <input id='team-code' class='input grow mono' placeholder='paste the join code' value={join} onInput={(e) => { setJoin((e.target as HTMLInputElement).value) }} required />
            <Button type='submit' kind='primary'>Join</Button>
          </div>
        </form>
      </div>
      {code !== null && (
        <div class='callout'>
          <div class='strong'>Join code</div>
          <div class='row'><code class='mono code-block grow' data-testid='join-code'>{code}</code><Copy text={code} label='Copy the join code' /></div>
          <div class='muted'>Colleagues paste it under “Join with a code”, or run <code>fieldsync team join &lt;code&gt;</code>.</div>
        </div>
      )}
      {error !== null && <ErrorBox error={error} title='Team' />}
    </section>
  )
}

function PeerCard (p: { peer: PeerInfo }) {
  const api = useApi()
  const notify = useNotify()
  const [pulling, setPulling] = useState<Set<string>>(new Set())
  const x = p.peer
  const pull = (id: string, name: string) => {
    setPulling(s => new Set(s).add(id))
    api.peers.pull({ rev: id }).then(
      r => { notify({ tone: 'ok', title: `Pulled ${name}`, body: `${plural(r.objects, 'object')}, ${bytes(r.bytes)} in ${r.seconds.toFixed(1)} s` }) },
      e => { const er = errorParts(e); notify({ tone: 'bad', title: `Pull of ${name} failed`, body: `${er.message}${er.hint !== null ? ` — ${er.hint}` : ''}` }) },
    ).finally(() => { setPulling(s => { const n = new Set(s); n.delete(id); return n }) })
  }
  return (
    <li class='card peer' data-testid='peer' data-peer={x.id}>
      <header class='card-head'>
        <h3>{x.name !== '' ? x.name : shortId(x.id)}</h3>
        <span class={`dot ${x.connected ? 'dot-ok' : 'dot-muted'}`} aria-hidden='true' />
        <span class='muted'>{x.connected ? 'connected' : `seen ${ago(x.lastSeen)}`}</span>
        {x.team ? <Badge tone='ok'>team</Badge> : <Badge tone='muted' title='not in your team: it shares nothing with you'>other team</Badge>}
        <span class='grow' />
        <span class='muted'>{plural(x.revisions, 'revision')}</span>
      </header>
      <div class='mono muted small' title={x.addrs.join('\n')}>{x.id}</div>
      {x.team && (x.lacking.length === 0
        ? <p class='muted'>Nothing here that this laptop lacks.</p>
        : (
          <table class='table table-compact' aria-label={`Revisions ${x.name} has that this laptop lacks`}>
            <thead><tr><th scope='col'>Has, and you lack</th><th scope='col'>ID</th><th scope='col' class='num'>Size</th><th scope='col'>Here</th><th scope='col'><span class='sr-only'>Actions</span></th></tr></thead>
            <tbody>
              {x.lacking.map(r => (
                <tr key={r.id}>
                  <td class='strong'>{r.name}</td>
                  <td><code class='mono'>{shortId(r.id)}</code></td>
                  <td class='num'>{bytes(r.bytes)}</td>
                  <td>{r.local === 'partial' ? <Badge tone='warn'>incomplete</Badge> : <Badge tone='muted'>not here</Badge>}</td>
                  <td class='actions'><Button small kind='primary' busy={pulling.has(r.id)} onClick={() => { pull(r.id, r.name) }} label={`Pull ${r.name}`}>Pull</Button></td>
                </tr>
              ))}
            </tbody>
          </table>))}
    </li>
  )
}

export function PeersScreen () {
  const info = useInfo()
  const api = useApi()
  const notify = useNotify()
  const [addr, setAddr] = useState('')
  useTick(5000)
  const status = useResource(a => info.capabilities.peers ? a.peers.status() : Promise.resolve(null), [info.capabilities.peers], ['peer', 'revision'])
  if (!info.capabilities.peers) {
    return (
      <div class='screen'>
        <header class='screen-head'><div><h1>Peers</h1><p class='subtitle'>Colleagues' laptops on this network.</p></div></header>
        <NotAvailable title='Peers are not available yet'>
          <p>The LAN node (finding colleagues' laptops, teams, pulling revisions) is not in this build of Fieldsync yet.</p>
          <p>Meanwhile, move revisions with <strong>Library › Export</strong> on one laptop and <strong>Import</strong> on the other.</p>
        </NotAvailable>
      </div>
    )
  }
  const s = status.data
  return (
    <div class='screen'>
      <header class='screen-head'>
        <div><h1>Peers</h1><p class='subtitle'>Colleagues' laptops on this network, and what they carry that you do not.</p></div>
        <form class='toolbar' onSubmit={(e) => {
          e.preventDefault()
          api.peers.add({ addr: addr.trim() }).then(r => { setAddr(''); notify({ tone: 'ok', title: 'Peer added', body: r.peerId }) }, er => { notify({ tone: 'bad', title: 'Cannot reach that peer', body: errorParts(er).message }) })
        }}>
          <label class='sr-only' for='peer-addr'>Peer address</label>
          <input id='peer-addr' class='input mono' placeholder='/ip4/10.0.0.5/tcp/4001/p2p/…' value={addr} onInput={(e) => { setAddr((e.target as HTMLInputElement).value) }} />
          <Button type='submit' disabled={addr.trim() === ''}>Add peer</Button>
        </form>
      </header>
      {status.error !== undefined && <ErrorBox error={status.error} title='Cannot read the peer list' onRetry={status.reload} />}
      {s != null && (
        <>
          <section class='card node' aria-label='This laptop'>
            {s.node === null
              ? <p class='muted'>The LAN node is not running.</p>
              : <div class='row wrap'><span class='strong'>This laptop: {s.node.name}</span> <code class='mono muted small'>{s.node.peerId}</code> <Badge tone={s.node.mdns ? 'ok' : 'muted'}>{s.node.mdns ? 'mDNS on' : 'mDNS off'}</Badge> <span class='muted small'>{s.node.addrs.join('  ')}</span></div>}
          </section>
          <TeamPanel status={s} />
          <section class='section' aria-labelledby='peers-title'>
            <h2 id='peers-title'>On this network</h2>
            {s.peers.length === 0
              ? <Empty title='No peers seen yet'>Colleagues appear here within seconds when their Fieldsync runs on the same network. Where multicast is blocked, add one by address.</Empty>
              : <ul class='peers'>{s.peers.map(x => <PeerCard key={x.id} peer={x} />)}</ul>}
          </section>
        </>
      )}
    </div>
  )
}
