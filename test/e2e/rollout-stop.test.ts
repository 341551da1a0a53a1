/**
 * Issue #18 "In the app", the Rollout screen's Stop and Resume, in Chromium,
 * against six simulated devices that stay a few seconds in TESTING (so that
 * Stop lands while one of them runs): the devices are chosen by their tag
 * on the Rollout screen (a device without the tag is not chosen), the
 * rollout runs one device at a time, Stop ends it with the devices not yet
 * started "not started" and untouched (the device was asked for nothing:
 * no object, no step), and Resume finishes them while the device that had
 * finished is skipped (no second step, no second install in its history).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { apiCall, chromiumMissing, screenshot } from './helpers.js'
import { holdings, pvctrl, untilNewStep } from './sim.js'
import { startSite, type Site } from './site.js'

const skip = chromiumMissing()
const NAMES = ['hall-a-1', 'hall-a-2', 'hall-a-3', 'hall-a-4', 'hall-a-5', 'hall-a-6']

describe('the Rollout screen stops and resumes a rollout', { skip: skip ?? false, timeout: 240_000 }, () => {
  let site: Site

  before(async () => {
    // Each device stays 5 s in TESTING: long enough for Stop to land while one runs, even on a busy machine.
    // A device of the site without the tag (the spare): choosing by tag leaves it out.
    site = await startSite({ names: NAMES, simArgs: ['--fast', '--timing', 'testing=5000'], tag: 'hall-a', spare: true })
    await site.b.page.goto(site.ui.url)
  })
  after(async () => {
    await site?.close()
  })

  it('chooses the devices by tag, stops mid-run leaving the rest untouched, and resumes skipping the device that finished', async () => {
    const { b, sims, ids, ui, H } = site
    const { page } = b
    const before = await Promise.all(sims.map(holdings))
    await page.getByRole('link', { name: 'Rollout', exact: true }).first().click()
    await page.getByRole('heading', { name: 'Rollout', exact: true }).waitFor()
    await page.locator('#rollout-tag option', { hasText: 'hall-a' }).waitFor({ state: 'attached' })
    await page.locator('#rollout-tag').selectOption('hall-a')
    assert.match(await page.getByTestId('rollout-chosen').innerText(), /^6 chosen, 0 canary/)
    for (const n of NAMES) assert.equal(await page.getByLabel(`Roll out to ${n}`).isChecked(), true, `${n} carries the tag: chosen`)
    assert.equal(await page.getByLabel('Roll out to spare').isChecked(), false, 'a device without the tag is not chosen')
    const rev = await page.locator('#rollout-rev option', { hasText: 'watchdog_pinger' }).getAttribute('value')
    await page.locator('#rollout-rev').selectOption(rev ?? '')
    await page.locator('#rollout-parallel').fill('1')

    await page.getByRole('button', { name: 'Start rollout' }).click()
    // One device at a time: the first finishes, the second runs (5 s in TESTING), then Stop.
    await page.locator('[data-testid="rollout-row"][data-state="succeeded"]').first().waitFor({ timeout: 60_000 })
    await page.locator('[data-testid="rollout-row"][data-state="running"]').first().waitFor({ timeout: 30_000 })
    const done = (await page.locator('[data-testid="rollout-row"][data-state="succeeded"]').getAttribute('data-device')) ?? ''
    const inFlight = (await page.locator('[data-testid="rollout-row"][data-state="running"]').getAttribute('data-device')) ?? ''
    // Stop once the device in flight holds its new step (past the preflight, where a stop leaves it not started).
    const flying = sims[ids.indexOf(inFlight)]
    const stepsBefore = (JSON.parse(before[ids.indexOf(inFlight)]) as { steps: string[] }).steps.length
    await untilNewStep(flying, stepsBefore)
    await page.getByRole('button', { name: 'Stop', exact: true }).click()
    await page.locator('[data-testid="rollout-view"][data-state="stopped"]').waitFor({ timeout: 60_000 })
    await screenshot(page, 'fleet-rollout-stopped')

    const notStarted = await page
      .locator('[data-testid="rollout-row"][data-state="not-started"]')
      .evaluateAll(els => els.map(e => e.getAttribute('data-device') ?? ''))
    assert.equal(notStarted.length, 4, 'the four devices after the one in flight were not started')
    assert.ok(!notStarted.includes(done) && !notStarted.includes(inFlight))
    for (const id of notStarted) {
      const i = ids.indexOf(id)
      assert.match(
        await page.locator(`[data-testid="rollout-row"][data-device="${id}"]`).innerText(),
        /NOT_STARTED.*not started: stopped from the Rollout screen/s,
      )
      assert.equal(await holdings(sims[i]), before[i], `${NAMES[i]} was not started: it was asked for nothing (no object, no step)`)
    }
    assert.match(
      await page.getByTestId('rollout-summary').innerText(),
      /^1 succeeded, 0 failed, 0 already ran it, 4 not started, 1 stopped while running, of 6/,
    )
    // The device in flight goes on with its update without us: stopped, not failed; a resume follows it.
    const flyingRow = page.locator(`[data-testid="rollout-row"][data-device="${inFlight}"]`)
    assert.match(await flyingRow.innerText(), /STOPPED/)
    assert.notEqual(await flyingRow.locator('td').nth(4).innerText(), '0 B', 'what was sent to the device in flight is told')
    assert.match(await page.getByText('Stopped:').locator('..').innerText(), /stopped from the Rollout screen/)
    const doneHoldings = await holdings(sims[ids.indexOf(done)])

    await page.getByRole('button', { name: 'Resume', exact: true }).click()
    await page.locator('[data-testid="rollout-view"][data-state="finished"]').waitFor({ timeout: 120_000 })
    assert.match(await page.getByTestId('rollout-summary').innerText(), /^6 succeeded, 0 failed, 0 already ran it, 0 not started, of 6/)
    assert.match(await page.getByRole('heading', { name: /Rollout of watchdog_pinger/ }).innerText(), /resumed/)
    for (const id of ids) assert.equal(await page.locator(`[data-testid="rollout-row"][data-device="${id}"]`).getAttribute('data-state'), 'succeeded')
    await screenshot(page, 'fleet-rollout-resumed')

    assert.equal(await holdings(sims[ids.indexOf(done)]), doneHoldings, 'the device that had finished was skipped: no new step, no object sent')
    const history = await apiCall(ui.base, 'devices.history', { device: done }, H())
    assert.equal(history.json.value.length, 1, 'one install in the history of the device that finished before the stop')
    for (const [i, id] of ids.entries()) {
      const steps = ((await pvctrl(sims[i], '/steps')) as Array<{ name: string }>).length
      const first = JSON.parse(before[i]) as { steps: string[] }
      assert.equal(steps, first.steps.length + 1, `${NAMES[i]} got exactly one new step (the one in flight at the stop was not installed twice)`)
      void id
    }
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource.*404/.test(e)),
      [],
      "no page errors (the browser's favicon request is a 404)",
    )
  })
})
