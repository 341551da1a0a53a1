/** Peers: team laptops on the LAN, what each has that we lack, pull with one click, team create/join. */
import { useState } from 'preact/hooks'
import type { LanPeer, PeersStatus, TransferInfo } from '../../shared/api/types.js'
import { useInfo } from '../app-context.js'
import { ago, bytes, plural, shortId } from '../format.js'
import { useApi, useResource, useTick } from '../hooks.js'
import { Badge, Button, Copy, Empty, ErrorBox, NotAvailable, errorParts, pullToastKey, useNotify } from '../ui.js'
import { HereBadge, PullCell, latestPulls } from './pull-cell.js'

function TeamPanel(p: { status: PeersStatus }) {
  const api = useApi()
  const notify = useNotify()
  const [code, setCode] = useState<string | null>(null)
  const [join, setJoin] = useState('')
  const [name, setName] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [switching, setSwitching] = useState(false)
  const joined = p.status.team.joined
  const forms = (
    <div class='team-forms'>
      {!joined && (
        <form
          class='form'
          onSubmit={e => {
            e.preventDefault()
            setError(null)
            api.team.create(name === '' ? {} : { name }).then(r => {
              setCode(r.code)
              notify({ tone: 'ok', title: `Team ${r.name ?? ''} created`, body: 'Give the join code to your colleagues.' })
            }, setError)
          }}
        >
          <label for='team-name'>Start a new team</label>
          <div class='row'>
            <input
              id='team-name'
              class='input grow'
              placeholder='team name (optional), e.g. north-sites'
              value={name}
              onInput={e => {
                setName((e.target as HTMLInputElement).value)
              }}
            />
            <Button type='submit' kind='primary'>
              Create team
            </Button>
          </div>
        </form>
      )}
      <form
        class='form'
        onSubmit={e => {
          e.preventDefault()
          setError(null)
          api.team.join({ code: join.trim() }).then(r => {
            setJoin('')
            setSwitching(false)
            notify({ tone: 'ok', title: `Joined team ${r.name ?? ''}` })
          }, setError)
        }}
      >
        <label for='team-code'>{joined ? 'Switch to another team' : "Join a colleague's team"}</label>
        <div class='row'>
          <input
            id='team-code'
            class='input grow mono'
            placeholder='fs1-…'
            value={join}
            onInput={e => {
              setJoin((e.target as HTMLInputElement).value)
            }}
            required
          />
          <Button type='submit' kind={joined ? 'plain' : 'primary'}>
            Join
          </Button>
        </div>
      </form>
    </div>
  )
  return (
    <section class='card' aria-labelledby='team-title'>
      <header class='card-head'>
        <h2 id='team-title'>Team</h2>
        {joined ? <Badge tone='ok'>{p.status.team.name ?? 'joined'}</Badge> : <Badge tone='warn'>no team yet</Badge>}
        <span class='grow' />
        {joined && (
          <Button
            small
            onClick={() => {
              api.team.show().then(r => {
                setCode(r.code)
              }, setError)
            }}
          >
            Invite a colleague…
          </Button>
        )}
        {joined && !switching && (
          <Button
            small
            kind='quiet'
            onClick={() => {
              setSwitching(true)
            }}
          >
            Switch team…
          </Button>
        )}
      </header>
      <p class='muted'>
        Only laptops of the same team see each other's revisions and exchange bytes; everything between them is encrypted with the team secret.
      </p>
      {(!joined || switching) && forms}
      {code !== null && (
        <div class='callout'>
          <div class='strong'>Join code — keep it among the team</div>
          <div class='row'>
            <code class='mono code-block grow' data-testid='join-code'>
              {code}
            </code>
            <Copy text={code} label='Copy the join code' />
          </div>
          <div class='muted'>
            On a colleague's laptop: Peers › Join, or <code>fieldsync team join &lt;code&gt;</code>.
          </div>
        </div>
      )}
      {error !== null && <ErrorBox error={error} title='Team' />}
    </section>
  )
}

