/**
 * The refusals, seen from a real browser: a page opened without the token
 * gets nothing; a page from another origin cannot call the API even with the
 * token (CORS preflight refused, simple requests refused by Origin); an
 * invalid argument comes back as a typed error that the UI shows.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()

describe('refusals in browser mode', { skip: skip ?? false, timeout: 90_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let evil: Server
  let evilUrl: string
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    ui = await startUi(join(work, 'home'))
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other site</title><p>another origin</p>')
    })
    await new Promise<void>(resolve => evil.listen(0, '127.0.0.1', resolve))
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    await new Promise<void>(resolve =>
      evil?.close(() => {
        resolve()
      }),
    )
    for (const c of cleanups) await c()
  })

  it('a page opened without the token shows how to get in, and its API calls are refused', async () => {
    const { page } = b
    await page.goto(ui.base)
    await page.getByText('needs the access token').waitFor()
    const r = await page.evaluate(async () => {
      const res = await fetch('/api/library.list', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      return { status: res.status, body: (await res.json()) as { ok: boolean; error?: { code: string } } }
    })
    assert.equal(r.status, 403)
    assert.equal(r.body.error?.code, 'E_FORBIDDEN')
    await screenshot(page, 'no-token')
  })

  it('another origin cannot call the API, even knowing the token', async () => {
    const { page } = b
    await page.goto(evilUrl)
    const out = await page.evaluate(
      async ({ base, token, fixture }) => {
        const results: string[] = []
        try {
          const res = await fetch(`${base}api/library.list`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-fieldsync-token': token },
            body: '{}',
          })
          results.push(`cors-fetch answered ${res.status}`)
        } catch (e) {
          results.push(`cors-fetch refused: ${(e as Error).name}`)
        }
        try {
          // A "simple" request needs no preflight: the server must refuse it by its Origin.
          await fetch(`${base}api/library.import`, {
            method: 'POST',
            mode: 'no-cors',
            headers: { 'content-type': 'text/plain' },
            body: JSON.stringify({ path: fixture }),
          })
          results.push('no-cors sent')
        } catch (e) {
          results.push(`no-cors refused: ${(e as Error).name}`)
        }
        return results
      },
      { base: ui.base, token: ui.token, fixture: join(vendoredUpstreamDir, 'watchdog_pinger.tar') },
    )
    assert.equal(out[0], 'cors-fetch refused: TypeError')
    // Whatever the browser did with the simple request, the core imported nothing.
    const ls = await runCli(['--json', 'ls'], { home: ui.home })
    assert.deepEqual(ls.json(), [])
  })

  it('an invalid argument comes back as a typed error, and the UI shows it with what to do', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor()
    const r = await page.evaluate(async () => {
      const token = (globalThis as any).sessionStorage.getItem('fieldsync.token') as string
      const res = await fetch('/api/library.show', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-fieldsync-token': token },
        body: JSON.stringify({ rev: 42 }),
      })
      return { status: res.status, body: (await res.json()) as { ok: boolean; error?: { code: string; message: string } } }
    })
    assert.equal(r.status, 400)
    assert.equal(r.body.error?.code, 'E_BAD_INPUT')
    assert.match(r.body.error?.message ?? '', /library\.show\.rev/)
    await page.goto(`${ui.base}#/revision/${encodeURIComponent('../../etc/passwd')}`)
    const alert = page.locator('.alert-bad')
    await alert.waitFor()
    assert.equal(await alert.getAttribute('data-code'), 'E_BAD_INPUT')
    await page.goto(`${ui.base}#/revision/no-such-revision`)
    await page.locator('.alert-bad[data-code="E_UNKNOWN_REVISION"]').waitFor()
    assert.match(await page.locator('.alert-bad').innerText(), /What to do/)
    await screenshot(page, 'typed-error')
  })
})
