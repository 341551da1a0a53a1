/**
 * Keyboard (issue #17 item 16): Ctrl+K and Ctrl+Shift+P open a command
 * palette with the actions of every screen, filtered fuzzily as one types;
 * Enter runs the chosen one; `?` lists the shortcuts; `g` + a letter goes to
 * a screen; focus comes back where it was when the palette closes.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()

describe('command palette and shortcuts in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
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
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'wifi'], { home })).code, 0)
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'pinger'], { home })).code, 0)
    ui = await startUi(home)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  const palette = () => b.page.getByRole('dialog', { name: 'Command palette' })
  const items = () => palette().getByTestId('palette-item')

  it('Ctrl+K opens the palette with the actions of every screen', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByTestId('revision-row').nth(1).waitFor()
    await page.keyboard.press('Control+k')
    await palette().waitFor()
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('aria-label')), 'Type a command')
    await items().filter({ hasText: 'Export wifi…' }).waitFor()
    const titles = await items().allInnerTexts()
    const has = (re: RegExp) =>
      assert.ok(
        titles.some(t => re.test(t)),
        `${re} in\n${titles.join('\n')}`,
      )
    for (const screen of ['Library', 'Peers', 'Devices', 'Transfers', 'USB', 'Trust']) has(new RegExp(`Go to\\s*${screen}`, 'i'))
    has(/Import a file…/)
    has(/Export pinger…/)
    has(/Write wifi to a USB stick…/)
    has(/Trust a CA or key/)
    has(/Signature policy: strict/)
    has(/Clear finished transfers/)
    has(/Display: Dark/)
    has(/Keyboard shortcuts/)
    const nav = await page.getByRole('navigation', { name: 'Screens' }).innerText()
    if (!/Peers\s*not yet/.test(nav)) has(/Add a peer by address…/)
    if (!/Devices\s*not yet/.test(nav)) has(/Add a device by address…/)
    await page.keyboard.press('Escape')
    await palette().waitFor({ state: 'hidden' })
  })

  it('filters fuzzily; arrows choose; Enter runs: "exp wifi" opens the export dialog of wifi', async () => {
    const { page } = b
    await page.keyboard.press('Control+Shift+P')
    await palette().waitFor()
    await page.keyboard.type('wifi')
    const first = items().first()
    assert.ok((await items().count()) >= 3, 'open, export and write wifi')
    assert.equal(await first.getAttribute('aria-selected'), 'true')
    await page.keyboard.press('ArrowDown')
    assert.equal(await first.getAttribute('aria-selected'), 'false')
    assert.equal(await items().nth(1).getAttribute('aria-selected'), 'true')
    await page.keyboard.press('Control+a')
    await page.keyboard.type('exp wifi')
    assert.equal(await first.getAttribute('aria-selected'), 'true')
    assert.match(await first.innerText(), /Export wifi…/)
    await screenshot(page, 'palette')
    await page.keyboard.press('Enter')
    await page.getByRole('dialog', { name: 'Export wifi' }).waitFor()
    await palette().waitFor({ state: 'hidden' })
    await page.keyboard.press('Escape')
    await page.getByRole('dialog', { name: 'Export wifi' }).waitFor({ state: 'hidden' })
  })

  it('runs an action of another screen: go to Trust, set the policy', async () => {
    const { page } = b
    await page.keyboard.press('Control+k')
    await palette().waitFor()
    await page.keyboard.type('trust')
    assert.match(await items().first().innerText(), /Go to\s*Trust/i)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Trust', level: 1 }).waitFor()
    await page.keyboard.press('Control+k')
    await palette().waitFor()
    await page.keyboard.type('policy strict')
    await page.keyboard.press('Enter')
    await page.getByText('Signature policy: strict').first().waitFor()
    assert.equal((await runCli(['--json', 'trust', 'policy'], { home: ui.home })).json().policy, 'strict')
  })

  it('says so when nothing matches', async () => {
    const { page } = b
    await page.keyboard.press('Control+k')
    await palette().waitFor()
    await page.keyboard.type('zzzqqq')
    await palette().getByText('No command matches').waitFor()
    assert.equal(await items().count(), 0)
    await page.keyboard.press('Escape')
  })

  it('gives the focus back where it was when it closes', async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Library/ })
      .first()
      .click()
    const button = page.getByRole('button', { name: 'Import file…' })
    await button.focus()
    await page.keyboard.press('Control+k')
    await palette().waitFor()
    await page.keyboard.press('Escape')
    await palette().waitFor({ state: 'hidden' })
    await page.waitForFunction(() => (globalThis as any).document.activeElement?.textContent === 'Import file…')
  })

  it('? lists the shortcuts; g + a letter goes to a screen; neither fires while typing', async () => {
    const { page } = b
    await page.locator('body').press('?')
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' })
    await help.waitFor()
    const text = await help.innerText()
    assert.match(text, /Ctrl\+K/)
    assert.match(text, /Ctrl\+Shift\+P/)
    assert.match(text, /g t\s*Go to Transfers/)
    await screenshot(page, 'shortcuts')
    await page.keyboard.press('Escape')
    await help.waitFor({ state: 'hidden' })
    await page.keyboard.press('g')
    await page.keyboard.press('t')
    await page.getByRole('heading', { name: 'Transfers', level: 1 }).waitFor()
    await page.keyboard.press('Control+k')
    await palette().waitFor()
    await page.keyboard.type('?g')
    assert.equal(await help.isVisible(), false, '? typed in the palette is text, not a shortcut')
    assert.equal(await palette().getByRole('combobox').inputValue(), '?g')
    await page.keyboard.press('Escape')
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
