/**
 * Browser mode's gate: the server listens on 127.0.0.1 only, and an API
 * request must carry the per-run secret token (header), name our own host
 * (no DNS rebinding), and come from our own origin. Static files carry no
 * secret and only need the host check. Every response gets strict headers.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { TOKEN_HEADER } from '../../shared/api/contract.js'
import { ForbiddenError, httpStatusOf, type WireError } from '../../shared/errors.js'
import { CSP } from '../../shared/api/page.js'

export { CSP }

export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), usb=(), serial=()')
}

export class Gate {
  constructor(
    private readonly token: string,
    private readonly port: () => number,
  ) {}

  private hosts(): string[] {
    const p = this.port()
    return [`127.0.0.1:${p}`, `localhost:${p}`]
  }

  origins(): string[] {
    return this.hosts().map(h => `http://${h}`)
  }

  /** Host header check (all requests): refuses DNS-rebinding names. */
  checkHost(req: IncomingMessage): WireError | null {
    const host = req.headers.host ?? ''
    if (!this.hosts().includes(host.toLowerCase()))
      return forbidden(`host ${JSON.stringify(host).slice(0, 80)} is not this server; open the URL fieldsync ui printed`)
    return null
  }

  /** API check: host, origin (when the client sends one, browsers always do for POST), and token. */
  checkApi(req: IncomingMessage): WireError | null {
    const host = this.checkHost(req)
    if (host !== null) return host
    const origin = req.headers.origin
    if (origin !== undefined && !this.origins().includes(origin))
      return forbidden(`requests from origin ${JSON.stringify(origin).slice(0, 120)} are refused; only the Fieldsync page itself may call the API`)
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return forbidden(`cross-site request (${String(site)}) refused`)
    const given = req.headers[TOKEN_HEADER]
    if (typeof given !== 'string' || given === '')
      return forbidden('no token: open the full URL that fieldsync ui printed (it carries the token after #token=)')
    if (!sameSecret(given, this.token)) return forbidden('wrong token: this page belongs to an earlier run of fieldsync ui; open the URL it printed this time')
    return null
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function forbidden(message: string): WireError {
  return new ForbiddenError(message).toWire()
}

/** HTTP status for a typed error (the body always carries the envelope): shared/errors.ts's table. */
export const statusFor = httpStatusOf
