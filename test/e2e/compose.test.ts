/**
 * The revision page's "Add package…" and "Remove part…" in Debian's
 * Chromium against `fieldsync ui` (the real core): a signed package added
 * from a file onto a gateway revision, the diff and the signature verdict
 * shown before saving, a package that breaks a signature named as the
 * device would refuse it, a part removed. Screenshots kept.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { pvtxDataDir, vendoredUpstreamDir } from '../helpers/paths.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { makeGateway, type Gateway } from './fixtures.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing() ?? (hasMksquashfs() ? null : 'mksquashfs not installed (squashfs-tools)')
const WIFI = join(pvtxDataDir, 'resources', 'pvwificonnect.tgz')

describe('composing revisions in browser mode', { skip: skip ?? false, timeout: 180_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let work: string
  let gw: Gateway
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    gw = await makeGateway(join(work, 'gen'))
    const home = join(work, 'home')
    assert.equal((await runCli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], { home })).code, 0)
    assert.equal((await runCli(['import', gw.v1], { home })).code, 0)
    ui = await startUi(home)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  it('Add package… from a file: parts, keys, bytes and the verdict before saving; saved as a new revision', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByRole('link', { name: 'site-gateway-1.4', exact: true }).click()
    await page.getByTestId('revision-title').waitFor()
    await page.getByTestId('add-package').click()
    const dialog = page.getByRole('dialog', { name: 'Add a package to site-gateway-1.4' })
    await dialog.waitFor()
    await dialog.getByTestId('compose-file-input').setInputFiles(WIFI)
    const preview = dialog.getByTestId('compose-preview')
    await preview.waitFor({ timeout: 30_000 })
    const text = await preview.innerText()
    assert.match(text, /Parts added\s*pvwificonnect/)
    assert.match(text, /6 keys added, 0 replaced, 0 removed/)
    assert.match(await dialog.getByTestId('compose-bytes').innerText(), /^3\.4 MiB$/)
    const verdict = await dialog.getByTestId('compose-verdict').innerText()
    assert.match(verdict, /passes “lenient”/)
    assert.match(verdict, /signed by pv-developer-01 \(Pantavisor Dev CA\)/)
    assert.match(text, /\+\s*_sigs\/pvwificonnect\.json/)
    assert.equal(await dialog.getByLabel('Name of the new revision').inputValue(), 'site-gateway-1.4+pvwificonnect')
    await screenshot(page, 'compose-add-package')
    await dialog.getByTestId('compose-save').click()
    await page.waitForFunction(
      n => (globalThis as any).document.querySelector('[data-testid="revision-title"]')?.textContent === n,
      'site-gateway-1.4+pvwificonnect',
      { timeout: 15_000 },
    )
    const show = await runCli(['--json', 'show', 'site-gateway-1.4+pvwificonnect'], { home: ui.home })
    assert.equal(show.code, 0, show.stderr)
    const s = show.json()
    assert.deepEqual(
      s.parts
        .filter((p: { kind: string }) => p.kind === 'container')
        .map((c: { name: string }) => c.name)
        .sort(),
      ['awconnect', 'fleet-agent', 'pv-avahi', 'pvwificonnect'],
    )
    assert.equal(s.revision.complete, true)
    assert.match(s.revision.signature.summary, /signed by pv-developer-01/)
    await screenshot(page, 'compose-saved')
  })

  it('a package that changes what a signature covers: refused as the device would, the signature named', async () => {
    const { page } = b
    const override = join(work, 'wifi-override.json')
    await writeFile(override, JSON.stringify({ '#spec': 'pantavisor-service-system@1', 'pvwificonnect/lxc.container.conf': 'c'.repeat(64) }))
    await page.getByTestId('add-package').click()
    const dialog = page.getByRole('dialog', { name: 'Add a package to site-gateway-1.4+pvwificonnect' })
    await dialog.getByTestId('compose-file-input').setInputFiles(override)
    await dialog.getByTestId('compose-broken').waitFor({ timeout: 30_000 })
    const verdict = await dialog.getByTestId('compose-verdict').innerText()
    assert.match(verdict, /refused by “lenient”/)
    assert.match(verdict, /422 "Secureboot: Signature validation failed"/)
    assert.match(await dialog.getByTestId('compose-broken').innerText(), /_sigs\/pvwificonnect\.json: no longer covers what the state holds/)
    assert.match(await dialog.getByTestId('compose-preview').innerText(), /Parts replaced\s*pvwificonnect/)
    await screenshot(page, 'compose-broken-signature')
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'hidden' })
  })

  it('Remove part…: picks a part of the revision, shows what goes, saves', async () => {
    const { page } = b
    await page.getByTestId('remove-part').click()
    const dialog = page.getByRole('dialog', { name: 'Remove a part from site-gateway-1.4+pvwificonnect' })
    await dialog.getByLabel('Part').selectOption('fleet-agent')
    const preview = dialog.getByTestId('compose-preview')
    await preview.waitFor({ timeout: 30_000 })
    assert.match(await preview.innerText(), /Parts removed\s*fleet-agent/)
    assert.match(await preview.innerText(), /−\s*fleet-agent\/root\.squashfs/)
    assert.match(await dialog.getByTestId('compose-bytes').innerText(), /^0 B$/)
    await screenshot(page, 'compose-remove-part')
    await dialog.getByTestId('compose-save').click()
    await page
      .waitForFunction(
        n => (globalThis as any).document.querySelector('[data-testid="revision-title"]')?.textContent === n,
        'site-gateway-1.4+pvwificonnect-no-fleet-agent',
        { timeout: 15_000 },
      )
      .catch(async () => {
        throw new Error(`not on the new revision: ${await page.getByTestId('revision-title').innerText()}`)
      })
    const ls = (await runCli(['--json', 'ls'], { home: ui.home })).json() as Array<{ name: string }>
    assert.ok(ls.some(r => r.name === 'site-gateway-1.4+pvwificonnect-no-fleet-agent'))
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource.*404/.test(e)),
      [],
      "no page errors (the browser's favicon request is a 404)",
    )
  })
})
