/**
 * Toasts (issue #17 item 9): error toasts no longer pile up over the
 * content. At most three show, the rest collapse into "+N more" (which shows
 * them all, and "Dismiss all"); a toast about the same thing replaces the
 * older one, so an import that fails and then succeeds leaves only the
 * success, which leaves by itself.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()

describe('toasts in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    ui = await startUi(join(work, 'home'))
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  it('five failed imports: three toasts show, the other two collapse into "+2 more"', async () => {
    const { page } = b
    await page.goto(ui.url)
    const input = page.getByTestId('import-file-input')
    await input.waitFor({ state: 'attached' })
    for (let i = 1; i <= 5; i++) {
      await input.setInputFiles({ name: `broken-${i}.tgz`, mimeType: 'application/gzip', buffer: Buffer.from(`not a tarball ${i}`) })
      await page.locator('.toast-bad', { hasText: `Import of broken-${i}.tgz failed` }).waitFor()
    }
    assert.equal(await page.locator('.toast').count(), 3, 'three toasts show')
    const more = page.locator('.toasts').getByRole('button', { name: '+2 more' })
    await more.waitFor()
    // The newest show; the oldest are the ones collapsed.
    assert.equal(await page.locator('.toast', { hasText: 'broken-1.tgz' }).count(), 0)
    await page.locator('.toast', { hasText: 'broken-5.tgz' }).waitFor()
    await screenshot(page, 'toasts-collapsed', { keepToasts: true })
    await more.click()
    assert.equal(await page.locator('.toast').count(), 5)
    await page.locator('.toasts').getByRole('button', { name: 'Dismiss all' }).click()
    await page.locator('.toast').first().waitFor({ state: 'detached' })
    assert.equal(await page.locator('.toasts').getByRole('button').count(), 0)
  })

  it('an import that failed and then succeeds (the same file name) leaves the success only, which times out', async () => {
    const { page } = b
    const input = page.getByTestId('import-file-input')
    await input.setInputFiles({ name: 'wifi.tgz', mimeType: 'application/gzip', buffer: Buffer.from('cut off') })
    await page.locator('.toast-bad', { hasText: 'Import of wifi.tgz failed' }).waitFor()
    await input.setInputFiles({ name: 'wifi.tgz', mimeType: 'application/gzip', buffer: await readFile(join(vendoredUpstreamDir, 'pvwificonnect.tgz')) })
    await page.locator('.toast-ok', { hasText: 'Imported' }).waitFor({ timeout: 30_000 })
    assert.equal(await page.locator('.toast-bad').count(), 0, 'the error about wifi.tgz went once it imported')
    // Info and ok toasts leave by themselves (errors stay until dismissed or resolved).
    await page.locator('.toast-ok').waitFor({ state: 'detached', timeout: 15_000 })
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
