/**
 * Browser mode's HTTP face, in-process with a real App: the token, origin
 * and host checks (typed 403s), argument validation (typed 400s), the
 * security headers, uploads and server-sent events.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { readFile } from 'node:fs/promises'
import { silentLogger } from '../../../shared/log.js'
import { createLogger } from '../../../main/log.js'
import { ApiCore } from '../../../main/app/handlers/index.js'
import { App } from '../../../main/app/index.js'
import { WebServer } from '../../../main/web/index.js'
import { repoRoot, vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  json: () => any
}

function raw(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) })
      })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

describe('browser mode server', { timeout: 60_000 }, () => {
  let app: App
  let core: ApiCore
  let web: WebServer
  const cleanups: Array<() => Promise<void>> = []
  let home: string

  before(async () => {
    home = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    app = new App({ home, log: silentLogger() })
    await app.start()
    core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
    await core.start()
    web = new WebServer({ core, log: silentLogger() }, { rendererDir: join(repoRoot, 'dist', 'renderer') })
    await web.start()
  })
  after(async () => {
    await web.stop()
    await core.stop()
    await app.stop()
    for (const c of cleanups) await c()
  })

  const api = (channel: string, body: unknown, headers: Record<string, string> = {}) =>
    raw(web.port, {
      method: 'POST',
      path: `/api/${channel}`,
      headers: {
        host: `127.0.0.1:${web.port}`,
        'content-type': 'application/json',
        'x-fieldsync-token': web.token,
        origin: `http://127.0.0.1:${web.port}`,
        ...headers,
      },
      body: JSON.stringify(body),
    })

  it('listens on 127.0.0.1 only and prints a URL with the token in the fragment', () => {
    assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43}$/)
  })

  it('answers a valid call with the value', async () => {
    const r = await api('library.list', {})
    assert.equal(r.status, 200)
    assert.deepEqual(r.json(), { ok: true, value: { revisions: [], stats: { revisions: 0, objects: 0, storedBytes: 0, logicalBytes: 0 } } })
  })

  it('refuses a call without the token: 403 E_FORBIDDEN', async () => {
    const r = await api('library.list', {}, { 'x-fieldsync-token': '' })
    assert.equal(r.status, 403)
    assert.equal(r.json().ok, false)
    assert.equal(r.json().error.code, 'E_FORBIDDEN')
  })

  it('refuses a wrong token of the right length', async () => {
    const r = await api('library.list', {}, { 'x-fieldsync-token': 'A'.repeat(web.token.length) })
    assert.equal(r.status, 403)
    assert.equal(r.json().error.code, 'E_FORBIDDEN')
  })

  it('refuses another origin even with the token', async () => {
    for (const origin of ['http://evil.example', `http://127.0.0.1:${web.port + 1}`, 'null']) {
      const r = await api('library.list', {}, { origin })
      assert.equal(r.status, 403, origin)
      assert.equal(r.json().error.code, 'E_FORBIDDEN')
    }
  })

  it('refuses cross-site fetch metadata and a foreign Host (DNS rebinding)', async () => {
    assert.equal((await api('library.list', {}, { 'sec-fetch-site': 'cross-site' })).json().error.code, 'E_FORBIDDEN')
    const r = await api('library.list', {}, { host: `attacker.example:${web.port}` })
    assert.equal(r.status, 403)
    assert.equal(r.json().error.code, 'E_FORBIDDEN')
    const page = await raw(web.port, { path: '/', headers: { host: 'attacker.example' } })
    assert.equal(page.status, 403)
  })

  it('refuses invalid arguments with a typed 400 naming the argument', async () => {
    const cases: Array<[string, unknown]> = [
      ['library.show', { rev: 5 }],
      ['library.show', {}],
      ['library.show', { rev: 'x', extra: true }],
      ['library.export', { rev: 'abc', folder: 'relative/path' }],
      ['library.import', { path: '/a', upload: 'b' }],
      ['library.import', {}],
      ['transfers.cancel', { id: '../../etc' }],
      ['usb.export', { revs: [], folder: '/tmp' }],
      ['library.list', []],
    ]
    for (const [channel, body] of cases) {
      const r = await api(channel, body)
      assert.equal(r.status, 400, `${channel} ${JSON.stringify(body)}: ${r.body}`)
      assert.equal(r.json().error.code, 'E_BAD_INPUT')
      assert.ok(r.json().error.message.startsWith(channel), r.json().error.message)
    }
  })

  it('refuses bodies that are not JSON, unknown channels and other methods', async () => {
    const bad = await raw(web.port, {
      method: 'POST',
      path: '/api/library.list',
      headers: { host: `127.0.0.1:${web.port}`, 'content-type': 'application/json', 'x-fieldsync-token': web.token },
      body: '{nope',
    })
    assert.equal(bad.status, 400)
    assert.equal(bad.json().error.code, 'E_BAD_INPUT')
    const form = await raw(web.port, {
      method: 'POST',
      path: '/api/library.list',
      headers: { host: `127.0.0.1:${web.port}`, 'content-type': 'text/plain', 'x-fieldsync-token': web.token },
      body: '{}',
    })
    assert.equal(form.status, 400, 'text/plain (a CORS-simple request) is refused')
    const unknown = await api('library.drop_tables', {})
    assert.equal(unknown.status, 404)
    assert.equal(unknown.json().error.code, 'E_NOT_FOUND')
    const get = await raw(web.port, { path: '/api/library.list', headers: { host: `127.0.0.1:${web.port}`, 'x-fieldsync-token': web.token } })
    assert.equal(get.status, 405)
  })

  it('gives typed errors from the core: unknown revision', async () => {
    const r = await api('library.show', { rev: 'no-such-revision' })
    assert.equal(r.status, 404)
    assert.equal(r.json().error.code, 'E_UNKNOWN_REVISION')
  })

  it('serves the renderer with a strict CSP and no secrets, and nothing outside it', async () => {
    const page = await raw(web.port, { path: '/', headers: { host: `127.0.0.1:${web.port}` } })
    assert.equal(page.status, 200)
    const csp = String(page.headers['content-security-policy'])
    assert.match(csp, /default-src 'none'/)
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.equal(page.headers['x-content-type-options'], 'nosniff')
    assert.ok(!page.body.includes(web.token))
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/app.js.map', '/index.db']) {
      assert.equal((await raw(web.port, { path: p, headers: { host: `127.0.0.1:${web.port}` } })).status, 404, p)
    }
  })

  it('streams an upload to a temp file and imports it by id; the id works once', async () => {
    const body = await readFile(join(vendoredUpstreamDir, 'watchdog_pinger.tar'))
    const up = await raw(web.port, {
      method: 'POST',
      path: '/api/upload?name=watchdog_pinger.tar',
      headers: { host: `127.0.0.1:${web.port}`, 'x-fieldsync-token': web.token, 'content-type': 'application/octet-stream' },
      body,
    })
    assert.equal(up.status, 200, up.body)
    const id = up.json().value.upload as string
    assert.equal(up.json().value.bytes, body.length)
    const imp = await api('library.import', { upload: id })
    assert.equal(imp.status, 200, imp.body)
    assert.equal(imp.json().value.name, 'watchdog_pinger')
    assert.equal(imp.json().value.missing, 0)
    const again = await api('library.import', { upload: id })
    assert.equal(again.json().error.code, 'E_NOT_FOUND')
    const noToken = await raw(web.port, { method: 'POST', path: '/api/upload?name=x.tar', headers: { host: `127.0.0.1:${web.port}` }, body: 'x' })
    assert.equal(noToken.status, 403)
  })

  it('lists a running upload as a transfer with progress, and cancels it', async () => {
    const req = request({
      host: '127.0.0.1',
      port: web.port,
      method: 'POST',
      path: '/api/upload?name=slow.tgz',
      headers: { 'x-fieldsync-token': web.token, 'content-type': 'application/octet-stream', 'content-length': String(10 << 20) },
    })
    const answered = new Promise<Res>((resolve, reject) => {
      req.on('response', res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString()
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) })
        })
      })
      req.on('error', reject)
    })
    req.write(Buffer.alloc(1 << 20))
    let t: any
    for (let i = 0; i < 100 && t?.bytes !== 1 << 20; i++) {
      await new Promise(resolve => setTimeout(resolve, 20))
      t = (await api('transfers.list', {})).json().value.find((x: any) => x.kind === 'upload' && x.label === 'upload slow.tgz')
    }
    assert.equal(t.state, 'running')
    assert.equal(t.totalBytes, 10 << 20)
    assert.equal(t.bytes, 1 << 20)
    const c = await api('transfers.cancel', { id: t.id })
    assert.deepEqual(c.json(), { ok: true, value: { cancelled: true } })
    const res = await answered
    assert.equal(res.json().error.code, 'E_ABORTED')
    req.destroy()
    const after = (await api('transfers.list', {})).json().value.find((x: any) => x.id === t.id)
    assert.equal(after.state, 'cancelled')
    assert.equal(after.error.code, 'E_ABORTED')
    assert.deepEqual((await api('transfers.cancel', { id: t.id })).json().value, { cancelled: false })
  })

  it('refuses an API path with malformed percent-encoding: 400 E_BAD_INPUT, not an internal error', async () => {
    for (const path of ['/api/library.list%', '/api/library%E0%A4%A', '/api/%ZZ']) {
      const r = await raw(web.port, {
        method: 'POST',
        path,
        headers: { host: `127.0.0.1:${web.port}`, 'content-type': 'application/json', 'x-fieldsync-token': web.token },
        body: '{}',
      })
      assert.equal(r.status, 400, `${path}: ${r.body}`)
      assert.equal(r.json().error.code, 'E_BAD_INPUT')
      assert.match(r.json().error.message, /percent-encoding/)
    }
  })

  it('an upload the client cuts off fails its transfer with E_UPLOAD_CUT_SHORT, saying how much arrived', async () => {
    const req = request({
      host: '127.0.0.1',
      port: web.port,
      method: 'POST',
      path: '/api/upload?name=cut.tgz',
      headers: { 'x-fieldsync-token': web.token, 'content-type': 'application/octet-stream', 'content-length': String(4 << 20) },
    })
    req.on('error', () => {})
    const failed = new Promise<any>(resolve => {
      const off = core.events.onAny((event, payload: any) => {
        if (event === 'transfer' && payload.label === 'upload cut.tgz' && payload.state !== 'running') {
          off()
          resolve(payload)
        }
      })
    })
    const started = new Promise<void>(resolve => {
      const off = core.events.onAny((event, payload: any) => {
        if (event === 'transfer' && payload.label === 'upload cut.tgz' && payload.bytes >= 1 << 20) {
          off()
          resolve()
        }
      })
    })
    req.write(Buffer.alloc(1 << 20))
    await started
    req.destroy()
    const t = await failed
    assert.equal(t.state, 'failed')
    assert.equal(t.error.code, 'E_UPLOAD_CUT_SHORT')
    assert.match(t.error.message, /cut\.tgz: cut short after 1\.0 MiB of 4\.0 MiB/)
  })

  it('with DEBUG on, a refused request is logged without its query string', async t => {
    const lines: string[] = []
    const log = createLogger('fieldsync', {
      debug: 'fieldsync:*',
      write: l => {
        lines.push(l)
      },
    })
    const logged = new WebServer({ core, log }, { rendererDir: join(repoRoot, 'dist', 'renderer') })
    await logged.start()
    t.after(async () => {
      await logged.stop()
    })
    const r = await raw(logged.port, {
      method: 'POST',
      path: '/api/upload?name=payroll-2024.tgz&x=secret',
      headers: { host: `127.0.0.1:${logged.port}` },
      body: 'x',
    })
    assert.equal(r.status, 403)
    const page = await raw(logged.port, { path: '/index.html?token=secret', headers: { host: 'attacker.example' } })
    assert.equal(page.status, 403)
    const refused = lines.filter(l => l.includes('refused'))
    assert.equal(refused.length, 2, lines.join(''))
    assert.ok(refused[0].includes('POST /api/upload'), refused[0])
    assert.ok(refused[1].includes('GET /index.html'), refused[1])
    for (const l of refused) assert.ok(!l.includes('secret') && !l.includes('payroll') && !l.includes('?'), l)
  })

  it('sends events over SSE to a client with the token only', async () => {
    const refused = await raw(web.port, { path: '/api/events', headers: { host: `127.0.0.1:${web.port}` } })
    assert.equal(refused.status, 403)
    const got = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: web.port, path: '/api/events', headers: { 'x-fieldsync-token': web.token } }, res => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8')
        let buf = ''
        res.on('data', (c: Buffer) => {
          buf += c.toString()
          if (buf.includes('event: revision')) {
            req.destroy()
            resolve(buf)
          }
        })
        // Trigger a library change once connected.
        void api('library.import', { path: join(vendoredUpstreamDir, 'pvwificonnect.tgz') })
      })
      req.on('error', e => {
        if (!(e as NodeJS.ErrnoException).message.includes('aborted')) reject(e)
      })
      req.end()
    })
    assert.match(got, /event: revision\ndata: \{"id":"[0-9a-f]{64}","complete":true\}/)
  })
})
