/** The peers this node has seen: by mDNS, by dialing, by their connecting to us. */
import { EventEmitter } from 'node:events'
import type { PeerInfo } from '../../shared/api/types.js'
import type { RemoteRevision } from './catalog/protocol.js'

export type { PeerInfo }

export interface PeerRecord {
  id: string
  name: string | null
  addrs: Set<string>
  team: boolean | null
  connected: boolean
  lastSeen: number
  revisions: number
  catalog: RemoteRevision[] | undefined
  catalogVersion: string | undefined
  /** When a dial last failed (ms), for backoff. */
  lastDialFailure: number
  /** The next redial of a team peer that went away (ms since the epoch), or null. */
  nextDialAt: number | null
  /** Proven to have sent bytes that did not hash: never used for objects again while this node runs. */
  liar: boolean
}

export interface PeerTableEvents {
  peer: [PeerInfo]
  catalog: [{ peer: string; revisions: RemoteRevision[] }]
}

const MAX_ADDRS = 16
const MAX_PEERS = 1024

export class PeerTable extends EventEmitter<PeerTableEvents> {
  private readonly peers = new Map<string, PeerRecord>()

  get(id: string): PeerRecord | undefined {
    return this.peers.get(id)
  }

  ensure(id: string): PeerRecord {
    let r = this.peers.get(id)
    if (r === undefined) {
      if (this.peers.size >= MAX_PEERS) this.evictOldest()
      r = {
        id,
        name: null,
        addrs: new Set(),
        team: null,
        connected: false,
        lastSeen: Date.now(),
        revisions: 0,
        catalog: undefined,
        catalogVersion: undefined,
        lastDialFailure: 0,
        nextDialAt: null,
        liar: false,
      }
      this.peers.set(id, r)
    }
    return r
  }

  private evictOldest(): void {
    let oldest: PeerRecord | undefined
    for (const r of this.peers.values()) if (!r.connected && (oldest === undefined || r.lastSeen < oldest.lastSeen)) oldest = r
    if (oldest !== undefined) this.peers.delete(oldest.id)
  }

  /** Update a record and tell listeners; `seen: false` for our own bookkeeping (a redial planned), which is no sign of the peer. */
  update(id: string, fn: (r: PeerRecord) => void, o: { seen?: boolean } = {}): PeerRecord {
    const r = this.ensure(id)
    fn(r)
    if (o.seen !== false) r.lastSeen = Date.now()
    while (r.addrs.size > MAX_ADDRS) r.addrs.delete(r.addrs.values().next().value as string)
    this.emit('peer', toInfo(r))
    return r
  }

  setCatalog(id: string, revisions: RemoteRevision[], version: string): void {
    this.update(id, r => {
      r.catalog = revisions
      r.catalogVersion = version
      r.revisions = revisions.length
    })
    this.emit('catalog', { peer: id, revisions })
  }

  list(): PeerInfo[] {
    return [...this.peers.values()].map(toInfo).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
  }

  records(): PeerRecord[] {
    return [...this.peers.values()]
  }

  /** Connected team peers that are not known liars. */
  teamPeers(): string[] {
    return [...this.peers.values()].filter(r => r.connected && r.team === true && !r.liar).map(r => r.id)
  }
}

export function toInfo(r: PeerRecord): PeerInfo {
  return {
    id: r.id,
    name: r.name ?? r.id.slice(-8),
    addrs: [...r.addrs],
    team: r.team === true,
    connected: r.connected,
    reconnecting: !r.connected && r.nextDialAt !== null,
    nextDialAt: r.connected ? null : r.nextDialAt,
    revisions: r.revisions,
    lastSeen: r.lastSeen,
  }
}
