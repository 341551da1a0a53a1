/**
 * Issue #18 "Large lists stay fast", in Chromium: a site of 200 devices and
 * a library of 500 revisions. The records are written before the UI starts
 * (the devices table through the device store, as discovery writes it; the
 * revisions imported through the library's importer, each a small state
 * JSON on shared objects), then the Devices and Library screens must stay
 * one screen: pages of 50, search and filters narrow at once. Each
 * narrowing is timed (printed as a diagnostic) and screenshots are kept.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import type { Page } from 'playwright-core'
import { App } from '../../main/app/index.js'
import { DeviceStore } from '../../main/devices/store.js'
import { silentLogger } from '../../shared/log.js'
import { buildState, type TestObject } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()
const KINDS = ['press', 'oven', 'scanner', 'gateway']
const PRODUCTS = ['gateway', 'press', 'oven', 'scanner', 'camera']
const DEVICES = 200
const REVISIONS = 500
/** A list that narrows later than this would be a visible pause (generous: the machine is small and shared). */
const SNAPPY_MS = 2000

/** 200 devices as discovery records them: a nick each (press-000 ...), an address, two halls by tag. */
function writeDevices(app: App): void {
  const store = new DeviceStore(app.library.db)
  for (let i = 0; i < DEVICES; i++) {
    const deviceId = createHash('sha256').update(`device ${i}`).digest('hex').slice(0, 24)
    store.upsert({
      deviceId,
      name: `${KINDS[i % KINDS.length]}-${String(i).padStart(3, '0')}`,
      addrs: [`10.3.${Math.floor(i / 100)}.${(i % 100) + 10}`],
      port: 12368,
      claimed: true,
      pvrSdk: true,
      revision: '0',
      status: 'READY',
      source: 'mdns',
    })
    store.tag(deviceId, [i < 120 ? 'hall-a' : 'hall-b'])
  }
}

/** An object in the pool folder, named by its sha256, as an objects/ folder holds it. */
async function object(objects: string, key: string, content: string): Promise<TestObject> {
  const sha = createHash('sha256').update(content).digest('hex')
  const path = join(objects, sha)
  await writeFile(path, content)
  return { key, path, sha, size: Buffer.byteLength(content) }
}

/** 500 revisions: five products of 100 builds, each its own container config on a shared BSP and rootfs. */
async function importRevisions(app: App, dir: string): Promise<void> {
  const objects = join(dir, 'objects')
  await mkdir(objects, { recursive: true })
  const kernel = await object(objects, 'bsp/kernel.img', 'kernel 5.10\n')
  const initrd = await object(objects, 'bsp/pantavisor', 'pantavisor 019\n')
  const root = await object(objects, 'root.squashfs', 'a rootfs\n')
  for (let i = 0; i < REVISIONS; i++) {
    const product = PRODUCTS[i % PRODUCTS.length]
    const version = `1.${Math.floor(i / PRODUCTS.length)}`
    const config = await object(objects, 'lxc.container.conf', `lxc.uts.name = ${product}\n# ${version}\n`)
    const file = join(dir, `${product}-${version}.json`)
    await writeFile(file, JSON.stringify(buildState({ kernel, initrd, containers: [{ name: product, root, config }] })))
    await app.importer.importPath(file, { name: `${product}-${version}`, objectsDir: objects })
  }
}

/** Type into a search box and wait for the pager to say `count`: how long the list took to narrow. */
async function narrow(page: Page, box: string, text: string, count: RegExp): Promise<number> {
  const t0 = Date.now()
  await page.getByLabel(box, { exact: true }).fill(text)
  await page.getByTestId('pager-count').filter({ hasText: count }).waitFor()
  return Date.now() - t0
}

