/** peers.* and team.*: the LAN node (main/peers). */
import type { HandlerDeps, HandlerMap } from './context.js'
import { unavailable } from './unavailable.js'

type PeerHandlers = Pick<HandlerMap, 'peers.status' | 'peers.add' | 'peers.pull' | 'team.create' | 'team.join'>

const NOT_YET = 'the LAN node is not available in this build yet (peers are being built); share revisions by USB or import files meanwhile'

export function peerHandlers (_d: HandlerDeps): PeerHandlers {
  return {
    'peers.status': unavailable('peers.status', NOT_YET),
    'peers.add': unavailable('peers.add', NOT_YET),
    'peers.pull': unavailable('peers.pull', NOT_YET),
    'team.create': unavailable('team.create', NOT_YET),
    'team.join': unavailable('team.join', NOT_YET),
  }
}
