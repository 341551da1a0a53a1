/**
 * The install wizard with a package (issue #14): pvwificonnect, which has no
 * BSP, is composed onto what the simulated device runs; the plan shows the
 * parts it changes on the device and the composed state's signature verdict
 * before anything is sent, and the install keeps what the device ran.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { DEV_CA, json, startSim, WIFI_TGZ, type Sim } from '../integration/devices-harness.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()

describe('install wizard: a package onto what a device runs', { skip: skip ?? false, timeout: 120_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let sim: Sim
  const cleanups: Array<() => Promise<void>> = []
  const t = {
    after: (fn: () => Promise<void>) => {
      cleanups.push(fn)
    },
  }

  before(async () => {
    const work = await tempDir(t)
    const home = join(work, 'home')
    assert.equal((await runCli(['import', WIFI_TGZ, '--name', 'pvwificonnect'], { home })).code, 0)
    assert.equal((await runCli(['trust', 'add', DEV_CA], { home })).code, 0)
    sim = await startSim(t, join(work, 'device'), ['--assume-pvr-sdk-progress', '--name', 'rpi-hall'])
    ui = await startUi(home)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups.reverse()) await c()
  })

  it('the plan shows the parts the package adds on the device and the verdict; the device keeps its BSP and pvr-sdk', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByRole('link', { name: /^Devices/ }).click()
    await page.locator('#device-addr').fill(sim.http)
    await page.getByRole('button', { name: 'Add device' }).click()
    await page.getByTestId('device-row').first().waitFor({ timeout: 20_000 })
    await page
      .getByTestId('device-row')
      .first()
      .getByRole('button', { name: /^Install on/ })
      .click()
    const rev = await page.locator('#inst-rev option', { hasText: 'pvwificonnect' }).getAttribute('value')
    await page.locator('#inst-rev').selectOption(rev ?? '')
    await page.getByRole('button', { name: 'Check the plan' }).click()
    const comp = page.getByTestId('plan-composition')
    await comp.waitFor({ timeout: 20_000 })
    assert.match(await comp.innerText(), /A package: composed onto what the device runs/)
    assert.match(await page.getByTestId('parts-added').innerText(), /pvwificonnect/)
    assert.equal(await page.getByTestId('parts-removed').count(), 0, 'nothing the device runs is removed')
    assert.match(await comp.innerText(), /Signatures\s*pass/)
    await screenshot(page, 'install-plan-package')
    await page.getByRole('button', { name: /^Install pvwificonnect now/ }).click()
    await page.locator('[data-testid="install-status"]', { hasText: /DONE|UPDATED/ }).waitFor({ timeout: 60_000 })
    const now = await json<Record<string, unknown>>(sim.socket, '/steps/current')
    assert.ok('bsp/run.json' in now && 'pvwificonnect/run.json' in now, Object.keys(now).join(', '))
  })
})