describe('a site of 200 devices and a library of 500 revisions stay one screen', { skip: skip ?? false, timeout: 240_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    const home = join(work, 'home')
    const app = new App({ home, log: silentLogger() })
    await app.start()
    try {
      writeDevices(app)
      await importRevisions(app, join(work, 'src'))
    } finally {
      await app.stop()
    }
    ui = await startUi(home)
    b = await openBrowser()
    await b.page.goto(ui.url)
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups.reverse()) await c()
  })

  it('the Devices screen shows 200 devices 50 at a time; search and the tag filter narrow them at once', async (t: TestContext) => {
    const { page } = b
    const t0 = Date.now()
    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    await page
      .getByTestId('pager-count')
      .filter({ hasText: /^1–50 of 200 devices$/ })
      .waitFor()
    t.diagnostic(`Devices screen with 200 devices: ${Date.now() - t0} ms to its first page`)
    assert.equal(await page.getByTestId('device-row').count(), 50, 'one page of 50 rows, not 200')
    await screenshot(page, 'fleet-devices-200')

    await page.getByRole('button', { name: 'Next page' }).first().click()
    await page
      .getByTestId('pager-count')
      .filter({ hasText: /^51–100 of 200 devices$/ })
      .waitFor()
    assert.match(await page.getByTestId('device-row').first().innerText(), /\S/)

    const ms = await narrow(page, 'Search devices', 'oven', /^1–50 of 50 devices$/)
    assert.equal(await page.getByTestId('device-row').count(), 50)
    for (const n of await page.locator('[data-testid="device-row"] td:nth-child(2) a').allInnerTexts()) assert.match(n, /^oven-/)
    const one = await narrow(page, 'Search devices', 'oven-013', /^1–1 of 1 devices$/)
    assert.match(await page.getByTestId('device-row').innerText(), /oven-013/)
    t.diagnostic(`search narrowed 200 devices to 50 in ${ms} ms, to one in ${one} ms`)
    assert.ok(Math.max(ms, one) < SNAPPY_MS, `the search narrowed within ${SNAPPY_MS} ms (${ms}, ${one} ms)`)

    await page.getByLabel('Search devices', { exact: true }).fill('')
    await page
      .getByTestId('pager-count')
      .filter({ hasText: /of 200 devices$/ })
      .waitFor()
    const t1 = Date.now()
    await page.locator('#device-tag-filter').selectOption('hall-b')
    await page
      .getByTestId('pager-count')
      .filter({ hasText: /^1–50 of 80 devices$/ })
      .waitFor()
    t.diagnostic(`the tag filter narrowed 200 devices to 80 in ${Date.now() - t1} ms`)
    await page.getByLabel('Search devices', { exact: true }).fill('press')
    await page
      .getByTestId('pager-count')
      .filter({ hasText: /^1–20 of 20 devices$/ })
      .waitFor()
    assert.equal(await page.getByTestId('device-row').count(), 20, 'search and tag together: the presses of hall B')
    await screenshot(page, 'fleet-devices-200-filtered')
  })

  it('the Library shows 500 revisions 50 at a time; search narrows them at once', async (t: TestContext) => {
    const { page } = b
    const t0 = Date.now()
    await page
      .getByRole('link', { name: /^Library/ })
      .first()
      .click()
    await page
      .getByTestId('pager-count')
      .filter({ hasText: /^1–50 of 500 revisions$/ })
      .waitFor()
    t.diagnostic(`Library with 500 revisions: ${Date.now() - t0} ms to its first page`)
    assert.equal(await page.getByTestId('revision-row').count(), 50, 'one page of 50 rows, not 500')
    await screenshot(page, 'library-500')

    const ms = await narrow(page, 'Search revisions', 'oven', /^1–50 of 100 revisions$/)
    const one = await narrow(page, 'Search revisions', 'oven-1.42', /^1–1 of 1 revisions$/)
    assert.match(await page.getByTestId('revision-row').innerText(), /oven-1\.42/)
    t.diagnostic(`search narrowed 500 revisions to 100 in ${ms} ms, to one in ${one} ms`)
    assert.ok(Math.max(ms, one) < SNAPPY_MS, `the search narrowed within ${SNAPPY_MS} ms (${ms}, ${one} ms)`)
    await screenshot(page, 'library-500-search')
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource.*404/.test(e)),
      [],
      "no page errors (the browser's favicon request is a 404)",
    )
  })
})
