/** LAN peers: what the node knows of a peer, and what the UI shows of it. */
import type { WireError } from '../../errors.js'

export interface PeerRevision {
  id: string
  name: string
  names: string[]
  bytes: number
  complete: boolean
  /** 'none': not in our library; 'partial': we have it but incomplete; 'complete'. */
  local: 'none' | 'partial' | 'complete'
}

/**
 * A peer as the LAN node knows it: main/peers' table, the control socket's
 * `peers` answer, `fieldsync peers --json`. The one PeerInfo.
 */
export interface PeerInfo {
  id: string
  /** The peer's name (configured or its hostname); its short id until it tells us. */
  name: string
  addrs: string[]
  /** true: proved our team secret (a connection exists or existed); false: its handshake failed. */
  team: boolean
  connected: boolean
  /** Went away and is being redialed (with backoff) until it answers; nextDialAt: when (ms since the epoch). */
  reconnecting: boolean
  nextDialAt: number | null
  /** Revisions in its catalog (0 when unknown). */
  revisions: number
  /** ms since the epoch. */
  lastSeen: number
}

/** A peer as the UI shows it: a PeerInfo with what it could give this laptop. */
export interface LanPeer extends PeerInfo {
  /** Revisions the peer has complete that this laptop lacks or has incomplete. */
  lacking: PeerRevision[]
}

export interface PeersStatus {
  /** no-team: create or join one to start the node; failed: see error. */
  state: 'no-team' | 'starting' | 'running' | 'failed'
  error: WireError | null
  node: { peerId: string; name: string; addrs: string[]; mdns: boolean } | null
  team: { joined: boolean; name: string | null }
  peers: LanPeer[]
}

export interface PullResult {
  id: string
  /** Objects fetched. */
  objects: number
  /** Object bytes received from peers (resumed bytes excluded). */
  bytes: number
  fromPeers: Record<string, number>
  seconds: number
}
