/**
 * USB through the UI: write revisions onto a "stick" folder (tarballs,
 * install.sh, manifest), and read a stick another laptop wrote (every object
 * verified on the way in); the library updates live.
 */
import assert from 'node:assert/strict'
import { mkdir, readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fatStick } from '../main/usb/helpers.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

async function isMounted(point: string): Promise<boolean> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some(l => l.split(' ')[4] === point)
}

describe('USB screen in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
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
    const mine = join(work, 'mine')
    for (const [f, n] of [
      ['pvwificonnect.tgz', 'pvwificonnect'],
      ['watchdog_pinger.tar', 'watchdog_pinger'],
    ]) {
      const r = await runCli(['import', join(vendoredUpstreamDir, f), '--name', n], { home: mine })
      assert.equal(r.code, 0, r.stderr)
    }
    // Trust the Pantavisor Dev CA (pvwificonnect is signed by a certificate it issued): the export checks signatures.
    const trust = await runCli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], { home: mine })
    assert.equal(trust.code, 0, trust.stderr)
    // Another laptop writes a stick with a revision this one lacks.
    const other = join(work, 'other')
    const state = join(work, 'wifi-unsigned.json')
    const { execFileSync } = await import('node:child_process')
    const json = JSON.parse(execFileSync('tar', ['-xzOf', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), 'json'], { encoding: 'utf8' })) as Record<
      string,
      unknown
    >
    delete json['_sigs/pvwificonnect.json']
    const { writeFile } = await import('node:fs/promises')
    await writeFile(state, JSON.stringify(json))
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz')], { home: other })).code, 0)
    assert.equal((await runCli(['import', state, '--name', 'wifi-unsigned'], { home: other })).code, 0)
    await mkdir(join(work, 'stick-in'))
    const w = await runCli(['usb', 'export', 'wifi-unsigned', join(work, 'stick-in')], { home: other })
    assert.equal(w.code, 0, w.stderr)
    await mkdir(join(work, 'stick-out'))
    ui = await startUi(mine)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  it('writes chosen revisions to a stick folder, read back and verified', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByRole('link', { name: /^USB/ }).click()
    await page.getByRole('heading', { name: 'Write to a stick' }).waitFor()
    await page.getByRole('checkbox', { name: /pvwificonnect/ }).check()
    await page.getByRole('checkbox', { name: /watchdog_pinger/ }).check()
    await page.locator('#usb-folder').fill(join(work, 'stick-out'))
    await page.getByRole('button', { name: /^Write 2 revisions/ }).click()
    const result = page.getByTestId('usb-export-result')
    await result.or(page.locator('.alert-bad')).first().waitFor({ timeout: 60_000 })
    assert.equal(
      await page.locator('.alert-bad').count(),
      0,
      await page
        .locator('.alert-bad')
        .allInnerTexts()
        .then(t => t.join('\n')),
    )
    assert.match(await result.innerText(), /install\.sh pvwificonnect|install\.sh watchdog_pinger/)
    // Synced to the medium before it says so (item 11); eject is a separate action.
    assert.match(await page.getByTestId('usb-removal').innerText(), /Safe to remove/)
    // A folder on the laptop's own disk: Eject says there is nothing to eject (and unmounts nothing).
    await page.getByRole('button', { name: 'Eject', exact: true }).click()
    const said = page.getByTestId('usb-eject-result')
    await said.waitFor()
    assert.equal(await said.getAttribute('data-ejected'), 'false')
    assert.match(await said.innerText(), /nothing to eject/)
    const files = await readdir(join(work, 'stick-out'))
    for (const f of ['install.sh', 'README.txt', 'pvwificonnect.pvrexport.tgz', 'watchdog_pinger.pvrexport.tgz'])
      assert.ok(files.includes(f), `${f} on the stick (${files.join(', ')})`)
    const verify = await runCli(['usb', 'verify', join(work, 'stick-out')], { home: ui.home })
    assert.equal(verify.code, 0, verify.stdout + verify.stderr)
    await screenshot(page, 'usb-write')
    // Written again: the stick already holds the same bytes, so nothing is rewritten.
    await page.getByRole('button', { name: /^Write 2 revisions/ }).click()
    await result.getByText(/already holds these 2 revisions with the same bytes \(hashed\): nothing written/).waitFor({ timeout: 60_000 })
    assert.match(await result.innerText(), /already there \(hashed\)/)
    await screenshot(page, 'usb-write-again')
    // The finished transfer cards say what each write did.
    await page.getByRole('link', { name: /^Transfers/ }).click()
    await page.getByText('2 already on the stick (hashed)').first().waitFor()
    await page.getByText('2 written and read back').first().waitFor()
    await page.getByRole('link', { name: /^USB/ }).click()
    await page.getByRole('heading', { name: 'Read a stick' }).waitFor()
  })

  it('after writing to a FAT32 stick: "Safe to remove", then Eject unmounts it', async t => {
    const stick = await fatStick(t, 48)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    const { page } = b
    await page.reload()
    await page.getByRole('heading', { name: 'Write to a stick' }).waitFor()
    await page.getByRole('checkbox', { name: /watchdog_pinger/ }).check()
    await page.locator('#usb-folder').fill(stick.dir)
    await page.getByRole('button', { name: /^Write 1 revision/ }).click()
    const removal = page.getByTestId('usb-removal')
    await removal.or(page.locator('.alert-bad')).first().waitFor({ timeout: 60_000 })
    assert.match(await removal.innerText(), /Safe to remove/)
    assert.equal(await isMounted(stick.dir), true, 'writing does not eject: the technician may write more')
    await page.getByRole('button', { name: 'Eject', exact: true }).click()
    const said = page.getByTestId('usb-eject-result')
    await said.waitFor({ timeout: 30_000 })
    assert.equal(await said.getAttribute('data-ejected'), 'true', await said.innerText())
    assert.match(await said.innerText(), /Ejected/)
    assert.equal(await isMounted(stick.dir), false, 'the stick is unmounted')
    await screenshot(page, 'usb-ejected')
  })

  it('reads a stick another laptop wrote: the new revision arrives complete', async () => {
    const { page } = b
    await page.locator('#usb-import').fill(join(work, 'stick-in'))
    await page.getByRole('button', { name: 'Import from stick' }).click()
    const result = page.getByTestId('usb-import-result')
    await result.waitFor({ timeout: 60_000 })
    const text = await result.innerText()
    assert.match(text, /wifi-unsigned/)
    assert.match(text, /imported|existed/)
    await screenshot(page, 'usb-read')
    await page.getByRole('link', { name: /^Transfers/ }).click()
    await page
      .getByText(/1 (imported|already here) · \d+ new object\(s\)/)
      .first()
      .waitFor()
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByRole('link', { name: 'wifi-unsigned', exact: true }).waitFor()
  })

  it('shows a typed error for a folder that is not a stick', async () => {
    const { page } = b
    await page.getByRole('link', { name: /^USB/ }).click()
    await page.locator('#usb-import').fill(work)
    await page.getByRole('button', { name: 'Import from stick' }).click()
    const alert = page.locator('.alert-bad')
    await alert.waitFor()
    assert.ok((await alert.getAttribute('data-code'))?.startsWith('E_'))
  })

  it('a path typed into the folder picker before its first listing arrives is what the field keeps', async () => {
    const { page } = b
    // The start folder's listing is held back until the user has typed, as
    // on a busy machine; its late answer must not replace what was typed.
    let release = (): void => {}
    const held = new Promise<void>(resolve => {
      release = resolve
    })
    let holding = true
    await page.route('**/api/fs.list', async route => {
      if (holding) {
        holding = false
        await held
      }
      await route.continue()
    })
    const first = page.waitForRequest(r => r.url().endsWith('/api/fs.list'))
    await page.locator('#usb-import').fill(work)
    await page
      .locator('.field', { has: page.locator('#usb-import') })
      .getByRole('button', { name: 'Choose…' })
      .click()
    const dialog = page.getByRole('dialog', { name: 'Stick or folder' })
    const request = await first
    const typed = join(work, 'stick-in')
    await dialog.locator('#picker-path').fill(typed)
    release()
    await request.response()
    await page.unroute('**/api/fs.list')
    // The start folder's listing has arrived and is shown…
    await dialog.locator('.picker-chosen', { hasText: new RegExp(`^${reEscape(work)}$`) }).waitFor()
    await dialog.getByRole('option', { name: 'stick-in', exact: true }).waitFor()
    // …and the field still says what the user typed.
    assert.equal(await dialog.locator('#picker-path').inputValue(), typed)
    await screenshot(page, 'folder-picker-typed-kept')
    await dialog.getByRole('button', { name: 'Go' }).click()
    await dialog.locator('.picker-chosen', { hasText: new RegExp(`^${reEscape(typed)}$`) }).waitFor()
    await dialog.getByRole('button', { name: 'Choose this folder' }).click()
    await dialog.waitFor({ state: 'hidden' })
    assert.equal(await page.locator('#usb-import').inputValue(), typed)
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
