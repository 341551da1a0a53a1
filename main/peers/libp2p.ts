/**
 * The libp2p stack, loaded lazily by PeerNode.start() (so that quick commands
 * never pay for it): TCP, Noise with the team prologue, yamux, identify, and
 * mDNS unless switched off. Inbound connections that have not proved the
 * team secret yet are bounded by an InboundGuard (inbound.ts).
 */
import '../polyfills.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { NodeTuning } from './config.js'
import { InboundGuard, InboundLimits } from './inbound.js'

export interface StackOptions {
  privateKey: PrivateKey
  prologue: Uint8Array
  listen: string[]
  mdns: boolean
  isBlocked: (peer: string) => boolean
  agent: string
  /** Where the inbound guard says what it refused or closed (debug). */
  log?: (f: string, ...a: unknown[]) => void
}

export type Stack = Libp2p<{ identify: unknown }>

export async function createStack(o: StackOptions): Promise<Stack> {
  const inbound = new InboundGuard(InboundLimits, o.log)
  const gater: ConnectionGater = {
    denyDialPeer: (p: PeerId) => o.isBlocked(p.toString()),
    denyInboundConnection: conn => inbound.deny(conn),
    denyInboundEncryptedConnection: (p: PeerId, conn) => {
      // The Noise handshake with our team prologue passed: the peer holds the secret.
      inbound.authenticated(conn)
      return o.isBlocked(p.toString())
    },
    denyOutboundEncryptedConnection: (p: PeerId) => o.isBlocked(p.toString()),
    // LAN tool: private and loopback addresses are what we dial.
    denyDialMultiaddr: () => false,
  }
  return await createLibp2p({
    privateKey: o.privateKey,
    nodeInfo: { userAgent: o.agent },
    addresses: { listen: o.listen },
    transports: [tcp()],
    connectionEncrypters: [noise({ prologueBytes: o.prologue })],
    streamMuxers: [
      yamux({
        streamOptions: { initialStreamWindowSize: NodeTuning.yamuxInitialWindow, maxStreamWindowSize: NodeTuning.yamuxMaxWindow },
      }),
    ],
    peerDiscovery: o.mdns ? [mdns({ interval: NodeTuning.mdnsIntervalMs, serviceTag: NodeTuning.mdnsServiceTag })] : [],
    services: { identify: identify() },
    connectionGater: gater,
    connectionManager: {
      maxConnections: NodeTuning.maxConnections,
      dialTimeout: NodeTuning.dialTimeoutMs,
      inboundUpgradeTimeout: InboundLimits.handshakeMs,
      inboundConnectionThreshold: InboundLimits.perAddressPerSecond,
      // libp2p's own cap, one number for every address, stays above ours (InboundGuard decides).
      maxIncomingPendingConnections: 2 * InboundLimits.pendingTotal,
    },
  })
}

export function parsePeerId(s: string): PeerId {
  return peerIdFromString(s)
}
export function parseMultiaddr(s: string): Multiaddr {
  return multiaddr(s)
}
