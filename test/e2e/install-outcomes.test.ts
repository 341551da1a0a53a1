/**
 * What the app says about an install's end (issue #17 items 1, 6, 7), in
 * Chromium against three simulated devices:
 *  - one that ends every run in ERROR: red everywhere (Transfers, the
 *    stepper, the wizard with the device's message as headline, history);
 *  - one with a device's real delays (TESTING 25 s): the average rate is over
 *    the upload only, the device's run has its own time;
 *  - one that already runs the revision: the plan says so, no transfer is
 *    estimated, and nothing animates once the reinstall ended.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import type { TransferInfo } from '../../shared/api/types.js'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fullRevisionOf } from '../integration/devices-harness.js'
import { apiCall, chromiumMissing, openBrowser, screenshot, startUi, stopChild, type BrowserSession, type UiProcess } from './helpers.js'
import { startSim, type Sim } from './sim.js'

const skip = chromiumMissing()
const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }

describe('install outcomes in browser mode', { skip: skip ?? false, timeout: 240_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  const sims: Record<'err' | 'slow' | 'fast', Sim> = {} as any
  /** The devices as the app added them (by address): id and name. */
  const devs: Record<string, { deviceId: string; name: string }> = {}
  const cleanups: Array<() => Promise<void>> = []
  const api = async (channel: string, body: unknown): Promise<any> => {
    const r = await apiCall(ui.base, channel, body, { 'x-fieldsync-token': ui.token })
    assert.equal(r.status, 200, JSON.stringify(r.json))
    return r.json.value
  }

  before(async () => {
    const work = await tempDir(
      {
        after: (fn: () => Promise<void>) => {
          cleanups.push(fn)
        },
      },
      'ui-outcomes-',
    )
    const home = join(work, 'home')
    const full = await fullRevisionOf(join(work, 'src'), join(vendoredUpstreamDir, 'watchdog_pinger.tar'), 'watchdog_pinger-full')
    const r = await runCli(['import', full.tarball, '--name', 'watchdog_pinger'], { home })
    assert.equal(r.code, 0, r.stderr)
    sims.err = await startSim(join(work, 'dev-err'), ['--fast', '--outcome', 'error', '--name', 'rpi-broken'])
    sims.fast = await startSim(join(work, 'dev-fast'), ['--fast', '--outcome', 'done', '--name', 'rpi-fast'])
    // A device's own delays: INPROGRESS 3 s, TESTING 25 s.
    sims.slow = await startSim(join(work, 'dev-slow'), ['--outcome', 'updated', '--name', 'rpi-slow'])
    ui = await startUi(home)
    for (const [k, s] of Object.entries(sims)) devs[k] = await api('devices.add', { address: s.http })
    b = await openBrowser()
    await b.page.goto(ui.url)
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const s of Object.values(sims)) await stopChild(s.child)
    for (const c of cleanups) await c()
  })

  async function wizardFor(page: Page, which: string): Promise<void> {
    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    await page
      .locator(`[data-testid="device-row"][data-device="${devs[which].deviceId}"]`)
      .getByRole('button', { name: /^Install on/ })
      .click()
    await page.getByRole('heading', { name: 'Install a revision' }).waitFor()
    const rev = await page.locator('#inst-rev option', { hasText: 'watchdog_pinger' }).getAttribute('value')
    await page.locator('#inst-rev').selectOption(rev ?? '')
    await page.getByRole('button', { name: 'Check the plan' }).click()
    await page.getByTestId('install-plan').waitFor({ timeout: 20_000 })
  }

  /** The newest install transfer (the list is newest first), which must be `which`'s. */
  async function installTransfer(which: string): Promise<TransferInfo> {
    const list = (await api('transfers.list', {})) as TransferInfo[]
    const t = list.find(x => x.kind === 'install')
    assert.ok(t !== undefined && t.label.endsWith(` on ${devs[which].name}`), `the newest install is on ${which}: ${JSON.stringify(list.map(x => x.label))}`)
    return t
  }

  it("item 1: an install the device ends in ERROR is red everywhere, with the device's message as headline", async () => {
    const { page } = b
    await wizardFor(page, 'err')
    await page.getByRole('button', { name: /^Install watchdog_pinger/ }).click()
    await page.locator('[data-testid="install-status"]', { hasText: 'ERROR' }).waitFor({ timeout: 60_000 })
    const outcome = page.getByTestId('install-outcome')
    await outcome.waitFor()
    assert.match((await outcome.getAttribute('class')) ?? '', /alert-bad/)
    assert.equal((await outcome.locator('.alert-title').innerText()).trim(), 'Status goal not reached', "the device's message is the headline")
    // The stepper paints no stage it did not see passed: TESTING (where it failed) is not green, the end is red.
    assert.notEqual(await page.locator('.timeline [data-stage="TESTING"]').getAttribute('data-state'), 'done')
    assert.equal(await page.locator('.timeline [data-stage="final"]').getAttribute('data-state'), 'failed')
    assert.equal(await page.locator('.timeline .tl-done[data-stage="TESTING"]').count(), 0)
    assert.match((await page.getByTestId('install-upload').locator('.progress').getAttribute('class')) ?? '', /progress-bad/)
    await screenshot(page, 'install-error')

    const t = await installTransfer('err')
    assert.equal(t.state, 'failed')
    assert.equal(t.error?.code, 'E_INSTALL_FAILED')
    await page
      .getByRole('link', { name: /^Transfers/ })
      .first()
      .click()
    const card = page.locator('[data-testid="transfer"][data-kind="install"][data-state="failed"]')
    await card.waitFor()
    assert.match((await card.locator('.badge').first().getAttribute('class')) ?? '', /badge-bad/)
    assert.match((await card.locator('.progress').getAttribute('class')) ?? '', /progress-bad/)
    assert.match(await card.locator('.transfer-error').innerText(), /ERROR: Status goal not reached/)
    await screenshot(page, 'transfers-install-failed')

    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    await page.locator(`[data-testid="device-row"][data-device="${devs.err.deviceId}"]`).getByRole('button', { expanded: false }).click()
    const hist = page.getByRole('table', { name: 'Install history' })
    await hist.waitFor()
    const badge = hist.locator('tbody tr').first().locator('.badge')
    assert.equal(await badge.innerText(), 'ERROR')
    assert.match((await badge.getAttribute('class')) ?? '', /badge-bad/)
  })

  it('item 7: a revision the device already runs: the plan says so, no transfer; nothing animates after the reinstall', async () => {
    const { page } = b
    await wizardFor(page, 'fast')
    assert.match(await page.getByTestId('plan-running').innerText(), /another revision/)
    await page.getByRole('button', { name: /^Install watchdog_pinger now/ }).click()
    await page.locator('[data-testid="install-status"]', { hasText: 'DONE' }).waitFor({ timeout: 60_000 })

    await page.getByRole('button', { name: 'Check the plan' }).click()
    await page.getByTestId('plan-running').getByText('already running this revision').waitFor({ timeout: 20_000 })
    const plan = await page.getByTestId('install-plan').innerText()
    assert.match(plan, /Send\s*0 B in 0 objects/)
    assert.match(await page.getByTestId('plan-upload-time').innerText(), /^no transfer/)
    assert.doesNotMatch(plan, /Estimated time/)
    await screenshot(page, 'install-plan-already-running')

    await page.getByRole('button', { name: 'Install watchdog_pinger again' }).click()
    await page.getByTestId('install-outcome').waitFor({ timeout: 60_000 })
    assert.match(await page.getByTestId('install-upload').innerText(), /Nothing to send/)
    assert.equal(await page.locator('.progress-indeterminate').count(), 0, 'nothing animates once the install ended')
    await page
      .getByRole('link', { name: /^Transfers/ })
      .first()
      .click()
    await page.locator('[data-testid="transfer"][data-kind="install"]').first().waitFor()
    assert.equal(await page.locator('[data-testid="transfer"]:not([data-state="running"]) .progress-indeterminate').count(), 0, 'finished cards do not animate')
    assert.match(await page.locator('[data-testid="transfer"][data-kind="install"]').first().getByTestId('transfer-outcome').innerText(), /nothing to send/)
    await screenshot(page, 'transfers-reinstall')
  })

  it("item 6: the average rate is over the upload only; the device's run has its own time", async () => {
    const { page } = b
    await wizardFor(page, 'slow')
    await page.getByRole('button', { name: /^Install watchdog_pinger now/ }).click()
    await page.locator('[data-testid="install-status"]', { hasText: 'UPDATED' }).waitFor({ timeout: 120_000 })
    const t = await installTransfer('slow')
    assert.equal(t.state, 'done')
    assert.ok(t.bytes > 0 && t.movedFrom !== null && t.movedUntil !== null && t.endedAt !== null)
    const moving = (t.movedUntil - t.movedFrom) / 1000
    const device = (t.endedAt - t.movedUntil) / 1000
    const whole = (t.endedAt - t.startedAt) / 1000
    console.log(
      `# ${t.bytes} bytes: upload ${moving.toFixed(2)} s, the device's run ${device.toFixed(1)} s, whole ${whole.toFixed(1)} s; ${(t.bytes / moving / 1e6).toFixed(1)} MB/s over the upload, ${(t.bytes / whole / 1e3).toFixed(0)} KB/s over the whole`,
    )
    assert.ok(device >= 25, `the device's TESTING (25 s) comes after the upload: ${device} s`)

    await page
      .getByRole('link', { name: /^Transfers/ })
      .first()
      .click()
    // Finished transfers are listed newest first: this install's card is the first done one.
    const card = page.locator('[data-testid="transfer"][data-kind="install"][data-state="done"]').first()
    const text = await card.getByTestId('transfer-outcome').innerText()
    const m = /([\d.]+) (B|KiB|MiB|GiB)\/s average over/.exec(text)
    assert.ok(m !== null, text)
    const shown = Number(m[1]) * UNITS[m[2]]
    const overUpload = t.bytes / moving
    assert.ok(Math.abs(shown - overUpload) / overUpload < 0.06, `${text}: the rate shown is bytes over the upload (${overUpload} B/s)`)
    assert.ok(shown > 10 * (t.bytes / whole), `${text}: not the average over the whole install`)
    assert.match(text, /the device's run (\d+) s/)
    assert.ok(Number(/the device's run (\d+) s/.exec(text)?.[1]) >= 25, text)
    await screenshot(page, 'transfers-install-rate')
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
