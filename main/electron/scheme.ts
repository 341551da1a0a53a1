/** The `app://fieldsync/` scheme: the built renderer's files with a strict CSP, nothing else. */
import type { Protocol } from 'electron'
import { readdir, readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'

export const APP_SCHEME = 'app'
export { APP_ORIGIN } from './sender.js'

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

/** Must run before the app is ready. */
export function registerAppScheme (protocol: Protocol): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false, stream: false } }])
}

/** Serve a fixed list of files read at start: no request path ever reaches the file system. */
export async function serveRenderer (protocol: Protocol, dir: string): Promise<void> {
  const files = new Map<string, { body: Buffer, type: string }>()
  for (const name of await readdir(dir)) {
    const type = TYPES[extname(name)]
    if (type !== undefined) files.set(`/${name}`, { body: await readFile(join(dir, name)), type })
  }
  protocol.handle(APP_SCHEME, (req) => {
    const url = new URL(req.url)
    const f = url.host === 'fieldsync' ? files.get(url.pathname === '/' ? '/index.html' : url.pathname) : undefined
    const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' }
    if (f === undefined) return new Response('not found', { status: 404, headers })
    return new Response(new Uint8Array(f.body), { status: 200, headers: { ...headers, 'Content-Type': f.type } })
  })
}
