/**
 * Trust changes without a restart (issue #17 item 3): with the app open,
 * `fieldsync trust add <ca.pem>` in a terminal (another process, the real
 * CLI) turns the signed revision's badge from "Untrusted signer" to signed,
 * with no reload of the page. And after `fieldsync ui` restarts (same port,
 * new token), pasting its new URL into the old tab works at once: the new
 * token wins over the one the tab kept.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()

describe('trust changes and restarts while the app is open', { skip: skip ?? false, timeout: 120_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let home: string
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    home = join(work, 'home')
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'wifi'], { home })).code, 0)
    ui = await startUi(home)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  it('`fieldsync trust add` from a terminal turns the badge to signed, without a reload', async () => {
    const { page } = b
    await page.goto(ui.url)
    const row = page.getByTestId('revision-row').filter({ hasText: 'wifi' })
    await row.getByText('Untrusted signer').waitFor()
    // A mark on this page: a reload would lose it.
    await page.evaluate('window.__sameDocument = true')
    const r = await runCli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], { home })
    assert.equal(r.code, 0, r.stderr)
    await row.locator('.badge', { hasText: /^Signed/ }).waitFor({ timeout: 20_000 })
    assert.equal(await row.getByText('Untrusted signer').count(), 0)
    assert.equal(await page.evaluate('window.__sameDocument === true'), true, 'the page was not reloaded')
    await screenshot(page, 'trust-live-signed')
    // The Trust screen lists it too, and a removal from the terminal comes back the same way.
    await page
      .getByRole('link', { name: /^Trust/ })
      .first()
      .click()
    await page.getByTestId('trust-entry').getByText('Pantavisor Dev CA').first().waitFor()
    assert.equal((await runCli(['trust', 'rm', 'b25226a11cfda558'], { home })).code, 0)
    await page.getByText('Nothing is trusted yet').waitFor({ timeout: 20_000 })
  })

  it('after a restart on the same port, the new URL pasted into the old tab works without a manual reload', async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Library/ })
      .first()
      .click()
    const port = new URL(ui.base).port
    await ui.stop()
    ui = await startUi(home, ['--port', port])
    assert.notEqual(ui.url, '', 'a new URL')
    // Pasting the URL: only its fragment differs from the tab's, so the browser does not load the page again by itself.
    await page.goto(ui.url)
    await page.getByTestId('revision-row').filter({ hasText: 'wifi' }).waitFor({ timeout: 20_000 })
    assert.equal(await page.locator('[data-code="E_FORBIDDEN"]').count(), 0, 'no "wrong token"')
    assert.doesNotMatch(page.url(), /token=/, 'the token does not stay in the address bar')
    assert.equal(await page.evaluate("sessionStorage.getItem('fieldsync.token')"), ui.token)
    // It keeps working: a call after the first load goes through with the new token.
    await page
      .getByRole('link', { name: /^Trust/ })
      .first()
      .click()
    await page.getByText('Nothing is trusted yet').waitFor()
    await screenshot(page, 'trust-live-new-token')
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource|403/.test(e)),
      [],
    )
  })
})