function PeerCard(p: { peer: LanPeer; pulls: Map<string, TransferInfo> }) {
  const api = useApi()
  const notify = useNotify()
  const [pulling, setPulling] = useState<Set<string>>(new Set())
  const x = p.peer
  const pull = (id: string, name: string) => {
    setPulling(s => new Set(s).add(id))
    api.peers
      .pull({ rev: id })
      .then(
        r => {
          notify({
            tone: 'ok',
            title: `Pulled ${name}`,
            body: `${plural(r.objects, 'object')}, ${bytes(r.bytes)} in ${r.seconds.toFixed(1)} s`,
            key: pullToastKey(id),
          })
        },
        e => {
          const er = errorParts(e)
          notify({ tone: 'bad', title: `Pull of ${name} failed`, body: `${er.message}${er.hint !== null ? ` — ${er.hint}` : ''}`, key: pullToastKey(id) })
        },
      )
      .finally(() => {
        setPulling(s => {
          const n = new Set(s)
          n.delete(id)
          return n
        })
      })
  }
  return (
    <li class='card peer' data-testid='peer' data-peer={x.id}>
      <header class='card-head'>
        <h3>{x.name !== '' ? x.name : shortId(x.id)}</h3>
        <span class={`dot ${x.connected ? 'dot-ok' : x.reconnecting ? 'dot-warn' : 'dot-muted'}`} aria-hidden='true' />
        <span class='muted' data-testid='peer-state'>
          {x.connected
            ? 'connected'
            : x.reconnecting
              ? `reconnecting… (seen ${ago(x.lastSeen)}; next try ${x.nextDialAt === null ? 'soon' : `in ${Math.max(1, Math.round((x.nextDialAt - Date.now()) / 1000))} s`})`
              : `seen ${ago(x.lastSeen)}`}
        </span>
        {x.team ? (
          <Badge tone='ok'>team</Badge>
        ) : (
          <Badge tone='muted' title='not in your team: it shares nothing with you'>
            other team
          </Badge>
        )}
        <span class='grow' />
        <span class='muted'>{plural(x.revisions, 'revision')}</span>
      </header>
      <div class='mono muted small' title={x.addrs.join('\n')}>
        {x.id}
      </div>
      {x.team &&
        (x.lacking.length === 0 ? (
          <p class='muted'>Nothing here that this laptop lacks.</p>
        ) : (
          <table class='table table-compact' aria-label={`Revisions ${x.name} has that this laptop lacks`}>
            <thead>
              <tr>
                <th scope='col'>Has, and you lack</th>
                <th scope='col'>ID</th>
                <th scope='col' class='num'>
                  Size
                </th>
                <th scope='col'>Here</th>
                <th scope='col'>
                  <span class='sr-only'>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {x.lacking.map(r => (
                <tr key={r.id} data-rev={r.id} data-local={r.local}>
                  <td class='strong'>{r.name}</td>
                  <td>
                    <code class='mono'>{shortId(r.id)}</code>
                  </td>
                  <td class='num'>{bytes(r.bytes)}</td>
                  <td data-testid='rev-here'>
                    <HereBadge local={r.local} transfer={p.pulls.get(r.id)} />
                  </td>
                  <td class='actions'>
                    <PullCell transfer={p.pulls.get(r.id)} name={r.name}>
                      <Button
                        small
                        kind='primary'
                        busy={pulling.has(r.id)}
                        onClick={() => {
                          pull(r.id, r.name)
                        }}
                        label={`Pull ${r.name}`}
                      >
                        {p.pulls.get(r.id)?.state === 'failed' ? 'Retry' : 'Pull'}
                      </Button>
                    </PullCell>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </li>
  )
}

export function PeersScreen(p: { transfers: TransferInfo[] }) {
  const info = useInfo()
  const api = useApi()
  const notify = useNotify()
  const [addr, setAddr] = useState('')
  const [offline, setOffline] = useState(false)
  useTick(5000)
  const status = useResource(a => (info.capabilities.peers ? a.peers.status() : Promise.resolve(null)), [info.capabilities.peers], ['peer', 'revision'])
  if (!info.capabilities.peers) {
    return (
      <div class='screen'>
        <header class='screen-head'>
          <div>
            <h1>Peers</h1>
            <p class='subtitle'>Colleagues' laptops on this network.</p>
          </div>
        </header>
        <NotAvailable title='Peers are not available yet'>
          <p>The LAN node (finding colleagues' laptops, teams, pulling revisions) is not in this build of Fieldsync yet.</p>
          <p>
            Meanwhile, move revisions with <strong>Library › Export</strong> on one laptop and <strong>Import</strong> on the other.
          </p>
        </NotAvailable>
      </div>
    )
  }
  const s = status.data
  const pulls = latestPulls(p.transfers)
  return (
    <div class='screen'>
      <header class='screen-head'>
        <div>
          <h1>Peers</h1>
          <p class='subtitle'>Colleagues' laptops on this network, and what they carry that you do not.</p>
        </div>
        <form
          class='toolbar'
          hidden={s?.state !== 'running'}
          onSubmit={e => {
            e.preventDefault()
            api.peers.add({ addr: addr.trim(), ...(offline ? { offline: true } : {}) }).then(
              r => {
                setAddr('')
                notify(
                  r.reached
                    ? { tone: 'ok', title: 'Peer added: it answered', body: r.peerId, key: 'peers.add' }
                    : { tone: 'warn', title: 'Peer added offline: nothing answered; Fieldsync keeps trying', body: r.peerId, key: 'peers.add' },
                )
              },
              er => {
                notify({ tone: 'bad', title: 'Cannot reach that peer', body: errorParts(er).message, key: 'peers.add' })
              },
            )
          }}
        >
          <label class='sr-only' for='peer-addr'>
            Peer address
          </label>
          <input
            id='peer-addr'
            class='input mono'
            placeholder='/ip4/10.0.0.5/tcp/4001/p2p/…'
            value={addr}
            onInput={e => {
              setAddr((e.target as HTMLInputElement).value)
            }}
          />
          <label class='check small' title='Keep the address and keep trying even if nothing answers there now'>
            <input
              type='checkbox'
              checked={offline}
              onChange={e => {
                setOffline((e.target as HTMLInputElement).checked)
              }}
            />{' '}
            even if offline
          </label>
          <Button type='submit' disabled={addr.trim() === ''}>
            Add peer
          </Button>
        </form>
      </header>
      {status.error !== undefined && <ErrorBox error={status.error} title='Cannot read the peer list' onRetry={status.reload} />}
      {s != null && (
        <>
          <section class='card node' aria-label='This laptop'>
            {s.node !== null && (
              <div class='row wrap'>
                <span class='dot dot-ok' aria-hidden='true' />
                <span class='strong'>This laptop: {s.node.name}</span>
                <Badge
                  tone={s.node.mdns ? 'ok' : 'muted'}
                  title={s.node.mdns ? 'finds colleagues by multicast DNS' : 'started with --no-mdns: add peers by address'}
                >
                  {s.node.mdns ? 'discovery on' : 'discovery off'}
                </Badge>
                <code class='mono muted small'>{s.node.peerId}</code>
              </div>
            )}
            {s.node !== null && s.node.addrs.length > 0 && (
              <details class='small'>
                <summary>Address for colleagues whose discovery is blocked</summary>
                <ul class='key-list'>
                  {s.node.addrs
                    .filter(a => !a.includes('/ip4/127.') && !a.includes('/ip6/::1'))
                    .concat(s.node.addrs.filter(a => a.includes('/ip4/127.')))
                    .slice(0, 6)
                    .map(a => {
                      const full = a.includes('/p2p/') ? a : `${a}/p2p/${s.node?.peerId ?? ''}`
                      return (
                        <li key={a} class='row'>
                          <code class='mono'>{full}</code>
                          <Copy text={full} label='Copy this address' />
                        </li>
                      )
                    })}
                </ul>
              </details>
            )}
            {s.state === 'no-team' && <p class='muted'>The LAN node starts as soon as this laptop is in a team.</p>}
            {s.state === 'starting' && <p class='muted'>Starting the LAN node…</p>}
            {s.state === 'failed' && s.error !== null && <ErrorBox error={s.error} title='The LAN node did not start' />}
          </section>
          <TeamPanel status={s} />
          <section class='section' aria-labelledby='peers-title'>
            <h2 id='peers-title'>On this network</h2>
            {s.state !== 'running' ? (
              <p class='muted'>Peers show here once the LAN node runs.</p>
            ) : s.peers.length === 0 ? (
              <Empty title='No peers seen yet'>
                Colleagues appear here within seconds when their Fieldsync runs on the same network. Where multicast is blocked, add one by address.
              </Empty>
            ) : (
              <ul class='peers'>
                {s.peers.map(x => (
                  <PeerCard key={x.id} peer={x} pulls={pulls} />
                ))}
              </ul>
            )}
          </section>
        </>
      )}
    </div>
  )
}
