/**
 * LAN peers: the face of main/peers. Nothing here loads libp2p; PeerNode
 * loads it in start().
 *
 *   PeerServices   the node and its services, started in one order (services.ts): the only way to run a node
 *   PeerNode       the libp2p node (team handshake, catalog + objects protocols, mDNS)
 *   Puller         pull a revision from every team peer that has its objects
 *   Mirror         `serve --mirror`: pull whatever team peers have and we lack
 *   ControlServer  `<home>/node.sock`: other processes hand their work to a running node
 *   TeamStore      team secret and join codes
 */
export { PeerServices, createPeerServices, type PeerServicesOptions } from './services.js'
export type { PeerNode } from './node.js'
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
