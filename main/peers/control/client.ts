/** ControlClient: talk to the node a `serve` runs on this library, if any. */
import { createConnection, type Socket } from 'node:net'
import { join } from 'node:path'
import { AbortedError, errorFromWire, ProtocolError } from '../../../shared/errors.js'
import { CONTROL_SOCKET, ControlLimits, type ControlReply, type ControlRequest } from './protocol.js'

/** Connect to `<home>/node.sock`; undefined when no node serves this library. */
export async function connectControl(home: string): Promise<Socket | undefined> {
  const path = join(home, CONTROL_SOCKET)
  if (Buffer.byteLength(path) > 100) return undefined
  return await new Promise(resolve => {
    const s = createConnection(path)
    s.once('connect', () => {
      s.removeAllListeners('error')
      resolve(s)
    })
    s.once('error', () => {
      s.destroy()
      resolve(undefined)
    })
  })
}

/**
 * Send one request and read replies until the result. `onEvent` sees the
 * events before it. Aborting `signal` closes the socket (the node cancels).
 */
export async function controlRequest(sock: Socket, req: ControlRequest, signal: AbortSignal, onEvent?: (e: unknown) => void): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    let buf = ''
    let settled = false
    const finish = (err: Error | undefined, v?: unknown) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      sock.destroy()
      if (err !== undefined) reject(err)
      else resolve(v)
    }
    const onAbort = () => {
      finish(new AbortedError('cancelled'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      buf += d
      if (buf.length > ControlLimits.lineBytes) {
        finish(new ProtocolError('control socket: a reply line is too long'))
        return
      }
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let r: ControlReply
        try {
          r = JSON.parse(line) as ControlReply
        } catch {
          finish(new ProtocolError('control socket: a reply is not JSON'))
          return
        }
        if (r.type === 'event') onEvent?.(r.event)
        else if (r.type === 'result') {
          finish(undefined, r.result)
          return
        } else if (r.type === 'error') {
          finish(errorFromWire({ code: r.error?.code, message: r.error?.message }))
          return
        }
      }
    })
    sock.on('error', err => {
      finish(new ProtocolError(`control socket: ${err.message}`))
    })
    sock.on('close', () => {
      finish(new ProtocolError('control socket: the node closed the connection without a result'))
    })
    sock.write(JSON.stringify(req) + '\n')
  })
}
