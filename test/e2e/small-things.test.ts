/**
 * Issue #17 item 13, "small things seen", in Chromium: one assertion per
 * thing. The revision page says a signature's problem once, without
 * literal backticks; the USB screen reads "Choose…" (not "Choose….") and
 * "(install.sh --inventory)" without gaps inside the parentheses; the
 * Devices table's monospace cells sit on their row's baseline; a wrong
 * token shows only the token error, no "Lost the connection… Retrying"; a
 * pull's card is titled by the revision's name from its first frame; at
 * 1024 px the Devices and Library tables keep their buttons in view, with
 * no horizontal scrollbar (screenshots of both).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { apiCall, chromiumMissing, openBrowser, screenshot, startUi, stopChild, type BrowserSession, type UiProcess } from './helpers.js'
import { startServe, type Serve } from './serve.js'
import { startSim, type Sim } from './sim.js'

const skip = chromiumMissing()

/** Where each element's first line of text has its baseline (a zero-size inline-block sits on it). */
async function baselines(page: Page, selector: string): Promise<number[]> {
  return await page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map(el => {
    const mark = document.createElement('span')
    mark.style.cssText = 'display:inline-block;width:0;height:0;vertical-align:baseline'
    el.prepend(mark)
    const y = mark.getBoundingClientRect().bottom
    mark.remove()
    return y
  })`)
}

/** The table scrolls sideways, or a button of its rows lies outside what its box shows. */
async function overflow(page: Page, wrap: string): Promise<string[]> {
  return await page.evaluate(`(() => {
    const el = document.querySelector(${JSON.stringify(wrap)})
    const problems = []
    if (el.scrollWidth > el.clientWidth + 1) problems.push('scrolls sideways: ' + el.scrollWidth + ' px of table in ' + el.clientWidth + ' px')
    const box = el.getBoundingClientRect()
    for (const b of el.querySelectorAll('tbody button')) {
      const r = b.getBoundingClientRect()
      if (r.right > box.right + 1 || r.left < box.left - 1) problems.push('"' + b.innerText + '" is outside the table box')
    }
    if (window.innerWidth < document.documentElement.scrollWidth) problems.push('the page scrolls sideways (' + document.documentElement.scrollWidth + ' px)')
    return problems
  })()`)
}

describe('small things (issue #17 item 13) in browser mode', { skip: skip ?? false, timeout: 240_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let serve: Serve
  let pingerId: string
  const sims: Sim[] = []
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    // A colleague in a team offers watchdog_pinger; this laptop joins the team and holds pvwificonnect (its signer is not trusted here).
    const colleague = join(work, 'colleague')
    const created = await runCli(['--json', 'team', 'create', '--name', 'north'], { home: colleague })
    assert.equal(created.code, 0, created.stderr)
    const imp = await runCli(['--json', 'import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'watchdog_pinger'], { home: colleague })
    assert.equal(imp.code, 0, imp.stderr)
    pingerId = imp.json().id
    serve = await startServe(colleague, { name: 'colleague' })
    const mine = join(work, 'mine')
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'pvwificonnect'], { home: mine })).code, 0)
    const joined = await runCli(['team', 'join', created.json().code], { home: mine })
    assert.equal(joined.code, 0, joined.stderr)
    for (const name of ['press-1', 'press-2', 'oven-1', 'packer-12']) sims.push(await startSim(join(work, name), ['--fast', '--name', name]))
    ui = await startUi(mine, ['--peer', serve.addr])
    for (const [i, s] of sims.entries()) {
      const added = await apiCall(ui.base, 'devices.add', { address: s.http }, { 'x-fieldsync-token': ui.token })
      assert.equal(added.status, 200, JSON.stringify(added.json))
      const alias = ['press-1', 'press-2', 'oven-1', 'packer-12'][i] as string
      const named = await apiCall(ui.base, 'devices.rename', { device: added.json.value.deviceId, alias }, { 'x-fieldsync-token': ui.token })
      assert.equal(named.status, 200, JSON.stringify(named.json))
      const tagged = await apiCall(
        ui.base,
        'devices.tag',
        { devices: [added.json.value.deviceId], tags: ['line-3', 'site-north'] },
        { 'x-fieldsync-token': ui.token },
      )
      assert.equal(tagged.status, 200, JSON.stringify(tagged.json))
    }
    b = await openBrowser()
    await b.page.goto(ui.url)
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    if (serve !== undefined) await stopChild(serve.child)
    for (const s of sims) await stopChild(s.child)
    for (const c of cleanups.reverse()) await c()
  })

  it('the revision page says a signature problem once, with no literal backticks', async () => {
    const { page } = b
    await page.getByRole('link', { name: 'pvwificonnect', exact: true }).click()
    await page.getByRole('heading', { name: 'Signatures' }).waitFor()
    await page.getByTestId('signature-verdict').waitFor()
    const text = await page.locator('main').innerText()
    assert.equal(text.split('is issued by CN=Pantavisor Dev CA').length - 1, 1, `said once:\n${text}`)
    assert.doesNotMatch(text, /`/, 'no literal backticks')
    await screenshot(page, 'small-things-signature')
  })

  it('the USB screen: "Choose…" once, and "(install.sh --inventory)" without gaps inside the parentheses', async () => {
    const { page } = b
    await page.getByRole('link', { name: /^USB/ }).click()
    await page.getByRole('heading', { name: 'Write to a stick' }).waitFor()
    assert.doesNotMatch(await page.locator('main').innerText(), /…\./, 'no ellipsis followed by a period')
    const gaps: { before: string; after: string; open: number; close: number } = await page.evaluate(`(() => {
      const code = document.querySelector('label:has(input[type=radio]) code')
      const range = document.createRange()
      const before = code.previousSibling
      range.setStart(before, before.length - 1)
      range.setEnd(before, before.length)
      const open = range.getBoundingClientRect()
      const after = code.nextSibling
      range.setStart(after, 0)
      range.setEnd(after, 1)
      const close = range.getBoundingClientRect()
      const c = code.getBoundingClientRect()
      return { before: before.data.slice(-1), after: after.data.slice(0, 1), open: c.left - open.right, close: close.left - c.right }
    })()`)
    assert.deepEqual([gaps.before, gaps.after], ['(', ')'])
    assert.ok(gaps.open < 2 && gaps.close < 2, `no space inside the parentheses: ${JSON.stringify(gaps)}`)
  })

  it("the Devices table's monospace cells sit on their row's baseline", async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    const rows = page.getByTestId('device-row')
    await rows.nth(3).waitFor()
    const row = '[data-testid="device-row"]:first-child'
    const [name] = await baselines(page, `${row} td:nth-child(2) a`)
    const cells = await baselines(page, `${row} td.mono`)
    const [seen] = await baselines(page, `${row} td:nth-child(8)`)
    await screenshot(page, 'small-things-devices')
    assert.ok(cells.length >= 2, 'address and running revision are monospace cells')
    for (const y of [...cells, seen]) assert.ok(Math.abs(y - name) <= 1, `baselines of the row: name ${name}, monospace ${cells.join(', ')}, seen ${seen}`)
  })

  it('at 1024 px the Devices and Library tables keep their buttons in view, without a sideways scrollbar', async () => {
    const { page } = b
    await page.setViewportSize({ width: 1024, height: 768 })
    await page.getByTestId('device-row').nth(3).waitFor()
    await screenshot(page, 'small-things-devices-1024')
    const devices = await overflow(page, '.table-wrap')
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByRole('link', { name: 'pvwificonnect', exact: true }).waitFor()
    await screenshot(page, 'small-things-library-1024')
    const library = await overflow(page, '.table-wrap')
    await page.setViewportSize({ width: 1360, height: 860 })
    assert.deepEqual({ devices, library }, { devices: [], library: [] })
  })

  it('a pull is titled by the revision name from its first frame, not by its id', async () => {
    const { page } = b
    await page.getByRole('link', { name: /^Peers/ }).click()
    await page.locator(`[data-peer="${serve.peerId}"]`).getByRole('button', { name: 'Pull watchdog_pinger' }).waitFor({ timeout: 30_000 })
    await page.getByRole('link', { name: /^Transfers/ }).click()
    await page.getByRole('heading', { name: 'Transfers', exact: true }).waitFor()
    // Every title any transfer card ever shows, from the first frame on.
    await page.evaluate(`(() => {
      const seen = (window.seenTitles = [])
      const note = () => {
        for (const el of document.querySelectorAll('[data-testid="transfer"] .transfer-label')) if (!seen.includes(el.innerText)) seen.push(el.innerText)
      }
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true })
    })()`)
    const pulled = await apiCall(ui.base, 'peers.pull', { rev: pingerId }, { 'x-fieldsync-token': ui.token })
    assert.equal(pulled.status, 200, JSON.stringify(pulled.json))
    await page.locator('[data-testid="transfer"][data-kind="pull"][data-state="done"]').waitFor({ timeout: 60_000 })
    const titles: string[] = await page.evaluate('window.seenTitles')
    assert.deepEqual(titles, ['pull watchdog_pinger'])
  })

  it('a wrong token shows the token error and what to do, not "Lost the connection… Retrying"', async () => {
    const page = await b.context.newPage()
    try {
      const events = page.waitForResponse(r => r.url().endsWith('/api/events'))
      await page.goto(`${ui.base}#token=not-the-token-of-this-run`)
      assert.equal((await events).status(), 403)
      const alert = page.locator('.alert-bad[data-code="E_FORBIDDEN"]')
      await alert.waitFor()
      assert.match(await alert.innerText(), /What to do: Open the full URL/)
      // Let the page render what the refused event stream made of it.
      await page.evaluate('new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)))')
      assert.equal(
        await page.locator('.banner').count(),
        0,
        await page
          .locator('.banner')
          .allInnerTexts()
          .then(t => t.join(' | ')),
      )
      assert.doesNotMatch(await page.locator('body').innerText(), /Lost the connection|Retrying/)
      await screenshot(page, 'small-things-wrong-token')
    } finally {
      await page.close()
    }
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
