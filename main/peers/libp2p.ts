/**
 * The libp2p stack, loaded lazily by PeerNode.start() (so that quick commands
 * never pay for it): TCP, Noise with the team prologue, yamux, identify, and
 * mDNS unless switched off. Inbound connections that have not proved the
 * team secret yet are bounded by an InboundGuard (inbound.ts).
 *
 * The libp2p packages are ES modules only: they are loaded with import(),
 * never a static import, so that the CLI's CommonJS bundle
 * (scripts/build-cli.mjs) can reach them too.
 */
import '../polyfills.js'
import type { ConnectionGater, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
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

/** What PeerNode uses of libp2p, once its modules are loaded. */
export interface Libp2pLib {
  createStack: (o: StackOptions) => Promise<Stack>
  parsePeerId: (s: string) => PeerId
  parseMultiaddr: (s: string) => Multiaddr
}

export async function loadLibp2p(): Promise<Libp2pLib> {
  const [{ noise }, { yamux }, { identify }, { mdns }, { peerIdFromString }, { tcp }, { multiaddr }, { createLibp2p }] = await Promise.all([
    import('@chainsafe/libp2p-noise'),
    import('@chainsafe/libp2p-yamux'),
    import('@libp2p/identify'),
    import('@libp2p/mdns'),
    import('@libp2p/peer-id'),
    import('@libp2p/tcp'),
    import('@multiformats/multiaddr'),
    import('libp2p'),
  ])
  return {
    createStack: async o => await createStack(o, { noise, yamux, identify, mdns, tcp, createLibp2p }),
    parsePeerId: s => peerIdFromString(s),
    parseMultiaddr: s => multiaddr(s),
  }
}

interface StackModules {
  noise: typeof import('@chainsafe/libp2p-noise').noise
  yamux: typeof import('@chainsafe/libp2p-yamux').yamux
  identify: typeof import('@libp2p/identify').identify
  mdns: typeof import('@libp2p/mdns').mdns
  tcp: typeof import('@libp2p/tcp').tcp
  createLibp2p: typeof import('libp2p').createLibp2p
}

async function createStack(o: StackOptions, m: StackModules): Promise<Stack> {
  const { noise, yamux, identify, mdns, tcp, createLibp2p } = m
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
