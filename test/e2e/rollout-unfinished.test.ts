/**
 * A rollout the app was killed in the middle of, in Chromium, against six
 * simulated devices that stay a few seconds in TESTING: the Rollout screen
 * starts it one device at a time; once the second device holds its new step
 * the `fieldsync ui` process is killed with SIGKILL (a crash, a flat
 * battery). A new `fieldsync ui` on the same home shows the rollout as an
 * unfinished card with what its rows say; Resume finishes it with its stored
 * request: the device that had finished gets no second step (one install in
 * its history), the device cut off is followed to its end (one new step
 * only), the rest are installed. Dismiss gives up another unfinished rollout
 * (one a CLI rollout left stopped): its card goes, and stays gone after a
 * reload.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fullRevisionOf } from '../integration/devices-harness.js'
import { apiCall, chromiumMissing, openBrowser, screenshot, startUi, stopChild, type BrowserSession, type UiProcess } from './helpers.js'
import { holdings, pvctrl, startSim, untilNewStep, type Sim } from './sim.js'

const skip = chromiumMissing()
const NAMES = ['hall-b-1', 'hall-b-2', 'hall-b-3', 'hall-b-4', 'hall-b-5', 'hall-b-6']

async function steps(sim: Sim): Promise<number> {
  return ((await pvctrl(sim, '/steps')) as unknown[]).length
}

describe('the Rollout screen offers a rollout the app was killed in to resume', { skip: skip ?? false, timeout: 300_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let home: string
  const sims: Sim[] = []
  const ids: string[] = []
  const cleanups: Array<() => Promise<void>> = []
  const H = (): Record<string, string> => ({ 'x-fieldsync-token': ui.token })

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    home = join(work, 'home')
    const full = await fullRevisionOf(join(work, 'src'), join(vendoredUpstreamDir, 'watchdog_pinger.tar'), 'watchdog_pinger-full')
    const r = await runCli(['import', full.tarball, '--name', 'watchdog_pinger'], { home })
    assert.equal(r.code, 0, r.stderr)
    for (const name of NAMES) sims.push(await startSim(join(work, name), ['--fast', '--timing', 'testing=5000', '--name', name]))
    ui = await startUi(home)
    for (const [i, s] of sims.entries()) {
      const added = await apiCall(ui.base, 'devices.add', { address: s.http }, H())
      assert.equal(added.status, 200, JSON.stringify(added.json))
      ids.push(added.json.value.deviceId)
      assert.equal((await apiCall(ui.base, 'devices.rename', { device: ids[i], alias: NAMES[i] }, H())).status, 200)
    }
    assert.equal((await apiCall(ui.base, 'devices.tag', { devices: ids, tags: ['hall-b'] }, H())).status, 200)
    // Another rollout, left stopped by the CLI: its one device answers nothing (the first failure stops it).
    const spare = await apiCall(ui.base, 'devices.add', { address: '127.0.0.1:9', offline: true }, H())
    assert.equal(spare.status, 200, JSON.stringify(spare.json))
    assert.equal((await apiCall(ui.base, 'devices.rename', { device: spare.json.value.deviceId, alias: 'spare' }, H())).status, 200)
    const cli = await runCli(['rollout', 'watchdog_pinger', '--devices', 'name:spare'], { home })
    assert.equal(cli.code, 1, `the CLI rollout to a device that answers nothing fails: ${cli.stderr}`)
    b = await openBrowser()
    await b.page.goto(ui.url)
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const s of sims) await stopChild(s.child)
    for (const c of cleanups.reverse()) await c()
  })

  it('after a kill -9 mid-rollout, the new app shows the rollout as unfinished; Resume finishes it without installing twice; Dismiss removes another', async () => {
    const { page } = b
    const before = await Promise.all(sims.map(steps))
    await page.getByRole('link', { name: 'Rollout', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Rollout', exact: true }).waitFor()
    // The CLI's stopped rollout is offered already.
    const spareCard = page.locator('[data-testid="unfinished-rollout"][data-state="stopped"]')
    await spareCard.waitFor()
    assert.match(await spareCard.getByTestId('unfinished-counts').innerText(), /^1 device: 0 succeeded, 1 failed$/)
    await page.locator('#rollout-tag option', { hasText: 'hall-b' }).waitFor({ state: 'attached' })
    await page.locator('#rollout-tag').selectOption('hall-b')
    const rev = await page.locator('#rollout-rev option', { hasText: 'watchdog_pinger' }).getAttribute('value')
    await page.locator('#rollout-rev').selectOption(rev ?? '')
    await page.locator('#rollout-parallel').fill('1')
    await page.getByRole('button', { name: 'Start rollout' }).click()
    await page.locator('[data-testid="rollout-row"][data-state="succeeded"]').first().waitFor({ timeout: 60_000 })
    await page.locator('[data-testid="rollout-row"][data-state="running"]').first().waitFor({ timeout: 30_000 })
    const done = (await page.locator('[data-testid="rollout-row"][data-state="succeeded"]').getAttribute('data-device')) ?? ''
    const inFlight = (await page.locator('[data-testid="rollout-row"][data-state="running"]').getAttribute('data-device')) ?? ''
    assert.equal(await page.locator('[data-testid="unfinished-rollout"][data-state="running"]').count(), 0, "the window's own rollout is no card")
    // Kill the app once the device in flight holds its new step: it goes on with its update without us.
    const flying = sims[ids.indexOf(inFlight)]
    await untilNewStep(flying, before[ids.indexOf(inFlight)])
    const exited = new Promise<void>(resolve => ui.child.once('exit', () => resolve()))
    ui.child.kill('SIGKILL')
    await exited
    const doneHoldings = await holdings(sims[ids.indexOf(done)])

    ui = await startUi(home)
    await page.goto(ui.url)
    const errorsBefore = b.errors.length
    await page.getByRole('link', { name: 'Rollout', exact: true }).first().click()
    const card = page.locator('[data-testid="unfinished-rollout"][data-state="running"]')
    await card.waitFor()
    assert.equal(await page.locator('[data-testid="unfinished-rollout"]').count(), 2, 'the killed rollout and the stopped one')
    assert.match(await card.locator('h3').innerText(), /Rollout no\. \d+ of watchdog_pinger/)
    assert.match(await card.innerText(), /cut off while running/)
    assert.match(await card.getByTestId('unfinished-counts').innerText(), /^6 devices: 1 succeeded, 0 failed, 1 stopped while running, 4 pending$/)
    assert.match(await card.innerText(), /one device at a time/)
    for (const n of NAMES) assert.match(await card.innerText(), new RegExp(n))
    await screenshot(page, 'rollout-unfinished')

    await card.getByRole('button', { name: /^Resume rollout no\./ }).click()
    await page.locator('[data-testid="rollout-view"][data-state="finished"]').waitFor({ timeout: 150_000 })
    assert.match(await page.getByTestId('rollout-summary').innerText(), /^6 succeeded, 0 failed, 0 already ran it, 0 not started, of 6/)
    assert.match(await page.getByRole('heading', { name: /Rollout of watchdog_pinger/ }).innerText(), /resumed/)
    for (const id of ids) assert.equal(await page.locator(`[data-testid="rollout-row"][data-device="${id}"]`).getAttribute('data-state'), 'succeeded')
    await card.waitFor({ state: 'detached' })
    assert.equal(await page.locator('[data-testid="unfinished-rollout"]').count(), 1, 'only the stopped rollout is left')

    assert.equal(await holdings(sims[ids.indexOf(done)]), doneHoldings, 'the device that finished before the kill got nothing more')
    for (const id of [done, inFlight]) {
      const history = await apiCall(ui.base, 'devices.history', { device: id }, H())
      assert.equal(history.json.value.length, 1, `one install in the history of ${NAMES[ids.indexOf(id)]}`)
    }
    for (const [i, s] of sims.entries())
      assert.equal(await steps(s), before[i] + 1, `${NAMES[i]} got exactly one new step (the one cut off was followed, not installed again)`)
    await screenshot(page, 'rollout-unfinished-resumed')

    await spareCard.getByRole('button', { name: /^Dismiss rollout no\./ }).click()
    await spareCard.waitFor({ state: 'detached' })
    await page.reload()
    await page.getByRole('heading', { name: 'Rollout', exact: true }).waitFor()
    await page.locator('[data-testid="unfinished-rollouts"][data-count="0"]').waitFor({ state: 'attached' })
    assert.equal(await page.locator('[data-testid="unfinished-rollout"]').count(), 0, 'the dismissed rollout stays gone after a reload')
    assert.deepEqual(
      b.errors.slice(errorsBefore).filter(e => !/Failed to load resource.*404/.test(e)),
      [],
      "no page errors in the new app (the browser's favicon request is a 404)",
    )
  })
})
