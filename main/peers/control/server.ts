/** ControlServer: serves the control socket for a running node (see protocol.ts). */
import { chmod, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { toWireError, UsageError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { checkPeerId } from '../blocklist.js'
import type { PeerNode } from '../node.js'
import type { Puller } from '../pull/puller.js'
import { CONTROL_SOCKET, ControlLimits, validateControlRequest, type ControlReply, type ControlRequest } from './protocol.js'

export class ControlServer {
  readonly path: string
  private server?: Server
  private readonly log: Logger
  private readonly sockets = new Set<Socket>()

  constructor(
    private readonly components: { node: PeerNode; puller: Puller; log: Logger },
    opts: { home: string },
  ) {
    this.path = join(opts.home, CONTROL_SOCKET)
    this.log = components.log.child('peers:control')
  }

  async start(): Promise<void> {
    if (Buffer.byteLength(this.path) > 100) {
      this.log.error('control socket path %s is too long for a Unix socket: pulls in other processes will start nodes of their own', this.path)
      return
    }
    if (await isListening(this.path)) throw new UsageError(`a node already serves this library (${this.path} answers); stop it first`)
    await rm(this.path, { force: true })
    const server = createServer(sock => {
      this.onConnection(sock)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.path, () => {
        server.off('error', reject)
        resolve()
      })
    })
    await chmod(this.path, 0o600)
    this.server = server
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    const s = this.server
    this.server = undefined
    if (s !== undefined)
      await new Promise<void>(resolve =>
        s.close(() => {
          resolve()
        }),
      )
    await rm(this.path, { force: true })
  }

  private onConnection(sock: Socket): void {
    this.sockets.add(sock)
    const ac = new AbortController()
    let buf = ''
    let handled = false
    const reply = (r: ControlReply) => {
      if (!sock.destroyed) sock.write(JSON.stringify(r) + '\n')
    }
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      if (handled) return
      buf += d
      if (buf.length > ControlLimits.requestBytes) {
        reply({ type: 'error', error: { code: 'E_BAD_INPUT', message: 'control request too long' } })
        sock.end()
        handled = true
        return
      }
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      handled = true
      let req: ControlRequest
      try {
        req = validateControlRequest(JSON.parse(buf.slice(0, nl)))
      } catch (err) {
        reply({ type: 'error', error: toWireError(err) })
        sock.end()
        return
      }
      this.handle(req, reply, ac.signal).then(
        result => {
          reply({ type: 'result', result })
          sock.end()
        },
        err => {
          const w = toWireError(err)
          reply({ type: 'error', error: { code: w.code, message: w.message } })
          sock.end()
        },
      )
    })
    sock.on('close', () => {
      ac.abort()
      this.sockets.delete(sock)
    })
    sock.on('error', () => {
      ac.abort()
    })
  }

  private async handle(req: ControlRequest, reply: (r: ControlReply) => void, signal: AbortSignal): Promise<unknown> {
    const node = this.components.node
    switch (req.op) {
      case 'pull':
        return await this.components.puller.pull(req.rev, {
          from: req.from,
          signal,
          onProgress: event => {
            reply({ type: 'event', event })
          },
        })
      case 'peers':
        return { node: { peerId: node.peerId, name: node.name, addrs: node.addrs() }, peers: node.peers() }
      case 'block':
        await node.block(checkPeerId(req.peer))
        return { blocked: req.peer }
      case 'dial':
        return { peer: await node.dial(req.addr, signal) }
    }
  }
}

function isListening(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const s = createConnection(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => {
      resolve(false)
    })
  })
}
