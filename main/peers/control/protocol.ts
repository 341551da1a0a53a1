/**
 * The control socket `<home>/node.sock` (mode 0600): how `fieldsync pull`,
 * `peers` and `peers block` hand their work to a running `serve` on the same
 * library. One request per connection, newline-delimited JSON both ways:
 *
 *   -> {"op":"pull","rev":"...","from":["..."]}
 *   <- {"type":"event","event":PullEvent}*  then  {"type":"result","result":PullResult}
 *   -> {"op":"peers"}              <- {"type":"result","result":{"node":{...},"peers":PeerInfo[]}}
 *   -> {"op":"block","peer":"..."} <- {"type":"result","result":{"blocked":"..."}}
 *   -> {"op":"dial","addr":"..."}  <- {"type":"result","result":{"peer":"..."}}
 *   any failure                    <- {"type":"error","error":{"code","message"}}
 *
 * Closing the connection cancels the request.
 */
import { BadInputError } from '../../../shared/errors.js'

export const CONTROL_SOCKET = 'node.sock'
export const ControlLimits = { requestBytes: 64 << 10, lineBytes: 16 << 20, fromPeers: 64 } as const

export type ControlRequest = { op: 'pull'; rev: string; from?: string[] } | { op: 'peers' } | { op: 'block'; peer: string } | { op: 'dial'; addr: string }

export type ControlReply = { type: 'event'; event: unknown } | { type: 'result'; result: unknown } | { type: 'error'; error: { code: string; message: string } }

function str(v: unknown, what: string, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new BadInputError(`control request: ${what} must be a non-empty string`)
  return v
}

export function validateControlRequest(v: unknown): ControlRequest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadInputError('control request: not an object')
  const o = v as Record<string, unknown>
  switch (o.op) {
    case 'pull': {
      let from: string[] | undefined
      if (o.from !== undefined) {
        if (!Array.isArray(o.from) || o.from.length > ControlLimits.fromPeers) throw new BadInputError('control request: from must be a list of peers')
        from = o.from.map(f => str(f, 'a peer', 200))
      }
      return { op: 'pull', rev: str(o.rev, 'rev', 200), from }
    }
    case 'peers':
      return { op: 'peers' }
    case 'block':
      return { op: 'block', peer: str(o.peer, 'peer', 200) }
    case 'dial':
      return { op: 'dial', addr: str(o.addr, 'addr', 1000) }
    default:
      throw new BadInputError(`control request: unknown op ${JSON.stringify(o.op)?.slice(0, 40)}`)
  }
}
