/**
 * A small HTTP/1.1 server over any net.Server (here a Unix socket), written
 * for the simulated pv-ctrl: Pantavisor's libevent server takes requests that
 * Node's http parser refuses, such as pvcontrol's object PUT with
 * `Transfer-Encoding: identity` beside `Content-Length`, pvtx's stray empty
 * lines after a GET, and pvcurl's HTTP/1.0 requests read to EOF. Bodies are
 * streamed with back-pressure; `Expect: 100-continue` is answered.
 */
import type { Server, Socket } from 'node:net'
import { Readable } from 'node:stream'

const MAX_HEAD = 16 * 1024

export interface Http1Request {
  method: string
  /** The request target as sent, e.g. `/steps/locals/x/progress`. */
  target: string
  version: '1.0' | '1.1'
  /** Lower-case names. */
  headers: Map<string, string>
  contentLength: number | null
  chunked: boolean
  body: Readable
  socket: Socket
}

export interface Http1Response {
  /** Send a whole response. Objects are sent as JSON. */
  send: (status: number, body?: Buffer | string, headers?: Record<string, string>) => void
  /**
   * Two complete replies to one request, as Pantavisor's libevent server
   * writes them when a pv-ctrl handler answers twice (seen on the device: an
   * object upload out of space gets `200 OK` with `Content-Length: 0`, then
   * `507` whose headers repeat Content-Type and keep the first reply's
   * Content-Length, followed by its own body). A client reads the first as
   * the answer; the rest is stray bytes on a connection that stays open.
   */
  sendTwice: (first: number, firstBody: string, second: number, secondBody: string) => void
  /** Stream a response body of a known length. */
  stream: (status: number, length: number, body: Readable, headers?: Record<string, string>) => Promise<void>
  /** Close the connection at once, as a device that goes away would. */
  destroy: () => void
  readonly sent: boolean
}

export type Http1Handler = (req: Http1Request, res: Http1Response) => Promise<void> | void

const REASONS: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
}

function head(status: number, length: number, headers: Record<string, string>, close: boolean): Buffer {
  const lines = [`HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}`, `Date: ${new Date().toUTCString()}`]
  for (const [k, v] of Object.entries({ 'Content-Type': 'application/json', ...headers })) lines.push(`${k}: ${v}`)
  lines.push(`Content-Length: ${length}`)
  if (close) lines.push('Connection: close')
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1')
}

/** Per-connection parser state. */
class Connection {
  private buf: Buffer = Buffer.alloc(0)
  private body: Readable | null = null
  private remaining = 0
  private chunked = false
  private chunkLeft = -1
  private bodyDone: (() => void) | null = null
  private busy = false
  private closed = false

  constructor(
    private readonly sock: Socket,
    private readonly handler: Http1Handler,
    private readonly onError: (err: unknown) => void,
  ) {
    sock.on('data', (d: Buffer) => {
      this.onData(d)
    })
    sock.on('error', () => {
      this.abortBody()
    })
    sock.on('close', () => {
      this.closed = true
      this.abortBody()
    })
  }

  private abortBody(): void {
    if (this.body !== null && !this.body.readableEnded) this.body.destroy(new Error('connection closed by the client'))
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
    this.pump()
  }

