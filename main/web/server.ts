/**
 * Browser mode: the built renderer and the same API as Electron's IPC, over
 * HTTP on 127.0.0.1. `POST /api/<channel>` (JSON body -> envelope),
 * `GET /api/events` (server-sent events; read with fetch so the token rides
 * in a header), `POST /api/upload?name=<file>` (streamed body -> upload id).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Envelope } from '../../shared/api/contract.js'
import { BadInputError, ErrorCodes, toWireError, type WireError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { ApiCore } from '../app/handlers/index.js'
import { Gate, newToken, setSecurityHeaders, statusFor } from './security.js'
import { StaticFiles } from './static.js'

const MAX_JSON_BODY = 1 << 20
const KEEPALIVE_MS = 15_000

/** The channel named by `/api/<channel>`; malformed percent-encoding is the client's error, not ours. */
function apiChannel(pathname: string): string {
  const enc = pathname.slice('/api/'.length)
  try {
    return decodeURIComponent(enc)
  } catch {
    throw new BadInputError(`/api/${enc.slice(0, 100)}: the path is not valid percent-encoding (a '%' must be followed by two hex digits of UTF-8)`)
  }
}

/** A request line's path without its query string, for logs. */
function pathOnly(url: string | undefined): string {
  const u = url ?? ''
  const q = u.indexOf('?')
  return (q < 0 ? u : u.slice(0, q)).slice(0, 200)
}

export interface WebServerOptions {
  /** 0 = an OS-chosen port. */
  port?: number
  /** Folder of the built renderer (default: dist/renderer beside this file's build). */
  rendererDir?: string
  token?: string
}

export class WebServer {
  readonly token: string
  private readonly gate: Gate
  private readonly files: StaticFiles
  private readonly log: Logger
  private server: Server | undefined
  private readonly streams = new Set<ServerResponse>()
  private keepalive: NodeJS.Timeout | undefined

  constructor(
    private readonly components: { core: ApiCore; log: Logger },
    private readonly opts: WebServerOptions = {},
  ) {
    this.log = components.log.child('web')
    this.token = opts.token ?? newToken()
    this.gate = new Gate(this.token, () => this.port)
    this.files = new StaticFiles(opts.rendererDir ?? fileURLToPath(new URL('../../renderer/', import.meta.url)))
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0
  }

  /** The URL to open: the token travels in the fragment, never in a request line. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/#token=${this.token}`
  }

  async start(): Promise<void> {
    await this.files.start()
    const server = createServer((req, res) => {
      void this.handle(req, res)
    })
    server.headersTimeout = 30_000
    server.requestTimeout = 0 // uploads and long calls (an import) may take a while
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.opts.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.server = server
    this.keepalive = setInterval(() => {
      for (const s of this.streams) s.write(': keepalive\n\n')
    }, KEEPALIVE_MS)
    this.keepalive.unref()
    this.log('listening on %s', `http://127.0.0.1:${this.port}/`)
  }

  async stop(): Promise<void> {
    if (this.keepalive !== undefined) clearInterval(this.keepalive)
    for (const s of this.streams) s.end()
    this.streams.clear()
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    server.closeIdleConnections()
    await new Promise<void>(resolve => {
      server.close(() => {
        resolve()
      })
      setTimeout(() => {
        server.closeAllConnections()
      }, 1000).unref()
    })
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res)
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (url.pathname.startsWith('/api/')) {
        res.setHeader('Cache-Control', 'no-store')
        const refused = this.gate.checkApi(req)
        if (refused !== null) {
          this.refuse(req, res, refused)
          return
        }
        if (url.pathname === '/api/events' && req.method === 'GET') {
          this.events(req, res)
          return
        }
        if (req.method !== 'POST') {
          this.send(res, 405, { ok: false, error: { code: ErrorCodes.BadInput, message: `${req.method} ${url.pathname}: use POST` } })
          return
        }
        if (url.pathname === '/api/upload') {
          await this.upload(req, res, url)
          return
        }
        await this.call(req, res, apiChannel(url.pathname))
        return
      }
      const refused = this.gate.checkHost(req)
      if (refused !== null) {
        this.refuse(req, res, refused)
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end()
        return
      }
      await this.files.serve(url.pathname, req, res)
    } catch (err) {
      const error = toWireError(err)
      if (!res.headersSent) this.send(res, statusFor(error.code), { ok: false, error })
      else res.destroy()
    }
  }

  private refuse(req: IncomingMessage, res: ServerResponse, error: WireError): void {
    // The path only: a query string may carry what the log must not keep (an upload's file name, a token pasted into a URL).
    this.log('refused %s %s: %s', req.method, pathOnly(req.url), error.message)
    req.resume()
    this.send(res, 403, { ok: false, error })
  }

  private send(res: ServerResponse, status: number, env: Envelope<unknown>): void {
    const body = JSON.stringify(env)
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }

  private async call(req: IncomingMessage, res: ServerResponse, channel: string): Promise<void> {
    const type = req.headers['content-type'] ?? ''
    if (!/^application\/json\b/i.test(type)) throw new BadInputError(`${channel}: send the request as application/json`)
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_JSON_BODY) throw new BadInputError(`${channel}: request body over ${MAX_JSON_BODY} bytes`)
      chunks.push(chunk as Buffer)
    }
    let body: unknown
    try {
      body = size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      throw new BadInputError(`${channel}: the request body is not valid JSON`)
    }
    const ac = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) ac.abort()
    })
    const env = await this.components.core.dispatch(channel, body, { signal: ac.signal })
    if (res.destroyed) return
    this.send(res, env.ok ? 200 : statusFor(env.error.code), env)
  }

  private async upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get('name') ?? ''
    if (name === '' || name.length > 255 || /[/\\\0]/.test(name))
      throw new BadInputError('upload: give the file name as ?name=<file> (no slashes, at most 255 characters)')
    const len = req.headers['content-length']
    const expected = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined
    const core = this.components.core
    const up = await core.transfers.run(
      'upload',
      `upload ${name}`,
      async t => {
        const onClose = () => {
          if (!req.complete) t.detail('the browser closed the connection')
        }
        req.once('close', onClose)
        try {
          return await core.uploads.receive(req, {
            filename: name,
            expected,
            signal: t.signal,
            onProgress: b => {
              t.progress(b, expected ?? null)
            },
          })
        } finally {
          req.off('close', onClose)
        }
      },
      { totalBytes: expected ?? null },
    )
    this.send(res, 200, { ok: true, value: { upload: up.id, bytes: up.bytes, name: up.filename } })
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' })
    res.write(': connected\n\n')
    this.streams.add(res)
    const off = this.components.core.events.onAny((event, payload) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`)
    })
    const done = () => {
      off()
      this.streams.delete(res)
    }
    req.once('close', done)
    res.once('close', done)
  }
}
