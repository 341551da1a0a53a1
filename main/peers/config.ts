/** The node's settings and tuning, in one place. */
import type { CatalogTimeoutsT } from './catalog/protocol.js'
import type { ObjectsTimeoutsT } from './objects/protocol.js'

export const NodeTuning = {
  /** Not the IPFS tag: only Fieldsync nodes answer, so `peers` lists no strangers' IPFS daemons. */
  mdnsServiceTag: '_fieldsync._udp.local',
  /** mDNS query interval: a new peer shows up within ~1 s (issue: within 2 s). */
  mdnsIntervalMs: 1000,
  dialTimeoutMs: 5000,
  /** Wait before redialing a peer whose dial failed (outsiders, unreachable). */
  redialBackoffMs: 15_000,
  /** A team peer that went away is redialed after this, then twice as long each time (with jitter), up to redialMaxMs. */
  redialFirstMs: 1000,
  redialMaxMs: 60_000,
  /** How often the node checks whether another process changed the library. */
  catalogPollMs: 1000,
  maxConnections: 200,
  /** Per-stream yamux window. Measured (1 GiB pull, loopback, interleaved): 2, 8 and 16 MiB all slower than 4 MiB (more puller CPU with larger windows). */
  yamuxInitialWindow: 4 << 20,
  yamuxMaxWindow: 4 << 20,
} as const

/** Where a serving node listens unless told otherwise: every IPv4 interface, any free port. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/0']

export interface PeerNodeOptions {
  home: string
  /** Listen addresses; [] for a node that only dials (pull, peers). */
  listen?: string[]
  /** mDNS discovery and announcement (default on). */
  mdns?: boolean
  /** Our display name (default: the hostname). */
  name?: string
  /** Multiaddrs to dial at start (where multicast is blocked). */
  peers?: string[]
  /** Deadline of a dial, handshake and first catalog included (default NodeTuning.dialTimeoutMs). */
  dialTimeoutMs?: number
  /** Protocol deadlines (default: the protocols' constants; tests shorten them). */
  timeouts?: { catalog?: CatalogTimeoutsT; objects?: ObjectsTimeoutsT }
}
