/** The `app://fieldsync/` scheme: the built renderer's files with a strict CSP, nothing else. */
import type { Protocol } from 'electron'
import { readdir, readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { CONTENT_TYPES, CSP } from '../../shared/api/page.js'

export const APP_SCHEME = 'app'
export { CSP }
export { APP_ORIGIN } from './sender.js'

/** Must run before the app is ready. */
export function registerAppScheme(protocol: Protocol): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false, stream: false } },
  ])
}

/** Serve a fixed list of files read at start: no request path ever reaches the file system. */
export async function serveRenderer(protocol: Protocol, dir: string): Promise<void> {
  const files = new Map<string, { body: Buffer; type: string }>()
  for (const name of await readdir(dir)) {
    const type = CONTENT_TYPES[extname(name)]
    if (type !== undefined) files.set(`/${name}`, { body: await readFile(join(dir, name)), type })
  }
  protocol.handle(APP_SCHEME, req => {
    const url = new URL(req.url)
    const f = url.host === 'fieldsync' ? files.get(url.pathname === '/' ? '/index.html' : url.pathname) : undefined
    const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' }
    if (f === undefined) return new Response('not found', { status: 404, headers })
    return new Response(new Uint8Array(f.body), { status: 200, headers: { ...headers, 'Content-Type': f.type } })
  })
}
