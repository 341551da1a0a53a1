/**
 * A small HTTP client over node:http for the pvr-sdk driver: whole small
 * bodies, or a streamed upload with Content-Length (never chunked), an
 * AbortSignal, a deadline for the answer, and connection failures turned into
 * DeviceUnreachableError.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { Transform, type Readable } from 'node:stream'
import { AbortedError, DeviceUnreachableError, ProtocolError, TimeoutError } from '../../../shared/errors.js'

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface HttpCall {
  method: string
  url: string
  headers?: Record<string, string>
  body?: Buffer
  /** Streamed body of `length` bytes. */
  stream?: { source: Readable; length: number; onBytes: (n: number) => void }
  signal: AbortSignal
  /** Deadline for the whole exchange, ms (default 30 s; uploads: none, see stallMs). */
  timeoutMs?: number
  maxBody?: number
  /**
   * Uploads: give up when the device takes no byte for this long, or does
   * not answer this long after the last byte (plus the time it needs to
   * re-hash the object at 20 MB/s). Default 30 s.
   */
  stallMs?: number
}

/** An upload the device stops reading, or never answers, ends after this long without progress. */
export const STALL_MS = 30_000
/** How fast a device is assumed to re-hash what it received before it answers. */
export const REHASH_RATE = 20_000_000

/** The largest device answer read (a body over it is E_PROTOCOL); README: Sticks and devices' answers. */
export const MAX_BODY = 64 * 1024 * 1024

export interface HttpClientOptions {
  /** Reach the server through this Unix socket (the URL's host is then only a name). */
  socketPath?: string
  /** Reuse connections (default true). */
  keepAlive?: boolean
}

export class HttpClient {
  private readonly agent: Agent

  constructor(
    private readonly what: string,
    private readonly o: HttpClientOptions = {},
  ) {
    this.agent = new Agent({ keepAlive: o.keepAlive ?? true, maxSockets: 4 })
  }

  close(): void {
    this.agent.destroy()
  }

  call(c: HttpCall): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (c.signal.aborted) {
        reject(new AbortedError(`${this.what}: cancelled`))
        return
      }
      const headers: Record<string, string> = { ...c.headers }
      if (c.body !== undefined) headers['Content-Length'] = String(c.body.length)
      if (c.stream !== undefined) headers['Content-Length'] = String(c.stream.length)
      let settled = false
      let stall: NodeJS.Timeout | undefined
      const done = (err: Error | null, a?: HttpAnswer): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        clearTimeout(stall)
        c.signal.removeEventListener('abort', onAbort)
        if (err !== null) reject(err)
        else resolve(a as HttpAnswer)
      }
      const req = httpRequest(
        c.url,
        { method: c.method, headers, agent: this.agent, ...(this.o.socketPath === undefined ? {} : { socketPath: this.o.socketPath }) },
        res => {
          const parts: Buffer[] = []
          let n = 0
          const max = c.maxBody ?? MAX_BODY
          res.on('data', (d: Buffer) => {
            if (settled) return
            n += d.length
            if (n > max) {
              // Settle first: destroying the request then fails it, which must not read as an unreachable device.
              done(this.tooLarge(c, max))
              req.destroy()
              return
            }
            parts.push(d)
          })
          res.on('end', () => {
            done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) })
          })
          res.on('error', e => {
            done(this.unreachable(c, e))
          })
        },
      )
      const timeoutMs = c.timeoutMs ?? (c.stream === undefined ? 30_000 : 0)
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              req.destroy()
              done(new TimeoutError(`${this.what}: ${c.method} ${c.url}: no answer within ${Math.round(timeoutMs / 1000)} s`))
            }, timeoutMs)
          : undefined
      const onAbort = (): void => {
        req.destroy()
        done(new AbortedError(`${this.what}: cancelled`))
      }
      c.signal.addEventListener('abort', onAbort, { once: true })
      req.on('error', e => {
        const late = this.lateAnswer(e)
        if (late !== null) {
          done(null, late)
          return
        }
        done(this.unreachable(c, e))
      })
      if (c.stream !== undefined) {
        const { source, onBytes, length } = c.stream
        const stallMs = c.stallMs ?? STALL_MS
        let sent = 0
        const arm = (ms: number, why: string): void => {
          // Once answered, bytes still leaving and the request's 'finish' (which may come after the
          // answer) arm nothing: a stray 30 s timer kept a finished `fieldsync rollout` alive for 30 s.
          if (settled) return
          clearTimeout(stall)
          stall = setTimeout(() => {
            req.destroy()
            done(new TimeoutError(`${this.what}: ${c.method} ${new URL(c.url).pathname}: ${why}`, { sent, length }))
          }, ms)
        }
        arm(stallMs, `the device took no byte of the upload for ${Math.round(stallMs / 1000)} s`)
        req.on('finish', () => {
          arm(stallMs + Math.ceil(length / REHASH_RATE) * 1000, `the device took all ${sent} bytes but did not answer`)
        })
        const count = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            sent += chunk.length
            arm(stallMs, `the device stopped taking the upload after ${sent} of ${length} bytes (nothing for ${Math.round(stallMs / 1000)} s)`)
            onBytes(chunk.length)
            cb(null, chunk)
          },
        })
        source.on('error', e => {
          req.destroy(e)
          done(e)
        })
        source.pipe(count).pipe(req)
      } else {
        req.end(c.body)
      }
    })
  }

  /**
   * A second answer behind the first on one request. Pantavisor's pv-ctrl
   * answers an upload that ran out of room 200 (the upload is complete) and
   * then 507 "Not enough disk space available" (ctrl/ctrl_upload.c): the
   * HTTP parser sees the second one as garbage. Its status line is the
   * device's last word on the request, so it is the answer.
   */
  private lateAnswer(e: Error): HttpAnswer | null {
    const raw = (e as { rawPacket?: unknown }).rawPacket
    if (!Buffer.isBuffer(raw) || !String((e as NodeJS.ErrnoException).code ?? '').startsWith('HPE_')) return null
    // The parser's buffer may still hold the first answer: take the last status line.
    const text = raw.toString('latin1')
    const all = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g)]
    const m = all[all.length - 1]
    if (m === undefined) return null
    const sep = text.indexOf('\r\n\r\n', m.index)
    const body = sep < 0 ? Buffer.alloc(0) : raw.subarray(sep + 4)
    return { status: Number(m[1]), headers: {}, body }
  }

  private tooLarge(c: HttpCall, max: number): Error {
    const cap = max % (1 << 20) === 0 ? `${max / (1 << 20)} MiB` : `${max} bytes`
    return new ProtocolError(
      `${this.what}: ${c.method} ${new URL(c.url).pathname}: the device's answer is over the ${cap} cap for it; not read further (a device sends far less: is this a Pantavisor device?)`,
      { url: c.url, maxBytes: max },
    )
  }

  private unreachable(c: HttpCall, e: Error): Error {
    if (e instanceof AbortedError || e instanceof TimeoutError) return e
    const code = (e as NodeJS.ErrnoException).code ?? ''
    return new DeviceUnreachableError(
      `${this.what}: ${c.method} ${new URL(c.url).pathname}: ${code === '' ? e.message : `${code} (${e.message})`}`,
      { code, url: c.url },
      { cause: e },
    )
  }
}
