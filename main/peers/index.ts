/**
 * LAN peers: the face of main/peers. Nothing here loads libp2p; PeerNode
 * loads it in start().
 *
 *   PeerNode       the libp2p node (team handshake, catalog + objects protocols, mDNS)
 *   Puller         pull a revision from every team peer that has its objects
 *   Mirror         `serve --mirror`: pull whatever team peers have and we lack
 *   ControlServer  `<home>/node.sock`: other processes hand their work to a running node
 *   TeamStore      team secret and join codes
 */
import type { Logger } from '../../shared/log.js'
import type { Library } from '../store/library.js'
import type { PeerNodeOptions } from './config.js'
import { ControlServer } from './control/server.js'
import { Mirror } from './mirror.js'
import { PeerNode } from './node.js'
import { Puller } from './pull/puller.js'

export { PeerNode } from './node.js'
export { Puller, type PullOptions, type PullResult } from './pull/puller.js'
export type { PullEvent, PeerProgress } from './pull/progress.js'
export { Mirror } from './mirror.js'
export { ControlServer } from './control/server.js'
export { connectControl, controlRequest } from './control/client.js'
export { TeamStore, encodeJoinCode, decodeJoinCode, teamPrologue, type TeamInfo } from './team.js'
export { BlockList, checkPeerId } from './blocklist.js'
export type { PeerInfo } from './peer-table.js'
export type { RemoteRevision } from './catalog/protocol.js'
export { DEFAULT_LISTEN, NodeTuning, type PeerNodeOptions } from './config.js'
export { PullTuning } from './pull/tuning.js'
export { deadline, withDeadline } from './wire.js'
export { CATALOG_PROTOCOL, CatalogLimits, CatalogTimeouts } from './catalog/protocol.js'
export { OBJECTS_PROTOCOL, ObjectsLimits, ObjectsTimeouts } from './objects/protocol.js'

export interface PeerServices {
  node: PeerNode
  puller: Puller
  mirror?: Mirror
  control?: ControlServer
}

/**
 * Build the peer services for a front end to add to the App in this order
 * (node, puller, mirror, control), so they start and stop in order.
 */
export function createPeerServices (c: { library: Library, log: Logger }, opts: PeerNodeOptions & { mirror?: boolean, control?: boolean }): PeerServices {
  const node = new PeerNode(c, opts)
  const puller = new Puller({ library: c.library, node, log: c.log })
  const mirror = opts.mirror === true ? new Mirror({ library: c.library, node, puller, log: c.log }) : undefined
  const control = opts.control === true ? new ControlServer({ node, puller, log: c.log }, { home: opts.home }) : undefined
  return { node, puller, mirror, control }
}
