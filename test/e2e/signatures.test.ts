/**
 * Signature verdicts in the app (issue #17 item 5): a signature whose CA is
 * not in the trust store is an amber "Untrusted signer" ("signed by CN=…, not
 * trusted here: trust its CA"); one over a state changed after signing is a
 * red INVALID ("changed after signing: …"). Two libraries: one that trusts
 * nothing, one that trusts the Pantavisor Dev CA.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()
const WIFI = join(vendoredUpstreamDir, 'pvwificonnect.tgz')

/** pvwificonnect's state with one character of a signed value changed. */
function tampered(): string {
  const text = execFileSync('tar', ['-xzOf', WIFI, 'json']).toString('utf8')
  const key = JSON.stringify('pvwificonnect/root.squashfs.docker-digest') + ':'
  let i = text.indexOf(key) + key.length + 10
  while (!/[0-9a-e]/.test(text[i])) i++
  return text.slice(0, i) + (text[i] === '0' ? '1' : '0') + text.slice(i + 1)
}

async function openRevision(page: Page, name: string): Promise<void> {
  await page
    .getByRole('link', { name: /^Library/ })
    .first()
    .click()
  await page.getByTestId('revision-row').filter({ hasText: name }).getByRole('link', { name, exact: true }).click()
  await page.getByTestId('revision-title').waitFor()
}

describe('signature verdicts in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
  let b: BrowserSession
  let work: string
  const uis: UiProcess[] = []
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    work = await tempDir(
      {
        after: (fn: () => Promise<void>) => {
          cleanups.push(fn)
        },
      },
      'ui-sigs-',
    )
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    for (const u of uis) await u.stop()
    for (const c of cleanups) await c()
  })

  it('a signer whose CA is not trusted here is amber "Untrusted signer", not INVALID', async () => {
    const home = join(work, 'untrusting')
    const r = await runCli(['import', WIFI, '--name', 'wifi'], { home })
    assert.equal(r.code, 0, r.stderr)
    const ui = await startUi(home)
    uis.push(ui)
    const { page } = b
    await page.goto(ui.url)
    const row = page.getByTestId('revision-row').filter({ hasText: 'wifi' })
    await row.waitFor()
    const badge = row.locator('.badge', { hasText: /Untrusted signer|INVALID/ })
    assert.equal(await badge.innerText(), 'Untrusted signer')
    assert.match((await badge.getAttribute('class')) ?? '', /badge-warn/)
    await openRevision(page, 'wifi')
    const sigs = page.getByRole('table', { name: 'Signatures' })
    assert.equal(await sigs.locator('.badge').first().innerText(), 'untrusted signer')
    assert.match((await sigs.locator('.badge').first().getAttribute('class')) ?? '', /badge-warn/)
    assert.match(await sigs.getByTestId('signature-verdict').first().innerText(), /^signed by CN=pv-developer-01, not trusted here: trust its CA/)
    assert.doesNotMatch(await page.locator('main').innerText(), /INVALID/)
    await screenshot(page, 'signature-untrusted')
  })

  it('a state changed after signing is red INVALID: "changed after signing"', async () => {
    const home = join(work, 'trusting')
    assert.equal((await runCli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], { home })).code, 0)
    assert.equal((await runCli(['import', WIFI, '--name', 'wifi'], { home })).code, 0)
    const changed = join(work, 'wifi-changed.json')
    await writeFile(changed, tampered())
    const r = await runCli(['import', changed, '--name', 'wifi-changed'], { home })
    assert.equal(r.code, 0, r.stderr)
    const ui = await startUi(home)
    uis.push(ui)
    const { page } = b
    await page.goto(ui.url)
    const row = page.getByTestId('revision-row').filter({ hasText: 'wifi-changed' })
    await row.waitFor()
    const badge = row.locator('.badge', { hasText: /Untrusted signer|INVALID/ })
    assert.equal(await badge.innerText(), 'INVALID')
    assert.match((await badge.getAttribute('class')) ?? '', /badge-bad/)
    await openRevision(page, 'wifi-changed')
    const sigs = page.getByRole('table', { name: 'Signatures' })
    assert.equal(await sigs.locator('.badge').first().innerText(), 'INVALID')
    assert.match(await sigs.getByTestId('signature-verdict').first().innerText(), /^changed after signing: /)
    await screenshot(page, 'signature-invalid')
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
