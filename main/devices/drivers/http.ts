/**
 * A small HTTP client over node:http for the pvr-sdk driver: whole small
 * bodies, or a streamed upload with Content-Length (never chunked), an
 * AbortSignal, a deadline for the answer, and connection failures turned into
 * DeviceUnreachableError.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { Transform, type Readable } from 'node:stream'
import { AbortedError, DeviceUnreachableError, TimeoutError } from '../../../shared/errors.js'

export interface HttpAnswer { status: number, headers: IncomingHttpHeaders, body: Buffer }

export interface HttpCall {
  method: string
  url: string
  headers?: Record<string, string>
  body?: Buffer
  /** Streamed body of `length` bytes. */
  stream?: { source: Readable, length: number, onBytes: (n: number) => void }
  signal: AbortSignal
  /** Deadline for the whole exchange, ms (default 30 s; uploads: none). */
  timeoutMs?: number
  maxBody?: number
}

const MAX_BODY = 64 * 1024 * 1024

export interface HttpClientOptions {
  /** Reach the server through this Unix socket (the URL's host is then only a name). */
  socketPath?: string
  /** Reuse connections (default true). */
  keepAlive?: boolean
}

export class HttpClient {
  private readonly agent: Agent

  constructor (private readonly what: string, private readonly o: HttpClientOptions = {}) {
    this.agent = new Agent({ keepAlive: o.keepAlive ?? true, maxSockets: 4 })
  }

  close (): void { this.agent.destroy() }

  call (c: HttpCall): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (c.signal.aborted) { reject(new AbortedError(`${this.what}: cancelled`)); return }
      const headers: Record<string, string> = { ...c.headers }
      if (c.body !== undefined) headers['Content-Length'] = String(c.body.length)
      if (c.stream !== undefined) headers['Content-Length'] = String(c.stream.length)
      let settled = false
      const done = (err: Error | null, a?: HttpAnswer): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        c.signal.removeEventListener('abort', onAbort)
        if (err !== null) reject(err); else resolve(a as HttpAnswer)
      }
      const req = httpRequest(c.url, { method: c.method, headers, agent: this.agent, ...(this.o.socketPath === undefined ? {} : { socketPath: this.o.socketPath }) }, res => {
        const parts: Buffer[] = []
        let n = 0
        res.on('data', (d: Buffer) => {
          n += d.length
          if (n > (c.maxBody ?? MAX_BODY)) { req.destroy(new Error('answer too large')); return }
          parts.push(d)
        })
        res.on('end', () => { done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
        res.on('error', (e) => { done(this.unreachable(c, e)) })
      })
      const timeoutMs = c.timeoutMs ?? (c.stream === undefined ? 30_000 : 0)
      const timer = timeoutMs > 0
        ? setTimeout(() => { req.destroy(); done(new TimeoutError(`${this.what}: ${c.method} ${c.url}: no answer within ${Math.round(timeoutMs / 1000)} s`)) }, timeoutMs)
        : undefined
      const onAbort = (): void => { req.destroy(); done(new AbortedError(`${this.what}: cancelled`)) }
      c.signal.addEventListener('abort', onAbort, { once: true })
      req.on('error', (e) => { done(this.unreachable(c, e)) })
      if (c.stream !== undefined) {
        const { source, onBytes } = c.stream
        const count = new Transform({ transform (chunk: Buffer, _enc, cb) { onBytes(chunk.length); cb(null, chunk) } })
        source.on('error', (e) => { req.destroy(e); done(e) })
        source.pipe(count).pipe(req)
      } else {
        req.end(c.body)
      }
    })
  }

  private unreachable (c: HttpCall, e: Error): Error {
    if (e instanceof AbortedError || e instanceof TimeoutError) return e
    const code = (e as NodeJS.ErrnoException).code ?? ''
    return new DeviceUnreachableError(`${this.what}: ${c.method} ${new URL(c.url).pathname}: ${code === '' ? e.message : `${code} (${e.message})`}`, { code, url: c.url }, { cause: e })
  }
}
