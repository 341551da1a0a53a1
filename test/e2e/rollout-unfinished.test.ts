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
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { apiCall, chromiumMissing, screenshot, startUi } from './helpers.js'
import { holdings, pvctrl, untilNewStep, type Sim } from './sim.js'
import { startSite, type Site } from './site.js'

const skip = chromiumMissing()
const NAMES = ['hall-b-1', 'hall-b-2', 'hall-b-3', 'hall-b-4', 'hall-b-5', 'hall-b-6']

async function steps(sim: Sim): Promise<number> {
  return ((await pvctrl(sim, '/steps')) as unknown[]).length
}

describe('the Rollout screen offers a rollout the app was killed in to resume', { skip: skip ?? false, timeout: 300_000 }, () => {
  let site: Site

  before(async () => {
    site = await startSite({ names: NAMES, simArgs: ['--fast', '--timing', 'testing=5000'], tag: 'hall-b', spare: true })
    // Another rollout, left stopped by the CLI: its one device, the spare, answers nothing (the first failure stops it).
    const cli = await runCli(['rollout', 'watchdog_pinger', '--devices', 'name:spare'], { home: site.home })
    assert.equal(cli.code, 1, `the CLI rollout to a device that answers nothing fails: ${cli.stderr}`)
    await site.b.page.goto(site.ui.url)
  })
  after(async () => {
    await site?.close()
  })

  it('after a kill -9 mid-rollout, the new app shows the rollout as unfinished; Resume finishes it without installing twice; Dismiss removes another', async () => {
    const { b, sims, ids, home } = site
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
    const exited = new Promise<void>(resolve => site.ui.child.once('exit', () => resolve()))
    site.ui.child.kill('SIGKILL')
    await exited
    const doneHoldings = await holdings(sims[ids.indexOf(done)])

    site.ui = await startUi(home)
    await page.goto(site.ui.url)
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
      const history = await apiCall(site.ui.base, 'devices.history', { device: id }, site.H())
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
