/**
 * The library through the UI, in Debian's Chromium against `fieldsync ui`
 * with the real core: import fixtures by the file picker (upload), open a
 * revision, diff two, export to a folder; live updates; screenshots.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import type { Request } from 'playwright-core'
import { makeGateway, type Gateway } from './fixtures.js'
import { chromiumMissing, dropFile, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing() ?? (hasMksquashfs() ? null : 'mksquashfs not installed (squashfs-tools)')

describe('library screens in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
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
    // The technician trusts the Pantavisor Dev CA, which issued pvwificonnect's signing certificate.
    const trust = await runCli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], { home: join(work, 'home') })
    assert.equal(trust.code, 0, trust.stderr)
    ui = await startUi(join(work, 'home'))
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  it('opens on the empty library and hides the token from the address bar', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor()
    await page.getByText('The library is empty').waitFor()
    assert.ok(!page.url().includes(ui.token), 'token removed from the URL after reading it')
    await screenshot(page, 'library-empty')
  })

  it('imports two fixtures through the file picker and shows them live', async () => {
    const { page } = b
    await page
      .getByTestId('import-file-input')
      .setInputFiles([join(vendoredUpstreamDir, 'pvwificonnect.tgz'), join(vendoredUpstreamDir, 'watchdog_pinger.tar')])
    await page.getByTestId('revision-row').nth(1).waitFor({ timeout: 30_000 })
    const rows = page.getByTestId('revision-row')
    assert.equal(await rows.count(), 2)
    const text = await page.locator('table[aria-label="Revisions"]').innerText()
    assert.match(text, /pvwificonnect/)
    assert.match(text, /watchdog_pinger/)
    assert.match(text, /Complete/)
    // The CLI sees what the UI imported (same library).
    const ls = await runCli(['--json', 'ls'], { home: ui.home })
    assert.equal(ls.code, 0)
    assert.equal(ls.json().length, 2)
  })

  it('updates live when a revision sharing objects arrives from elsewhere', async () => {
    const { page } = b
    // The same state without its signature, as a bare state JSON: a new revision whose objects are all in the library already.
    const state = JSON.parse(execFileSync('tar', ['-xzOf', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), 'json'], { encoding: 'utf8' })) as Record<
      string,
      unknown
    >
    delete state['_sigs/pvwificonnect.json']
    const file = join(work, 'wifi-unsigned.json')
    await writeFile(file, JSON.stringify(state))
    const res = await page.evaluate(async path => {
      const token = (globalThis as any).sessionStorage.getItem('fieldsync.token') ?? ''
      const r = await fetch('/api/library.import', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-fieldsync-token': token },
        body: JSON.stringify({ path, name: 'wifi-unsigned' }),
      })
      return (await r.json()) as { ok: boolean }
    }, file)
    assert.equal(res.ok, true, JSON.stringify(res))
    await page.getByTestId('revision-row').nth(2).waitFor()
    await page.getByText('Saved by sharing objects').waitFor()
    const saved = await page.locator('.stat-accent dd').innerText()
    assert.doesNotMatch(saved, /^0 B/)
  })

  it('imports by drag and drop, and by the picker again: two gateway revisions that share most objects', async () => {
    const { page } = b
    await dropFile(page, '.drop-target', gw.v1, 'site-gateway-1.4.tgz')
    await page.getByRole('link', { name: 'site-gateway-1.4', exact: true }).waitFor({ timeout: 30_000 })
    await page.getByTestId('import-file-input').setInputFiles(gw.v2)
    await page.getByRole('link', { name: 'site-gateway-1.5', exact: true }).waitFor({ timeout: 30_000 })
    assert.equal(await page.getByTestId('revision-row').count(), 5)
    await screenshot(page, 'library')
  })

  it('shows a BSP and containers with the bytes picture, and diffs 1.4 -> 1.5', async () => {
    const { page } = b
    await page.getByRole('link', { name: 'site-gateway-1.5', exact: true }).click()
    await page.getByTestId('revision-title').waitFor()
    const parts = await page.locator('.parts').innerText()
    for (const p of ['BSP', 'awconnect', 'pv-avahi', 'fleet-agent', 'bsp/kernel.img']) assert.ok(parts.includes(p), `${p} shown`)
    assert.equal(await page.locator('.bytes-bar .seg').count(), 4)
    assert.ok((await page.locator('.bytes-bar .obj-shared').count()) >= 6, 'BSP and unchanged containers hatched as shared')
    const other = await page.locator('#diff-other option', { hasText: 'site-gateway-1.4' }).getAttribute('value')
    await page.locator('#diff-other').selectOption(other ?? '')
    await page.getByText('From site-gateway-1.4 to site-gateway-1.5').waitFor()
    const d = await page.getByTestId('diff-result').innerText()
    assert.match(d, /0 added, 0 removed, 2 changed/)
    assert.match(d, /fleet-agent\/root\.squashfs/)
    assert.match(d, /needs 1\.\d MiB in 2 objects/)
    await screenshot(page, 'revision-diff')
  })

  it('opens a revision: parts, objects, sizes, shared bytes', async () => {
    const { page } = b
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByRole('link', { name: 'pvwificonnect', exact: true }).click()
    await page.getByTestId('revision-title').waitFor()
    assert.equal(await page.getByTestId('revision-title').innerText(), 'pvwificonnect')
    await page.getByRole('heading', { name: 'Where the bytes are' }).waitFor()
    const parts = await page.locator('.parts').innerText()
    assert.match(parts, /pvwificonnect\/root\.squashfs/)
    assert.match(await page.locator('.facts').innerText(), /Shared with other revisions/)
    assert.match(await page.locator('.legend').innerText(), /shared/)
    const sigs = await page.locator('.sigs').innerText()
    assert.match(sigs, /pv-developer-01/)
    assert.match(sigs, /RS256/)
    assert.match(sigs, /_sigs\/pvwificonnect\.json/)
    await screenshot(page, 'revision')
  })

  it('diffs against another revision, both directions', async () => {
    const { page } = b
    const other = await page.locator('#diff-other option', { hasText: 'watchdog_pinger' }).getAttribute('value')
    await page.locator('#diff-other').selectOption(other ?? '')
    await page.getByTestId('diff-result').waitFor()
    const d = await page.getByTestId('diff-result').innerText()
    assert.match(d, /From watchdog_pinger to pvwificonnect/)
    assert.match(d, /Added/)
    assert.match(d, /Removed/)
    const needBytes = await page.getByTestId('diff-bytes').innerText()
    assert.match(needBytes, /MiB/)
    await page.getByRole('button', { name: /Swap direction/ }).click()
    await page.getByText('From pvwificonnect to watchdog_pinger').waitFor()
    // Against the revision that shares every object: nothing to send.
    const unsigned = await page.locator('#diff-other option', { hasText: 'wifi-unsigned' }).getAttribute('value')
    await page.locator('#diff-other').selectOption(unsigned ?? '')
    await page.getByText('From pvwificonnect to wifi-unsigned').waitFor()
    assert.equal(await page.getByTestId('diff-bytes').innerText(), '0 B')
  })

  it('exports to a folder through the dialog; the tarball is a pvr export', async () => {
    const { page } = b
    const out = join(work, 'stick')
    await mkdir(out)
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByRole('button', { name: 'Export watchdog_pinger' }).click()
    const dialog = page.getByRole('dialog', { name: 'Export watchdog_pinger' })
    await dialog.locator('#export-folder').fill(out)
    await screenshot(page, 'export-dialog')
    await dialog.getByRole('button', { name: 'Export', exact: true }).click()
    await page.getByText('Exported watchdog_pinger').waitFor({ timeout: 30_000 })
    const files = await readdir(out)
    assert.deepEqual(files, ['watchdog_pinger.tgz'])
    const tar = gunzipSync(await readFile(join(out, files[0])))
    assert.equal(tar.subarray(0, 4).toString(), 'json', 'json is the first entry')
    // It imports back into a fresh library as the same revision.
    const id = (await runCli(['--json', 'show', 'watchdog_pinger'], { home: ui.home })).json().revision.id
    const again = await runCli(['--json', 'import', join(out, files[0])], { home: join(work, 'other-home') })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json().id, id)
  })

  it('shows every transfer with its outcome', async () => {
    const { page } = b
    await page.getByRole('link', { name: /^Transfers/ }).click()
    await page.getByRole('heading', { name: 'Finished' }).waitFor()
    const kinds = await page.getByTestId('transfer').evaluateAll(els => els.map(e => `${e.getAttribute('data-kind')}:${e.getAttribute('data-state')}`))
    assert.ok(kinds.includes('upload:done'), kinds.join(','))
    assert.ok(kinds.includes('import:done'), kinds.join(','))
    assert.ok(kinds.includes('export:done'), kinds.join(','))
    await screenshot(page, 'transfers')
  })

  it('imports a file chosen in the folder picker: a bare state JSON whose objects are elsewhere is incomplete', async () => {
    const { page } = b
    // The start folder's listing is held back until the folder the user typed
    // is shown, as on a busy machine: its late answer must not replace it.
    let release = (): void => {}
    const held = new Promise<void>(resolve => {
      release = resolve
    })
    let startListing: Request | undefined
    await page.route('**/api/fs.list', async route => {
      if (startListing === undefined) {
        startListing = route.request()
        await held
      }
      await route.continue()
    })
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByRole('button', { name: 'Import from folder…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Import from this computer' })
    await dialog.locator('#picker-path').fill(vendoredUpstreamDir)
    await dialog.getByRole('button', { name: 'Go' }).click()
    await dialog.getByRole('option', { name: /initial_state\.json/ }).waitFor()
    release()
    await (startListing as Request).response()
    await page.unroute('**/api/fs.list')
    assert.equal(await dialog.locator('#picker-path').inputValue(), vendoredUpstreamDir)
    await dialog.getByRole('option', { name: /initial_state\.json/ }).click()
    await screenshot(page, 'folder-picker')
    await dialog.getByRole('button', { name: 'Import file' }).click()
    const row = page.locator('[data-testid="revision-row"]', { hasText: 'initial_state' })
    await row.waitFor({ timeout: 30_000 })
    assert.match(await row.innerText(), /Incomplete · \d+ missing/)
    // One way to count bytes: every revision's size reads the same here and in `fieldsync ls` (issue #17, item 12).
    const ls = (await runCli(['ls'], { home: ui.home })).stdout
      .split('\n')
      .slice(1)
      .filter(l => l.trim() !== '')
    const rows = page.getByTestId('revision-row')
    assert.equal(await rows.count(), ls.length)
    for (let i = 0; i < ls.length; i++) {
      const [, name, size] = ls[i].split(/\s{2,}/)
      const ui = rows.filter({ hasText: name })
      assert.equal(await ui.first().getByTestId('revision-size').innerText(), size, `${name}: the app and the CLI agree on its size`)
    }
    assert.equal(await row.getByTestId('revision-size').innerText(), 'unknown')
  })

  it('shows a typed error with what to do when an import fails', async () => {
    const { page } = b
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page
      .getByTestId('import-file-input')
      .setInputFiles({ name: 'broken.tgz', mimeType: 'application/gzip', buffer: Buffer.from('this is not a tarball at all') })
    const toast = page.locator('.toast-bad')
    await toast.waitFor()
    assert.match(await toast.innerText(), /Import of broken\.tgz failed/)
    await screenshot(page, 'import-error', { keepToasts: true })
    await toast.getByRole('button', { name: 'Dismiss' }).click()
  })

  it('a tarball cut short is told as cut short, named as the user named it, with the one thing to do', async () => {
    const { page } = b
    const whole = await readFile(join(vendoredUpstreamDir, 'pvwificonnect.tgz'))
    await page
      .getByTestId('import-file-input')
      .setInputFiles({ name: 'wifi-cut.tgz', mimeType: 'application/gzip', buffer: whole.subarray(0, Math.floor(whole.length / 2)) })
    const toast = page.locator('.toast-bad', { hasText: 'wifi-cut.tgz' })
    await toast.waitFor()
    const text = await toast.innerText()
    assert.match(text, /wifi-cut\.tgz: the file ends too soon: it was cut short/)
    assert.match(text, /copy it again from where it came from/)
    assert.doesNotMatch(text, /uploads\/|Choose a pvr export tarball/, "neither the server's temporary file nor advice to choose what it already is")
    await toast.getByRole('button', { name: 'Dismiss' }).click()
  })

  it('renders in the dark theme and in high contrast', async () => {
    const { page } = b
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.getByRole('link', { name: 'site-gateway-1.5', exact: true }).click()
    await page.getByTestId('revision-title').waitFor()
    await screenshot(page, 'revision-dark')
    await page.locator('#theme').selectOption('contrast')
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByTestId('revision-row').first().waitFor()
    await screenshot(page, 'library-contrast')
    await page.locator('#theme').selectOption('auto')
    await page.emulateMedia({ colorScheme: 'light' })
  })

  it('raised no page errors and no CSP violations', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource.*(400|404|409)/.test(e)),
      [],
    )
  })
})