  private pump(): void {
    while (!this.closed) {
      if (this.body !== null) {
        if (!this.feedBody()) return
        continue
      }
      if (this.busy) return
      // Stray CRLFs between requests are ignored (RFC 9112 §2.2; pvtx sends some).
      let skip = 0
      while (skip + 1 < this.buf.length && this.buf[skip] === 13 && this.buf[skip + 1] === 10) skip += 2
      if (skip > 0) this.buf = this.buf.subarray(skip)
      const end = this.buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (this.buf.length > MAX_HEAD) this.reject(400, 'Request header too large')
        return
      }
      const req = this.parseHead(this.buf.subarray(0, end).toString('latin1'))
      this.buf = this.buf.subarray(end + 4)
      if (req === null) return
      this.start(req)
    }
  }

  private parseHead(text: string): Http1Request | null {
    const lines = text.split('\r\n')
    const m = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0])
    if (m === null) {
      this.reject(400, 'Unsupported protocol')
      return null
    }
    const headers = new Map<string, string>()
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':')
      if (i <= 0) {
        this.reject(400, 'Bad header line')
        return null
      }
      const k = line.slice(0, i).trim().toLowerCase()
      const v = line.slice(i + 1).trim()
      headers.set(k, headers.has(k) ? `${headers.get(k) ?? ''}, ${v}` : v)
    }
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase()
    const chunked = te
      .split(',')
      .map(s => s.trim())
      .includes('chunked')
    const cl = headers.get('content-length')
    let contentLength: number | null = null
    if (cl !== undefined && !chunked) {
      if (!/^\d{1,15}$/.test(cl)) {
        this.reject(400, 'Bad Content-Length')
        return null
      }
      contentLength = Number(cl)
    }
    const body = new Readable({
      read: () => {
        this.sock.resume()
      },
    })
    return { method: m[1], target: m[2], version: m[3] as '1.0' | '1.1', headers, contentLength, chunked, body, socket: this.sock }
  }

  private start(req: Http1Request): void {
    this.busy = true
    this.chunked = req.chunked
    this.chunkLeft = -1
    this.remaining = req.chunked ? Infinity : (req.contentLength ?? 0)
    const received = new Promise<void>(resolve => {
      this.bodyDone = resolve
    })
    if (this.remaining === 0) {
      req.body.push(null)
      this.endBody()
    } else this.body = req.body
    if ((req.headers.get('expect') ?? '').toLowerCase() === '100-continue' && this.remaining > 0) {
      this.sock.write('HTTP/1.1 100 Continue\r\n\r\n')
    }
    const keepAlive =
      req.version === '1.1'
        ? (req.headers.get('connection') ?? '').toLowerCase() !== 'close'
        : (req.headers.get('connection') ?? '').toLowerCase() === 'keep-alive'
    let sent = false
    const finish = (): void => {
      // The response is out: drain what is left of the body, then take the next request.
      const b = req.body
      b.on('error', () => {})
      if (!b.destroyed) b.resume()
      void received.then(() => {
        this.busy = false
        if (!keepAlive) {
          this.sock.end()
          return
        }
        this.pump()
      })
    }
    const res: Http1Response = {
      get sent() {
        return sent
      },
      send: (status, body = '', headers = {}) => {
        if (sent || this.closed) return
        sent = true
        const b = typeof body === 'string' ? Buffer.from(body) : body
        this.sock.write(Buffer.concat([head(status, b.length, headers, !keepAlive), b]))
        finish()
      },
      sendTwice: (first, firstBody, second, secondBody) => {
        if (sent || this.closed) return
        sent = true
        const a = Buffer.from(firstBody)
        const stray =
          [
            `HTTP/1.1 ${second} ${REASONS[second] ?? 'Status'}`,
            'Content-Type: application/json',
            `Date: ${new Date().toUTCString()}`,
            `Content-Length: ${a.length}`,
            'Content-Type: application/json',
          ].join('\r\n') + '\r\n\r\n'
        this.sock.write(Buffer.concat([head(first, a.length, {}, !keepAlive), a, Buffer.from(stray, 'latin1'), Buffer.from(secondBody)]))
        finish()
      },
      stream: async (status, length, body, headers = {}) => {
        if (sent || this.closed) {
          body.destroy()
          return
        }
        sent = true
        this.sock.write(head(status, length, headers, !keepAlive))
        for await (const chunk of body) {
          if (this.closed) {
            body.destroy()
            return
          }
          if (!this.sock.write(chunk as Buffer))
            await new Promise<void>(resolve => {
              this.sock.once('drain', resolve)
              this.sock.once('close', resolve)
            })
        }
        finish()
      },
      destroy: () => {
        sent = true
        this.closed = true
        this.sock.destroy()
      },
    }
    Promise.resolve()
      .then(() => this.handler(req, res))
      .then(
        () => {
          if (!res.sent) res.send(500, JSON.stringify({ Error: 'no response' }))
        },
        (err: unknown) => {
          this.onError(err)
          if (!res.sent) res.send(500, JSON.stringify({ Error: 'Internal Error' }))
        },
      )
  }

  private endBody(): void {
    this.body = null
    const done = this.bodyDone
    this.bodyDone = null
    done?.()
  }

  /** Push to the body stream; a destroyed stream (a handler that gave up) just drops the bytes. */
  private push(body: Readable, piece: Buffer): void {
    if (body.destroyed) {
      this.sock.resume()
      return
    }
    if (!body.push(piece)) this.sock.pause()
  }

  /** Move body bytes from the buffer into the body stream; false when more input is needed. */
  private feedBody(): boolean {
    const body = this.body
    if (body === null) return true
    if (this.chunked) return this.feedChunked(body)
    if (this.buf.length === 0) return false
    const n = Math.min(this.buf.length, this.remaining)
    const piece = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    this.remaining -= n
    this.push(body, piece)
    if (this.remaining === 0) {
      if (!body.destroyed) body.push(null)
      this.endBody()
      return true
    }
    return this.buf.length > 0
  }

  private feedChunked(body: Readable): boolean {
    for (;;) {
      if (this.chunkLeft < 0) {
        const eol = this.buf.indexOf('\r\n')
        if (eol < 0) return false
        const size = parseInt(this.buf.subarray(0, eol).toString('latin1').split(';')[0], 16)
        if (!Number.isFinite(size) || size < 0) {
          this.reject(400, 'Bad chunk')
          return false
        }
        this.buf = this.buf.subarray(eol + 2)
        if (size === 0) {
          const end = this.buf.indexOf('\r\n')
          if (end < 0) return false
          this.buf = this.buf.subarray(end + 2)
          if (!body.destroyed) body.push(null)
          this.endBody()
          return true
        }
        this.chunkLeft = size
      }
      if (this.chunkLeft > 0) {
        if (this.buf.length === 0) return false
        const n = Math.min(this.buf.length, this.chunkLeft)
        this.push(body, this.buf.subarray(0, n))
        this.buf = this.buf.subarray(n)
        this.chunkLeft -= n
      }
      if (this.chunkLeft === 0) {
        if (this.buf.length < 2) return false
        this.buf = this.buf.subarray(2)
        this.chunkLeft = -1
      }
    }
  }

  private reject(status: number, msg: string): void {
    this.closed = true
    const b = Buffer.from(JSON.stringify({ Error: msg }))
    this.sock.end(Buffer.concat([head(status, b.length, {}, true), b]))
  }
}

/** Serve HTTP/1.1 on `server`'s connections with `handler`. */
export function serveHttp1(server: Server, handler: Http1Handler, onError: (err: unknown) => void): void {
  server.on('connection', (sock: Socket) => {
    new Connection(sock, handler, onError)
  })
}

/** Read a whole (small) body; null when it is longer than `max` bytes (the rest is drained). */
export async function readBody(req: Http1Request, max: number): Promise<Buffer | null> {
  const parts: Buffer[] = []
  let n = 0
  for await (const c of req.body) {
    n += (c as Buffer).length
    if (n <= max) parts.push(c as Buffer)
  }
  return n > max ? null : Buffer.concat(parts)
}
