/**
 * The LAN node as the UI runs it: started with the app when this laptop is
 * in a team, (re)started when the user creates or joins one from the UI,
 * with the control socket so that `fieldsync pull` in a terminal hands its
 * work to it. Peer and catalog changes become 'peer' events on the bus.
 */
import type { LanPeer, PeerInfo, PeerRevision, PeersStatus } from '../../../shared/api/types.js'
import { toWireError, type WireError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { createPeerServices, DEFAULT_LISTEN, TeamStore, type PeerServices, type RemoteRevision } from '../../peers/index.js'
import type { App } from '../index.js'
import type { ApiEventBus } from './events.js'

export interface LanOptions {
  mdns: boolean
  /** Multiaddrs to dial at start. */
  peers?: string[]
  listen?: string[]
  name?: string
}

export type LanState = 'no-team' | 'starting' | 'running' | 'failed' | 'stopped'

export class LanService {
  state: LanState = 'stopped'
  error: WireError | null = null
  private peerServices: PeerServices | undefined
  private readonly log: Logger
  private readonly team: TeamStore
  private readonly offs: Array<() => void> = []

  constructor(
    private readonly components: { app: App; events: ApiEventBus; log: Logger },
    private readonly opts: LanOptions,
  ) {
    this.log = components.log.child('lan')
    this.team = new TeamStore(components.app.home)
  }

  get services(): PeerServices | undefined {
    return this.state === 'running' ? this.peerServices : undefined
  }
  get mdns(): boolean {
    return this.opts.mdns
  }
  get teamStore(): TeamStore {
    return this.team
  }

  async start(): Promise<void> {
    if ((await this.team.load()) === null) {
      this.state = 'no-team'
      return
    }
    this.state = 'starting'
    const s = createPeerServices(
      { library: this.components.app.library, log: this.components.log },
      {
        home: this.components.app.home,
        listen: this.opts.listen ?? [...DEFAULT_LISTEN],
        mdns: this.opts.mdns,
        name: this.opts.name,
        peers: this.opts.peers,
        control: true,
      },
    )
    try {
      // In the order of main/peers/services.ts: the control socket first, which refuses when a `fieldsync serve` already runs on this library.
      await s.start()
    } catch (err) {
      this.state = 'failed'
      this.error = toWireError(err)
      this.log.error('LAN node did not start: %s', this.error.message)
      return
    }
    this.peerServices = s
    const onPeer = (p: PeerInfo) => {
      this.components.events.emit('peer', { id: p.id, peer: this.toApi(p), gone: false })
    }
    const onCatalog = (e: { peer: string }) => {
      const p = s.node.peers().find(x => x.id === e.peer)
      if (p !== undefined) onPeer(p)
    }
    s.node.on('peer', onPeer)
    s.node.on('catalog', onCatalog)
    this.offs.push(() => {
      s.node.off('peer', onPeer)
      s.node.off('catalog', onCatalog)
    })
    this.state = 'running'
    this.error = null
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off()
    const s = this.peerServices
    this.peerServices = undefined
    this.state = 'stopped'
    if (s === undefined) return
    await s.stop()
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  /** A peer as the UI shows it: with the complete revisions it has that we lack or hold incomplete. */
  toApi(p: PeerInfo): LanPeer {
    const lib = this.components.app.library
    const rec = this.peerServices?.node.table.get(p.id)
    const lacking: PeerRevision[] = []
    for (const r of (rec?.catalog ?? []) as RemoteRevision[]) {
      if (!r.complete) continue
      const local = lib.get(r.id)
      if (local?.complete === true) continue
      lacking.push({
        id: r.id,
        name: r.names[0] ?? r.id.slice(0, 12),
        names: r.names,
        bytes: r.bytes,
        complete: r.complete,
        local: local === undefined ? 'none' : 'partial',
      })
    }
    return {
      id: p.id,
      name: p.name,
      addrs: p.addrs,
      team: p.team,
      connected: p.connected,
      reconnecting: p.reconnecting,
      nextDialAt: p.nextDialAt,
      lastSeen: p.lastSeen,
      revisions: p.revisions,
      lacking,
    }
  }

  async status(): Promise<PeersStatus> {
    const team = await this.team.load().catch(() => null)
    const s = this.services
    return {
      state: this.state === 'stopped' ? 'failed' : this.state,
      error: this.error,
      node: s === undefined ? null : { peerId: s.node.peerId, name: s.node.name, addrs: s.node.addrs(), mdns: this.opts.mdns },
      team: { joined: team !== null, name: team?.name ?? team?.id ?? null },
      peers:
        s === undefined
          ? []
          : s.node
              .peers()
              .map(p => this.toApi(p))
              .sort((a, b) => Number(b.connected) - Number(a.connected) || b.lastSeen - a.lastSeen),
    }
  }
}
