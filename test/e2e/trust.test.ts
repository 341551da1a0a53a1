/**
 * The Trust screen (issue #17 item 15): from an "Untrusted signer" to a
 * trusted CA without a terminal. The signature panel's "trust its CA" leads
 * there; a PEM file is added by upload (browser mode); the entry shows its
 * subject, fingerprint, validity and the revisions it verifies; the policy
 * is set with what each mode means; removing it brings the amber badge back.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()
const DEV_CA_FP = 'b25226a11cfda558b7fcc9da7ff9f24faa867667f7fe0f5f03c500a3ad8cfeff'

describe('trust screen in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let work: string
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    const home = join(work, 'home')
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'wifi'], { home })).code, 0)
    ui = await startUi(home)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  it('an untrusted signer links to the Trust screen, which says nothing is trusted yet', async () => {
    const { page } = b
    await page.goto(ui.url)
    const row = page.getByTestId('revision-row').filter({ hasText: 'wifi' })
    await row.getByText('Untrusted signer').waitFor()
    await page.getByRole('link', { name: 'wifi', exact: true }).click()
    await page.getByTestId('revision-title').waitFor()
    await page.getByRole('table', { name: 'Signatures' }).getByRole('link', { name: 'Trust its CA…' }).click()
    await page.getByRole('heading', { name: 'Trust', level: 1 }).waitFor()
    assert.match(page.url(), /#\/trust$/)
    await page.getByText('Nothing is trusted yet').waitFor()
    assert.equal(await page.getByRole('radio', { name: /^lenient/ }).isChecked(), true, 'the default policy is lenient')
    await screenshot(page, 'trust-empty')
  })

  it('adds a CA from a PEM file (uploaded): subject, fingerprint, validity and the revision it verifies', async () => {
    const { page } = b
    await page.getByTestId('trust-file-input').setInputFiles(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'))
    const entry = page.locator(`[data-testid="trust-entry"][data-fingerprint="${DEV_CA_FP}"]`)
    await entry.waitFor({ timeout: 20_000 })
    const text = await entry.innerText()
    assert.match(text, /Pantavisor Dev CA/)
    assert.match(text, /b25226a11cfda558/)
    assert.match(text, /until \d{4}-\d\d-\d\d|expired \d{4}/)
    await entry.getByTestId('trust-verifies').getByRole('link', { name: 'wifi' }).waitFor({ timeout: 20_000 })
    await screenshot(page, 'trust')
    // The CLI sees the same store, and the library's badge turned.
    const ls = await runCli(['--json', 'trust', 'ls'], { home: ui.home })
    assert.deepEqual(
      ls.json().entries.map((e: { fingerprint: string }) => e.fingerprint),
      [DEV_CA_FP],
    )
    await page
      .getByRole('link', { name: /^Library/ })
      .first()
      .click()
    await page
      .getByTestId('revision-row')
      .filter({ hasText: 'wifi' })
      .locator('.badge', { hasText: /^Signed/ })
      .waitFor({ timeout: 20_000 })
  })

  it('sets the signature policy, saying what each mode means', async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Trust/ })
      .first()
      .click()
    const strict = page.getByRole('radio', { name: /^strict/ })
    assert.match(await page.locator('label', { has: strict }).innerText(), /unsigned revisions are refused/)
    // A controlled radio: it turns once the core has the new policy.
    await strict.click()
    await page.getByText('Signature policy: strict').waitFor()
    await page.locator('#policy .badge', { hasText: 'strict' }).waitFor()
    assert.equal(await strict.isChecked(), true)
    const r = await runCli(['--json', 'trust', 'policy'], { home: ui.home })
    assert.equal(r.json().policy, 'strict')
    await page.getByRole('radio', { name: /^lenient/ }).click()
    await page.getByText('Signature policy: lenient').waitFor()
    await page.locator('#policy .badge', { hasText: 'lenient' }).waitFor()
  })

  it("refuses a file that is not a certificate, naming the user's file", async () => {
    const { page } = b
    const junk = join(work, 'not-a-cert.pem')
    await writeFile(junk, 'hello\n')
    await page.getByTestId('trust-file-input').setInputFiles(junk)
    const box = page.locator('.alert[data-code="E_BAD_INPUT"]')
    await box.waitFor()
    const msg = await box.innerText()
    assert.match(msg, /not-a-cert\.pem/)
    assert.doesNotMatch(msg, /uploads/, "not the server's temporary copy")
  })

  it('removes it after saying which revisions rest on it; the amber badge is back', async () => {
    const { page } = b
    await page.getByRole('button', { name: 'Remove CN=Pantavisor Dev CA' }).click()
    const dialog = page.getByRole('dialog', { name: 'Remove from the trust store' })
    assert.match(await dialog.innerText(), /1 revision in the library rests on it \(wifi\)/)
    await screenshot(page, 'trust-remove')
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click()
    await page.getByText('Nothing is trusted yet').waitFor()
    assert.deepEqual((await runCli(['--json', 'trust', 'ls'], { home: ui.home })).json().entries, [])
    await page
      .getByRole('link', { name: /^Library/ })
      .first()
      .click()
    await page.getByTestId('revision-row').filter({ hasText: 'wifi' }).getByText('Untrusted signer').waitFor({ timeout: 20_000 })
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
