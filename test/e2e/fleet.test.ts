/**
 * Issue #18 "In the app", in Chromium, against three simulated devices:
 * the Devices table tells them apart and finds one by search; a selection
 * is tagged in one go and handed to the Rollout screen; the rollout's plan
 * and its run show a row per device, canary first, to DONE, and the
 * report saved from the screen is the customer's page; a device's page
 * says which library revision it now runs, and an alias given there is
 * what the table shows and searches.
 */
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromiumMissing, screenshot, type BrowserSession } from './helpers.js'
import { startSite, type Site } from './site.js'

const skip = chromiumMissing()

describe("a site's fleet in browser mode", { skip: skip ?? false, timeout: 180_000 }, () => {
  let site: Site
  let b: BrowserSession
  let work: string
  const ids: Record<string, string> = {}
  const NAMES = ['press-1', 'press-2', 'oven-1']

  before(async () => {
    site = await startSite({ names: NAMES, simArgs: ['--fast', '--outcome', 'done'] })
    ;({ b, work } = site)
    for (const [i, name] of NAMES.entries()) {
      ids[name] = site.ids[i]
      // Added by address, a device tells its address and port (pvr-sdk has no name to give): the technician names it.
      assert.equal(site.addedNames[i], site.sims[i].http.replace(/^http:\/\//, ''))
    }
    await b.page.goto(site.ui.url)
  })
  after(async () => {
    await site?.close()
  })

  it('the Devices table tells the devices apart, searches, and tags a selection', async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    const rows = page.getByTestId('device-row')
    await rows.nth(2).waitFor()
    assert.equal(await rows.count(), 3)
    const names = await rows.locator('td:nth-child(2) a').allInnerTexts()
    assert.deepEqual(names.sort(), ['oven-1', 'press-1', 'press-2'], 'each row is named by its alias')

    await page.getByLabel('Search devices').fill('press')
    await page.waitForFunction('document.querySelectorAll(\'[data-testid="device-row"]\').length === 2')
    await page.getByRole('button', { name: /^Select all 2 that match/ }).click()
    assert.equal(await page.getByTestId('selected-count').innerText(), '2 selected')
    await page.locator('#bulk-tags').fill('line-3')
    await page.getByRole('button', { name: 'Tag', exact: true }).click()
    await page.locator('[data-testid="device-row"] .tag', { hasText: 'line-3' }).nth(1).waitFor()
    assert.equal(await page.getByTestId('selected-count').innerText(), '2 selected', 'tagging keeps the selection')
    await screenshot(page, 'fleet-devices-tagged')

    // The tag filter finds the same two with the search cleared.
    await page.getByLabel('Search devices').fill('')
    await page.locator('#device-tag-filter').selectOption('line-3')
    await page.waitForFunction('document.querySelectorAll(\'[data-testid="device-row"]\').length === 2')
    const tagged = await page.getByTestId('device-row').evaluateAll(els => els.map(e => e.getAttribute('data-device')))
    assert.deepEqual(tagged.sort(), [ids['press-1'], ids['press-2']].sort())
  })

  it('rolls the revision out to the selection, canary first, and saves the report', async () => {
    const { page } = b
    assert.equal(await page.getByTestId('selected-count').innerText(), '2 selected', 'the selection outlives the tagging and the filters')
    await page.getByRole('button', { name: 'Roll out…' }).click()
    await page.getByRole('heading', { name: 'Rollout', exact: true }).waitFor()
    assert.match(await page.getByTestId('rollout-chosen').innerText(), /^2 chosen, 0 canary/)
    const rev = await page.locator('#rollout-rev option', { hasText: 'watchdog_pinger' }).getAttribute('value')
    await page.locator('#rollout-rev').selectOption(rev ?? '')
    await page.getByLabel('press-1 is a canary').check()
    assert.match(await page.getByTestId('rollout-chosen').innerText(), /^2 chosen, 1 canary/)

    await page.getByRole('button', { name: 'Check the plan' }).click()
    await page.locator('[data-testid="rollout-view"][data-state="planned"]').waitFor({ timeout: 30_000 })
    const planned = page.getByTestId('rollout-row')
    assert.equal(await planned.count(), 2)
    for (const t of await planned.allInnerTexts()) assert.match(t, /fits/, 'the plan says the revision fits each device')
    assert.match(await planned.first().innerText(), /press-1\s+canary/, 'the canary comes first')

    await page.getByRole('button', { name: 'Start rollout' }).click()
    await page.locator('[data-testid="rollout-view"][data-state="finished"]').waitFor({ timeout: 90_000 })
    assert.match(await page.getByTestId('rollout-summary').innerText(), /^2 succeeded, 0 failed, 0 already ran it, 0 not started, of 2/)
    for (const id of [ids['press-1'], ids['press-2']]) {
      assert.equal(await page.locator(`[data-testid="rollout-row"][data-device="${id}"]`).getAttribute('data-state'), 'succeeded')
    }
    await screenshot(page, 'fleet-rollout-finished')

    await page.locator('#report-kind').selectOption('html')
    await page.getByRole('button', { name: 'Save report…' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.locator('.picker-chosen', { hasText: /^\// }).waitFor() // its first folder is listed: what is typed now stays
    await dialog.locator('#picker-path').fill(work)
    await dialog.getByRole('button', { name: 'Go' }).click()
    await dialog.locator('.picker-chosen', { hasText: new RegExp(`^${work.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).waitFor()
    await dialog.getByRole('button', { name: 'Save here' }).click()
    await page.locator('.toast-ok', { hasText: 'Report saved' }).waitFor()
    const files = (await readdir(work)).filter(f => f.endsWith('.html'))
    assert.equal(files.length, 1, `one HTML report in ${work}: ${files.join(', ')}`)
    const html = await readFile(join(work, files[0] as string), 'utf8')
    for (const n of ['press-1', 'press-2']) assert.match(html, new RegExp(n), `the report names ${n}`)
    assert.doesNotMatch(html, /oven-1/, 'a device outside the rollout is not in its report')
    assert.doesNotMatch(html, /<script\b[^>]*\bsrc=|<link\b[^>]*stylesheet/i, 'the report is one self-contained page')
  })

  it("a device's page says which library revision it runs; an alias given there names it in the table", async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    await page.getByRole('link', { name: 'press-2', exact: true }).click()
    await page.getByTestId('device-detail').waitFor({ timeout: 20_000 })
    await page.locator('[data-testid="device-runs"] a', { hasText: 'watchdog_pinger' }).waitFor({ timeout: 20_000 })
    assert.notEqual(await page.getByTestId('device-step').innerText(), '—')
    // Its SSH login is known from the state read over pvr-sdk, before any SSH login (issue #13: the management container).
    await page.getByTestId('device-ssh').waitFor()
    assert.equal(await page.getByTestId('device-ssh-next').innerText(), 'watchdog_pinger')
    assert.match(await page.getByTestId('device-ssh').innerText(), /the state it runs gives it the management role/)
    await page.locator('#dev-ssh').fill('awconnect')
    await page.getByRole('button', { name: 'Set', exact: true }).click()
    await page.getByTestId('device-ssh-note').waitFor()
    assert.match(await page.getByTestId('device-ssh-note').innerText(), /awconnect has no management role .* logins enter watchdog_pinger/)
    await page.locator('#dev-alias').fill('hall-b-press')
    await page.getByRole('button', { name: 'Rename' }).click()
    await page.getByRole('heading', { name: 'hall-b-press' }).waitFor()
    await screenshot(page, 'fleet-device-page')

    await page.getByRole('link', { name: 'Devices', exact: true }).first().click()
    await page.getByLabel('Search devices').fill('hall-b')
    await page.waitForFunction('document.querySelectorAll(\'[data-testid="device-row"]\').length === 1')
    assert.equal(await page.getByTestId('device-row').getAttribute('data-device'), ids['press-2'])
    assert.match(await page.getByTestId('device-row').innerText(), /hall-b-press/)
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource.*404/.test(e)),
      [],
      "no page errors (the browser's favicon request is a 404)",
    )
  })
})
