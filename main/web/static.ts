/**
 * The built renderer's files. Only files present in the folder at start are
 * served (a fixed list, so no path from a request ever reaches the file
 * system); every other path gets index.html's 404.
 */
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join } from 'node:path'
import { NotAvailableError } from '../../shared/errors.js'
import { CONTENT_TYPES } from '../../shared/api/page.js'

export class StaticFiles {
  private files = new Map<string, { path: string; size: number; type: string }>()

  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch {
      throw new NotAvailableError(`${this.dir}: the renderer is not built; run \`npm run build\` first`)
    }
    if (!names.includes('index.html')) throw new NotAvailableError(`${this.dir}: no index.html; run \`npm run build\` first`)
    for (const n of names) {
      const type = CONTENT_TYPES[extname(n)]
      if (type === undefined) continue
      const p = join(this.dir, n)
      const st = await stat(p)
      if (st.isFile()) this.files.set('/' + n, { path: p, size: st.size, type })
    }
  }

  async serve(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const f = this.files.get(pathname === '/' ? '/index.html' : pathname)
    if (f === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n')
      return
    }
    res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.size, 'Cache-Control': 'no-cache' })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    await new Promise<void>(resolve => {
      const s = createReadStream(f.path)
      s.on('error', () => {
        res.destroy()
        resolve()
      })
      s.on('end', () => {
        resolve()
      })
      s.pipe(res)
    })
  }
}
