/**
 * Issue #17 item 4, "The Commit checkbox cannot work", in Chromium: the
 * install wizard says before anything is sent which connection can commit
 * (pvr-sdk cannot; SSH can); choosing SSH offers the credentials (key file,
 * password, agent) and the container to log in as, and the plan shows the
 * device's host key, pinned on first use. The device: the simulator's
 * pv-ctrl seen where a management container sees it, behind a real sshd
 * whose forced command enters containers as Pantavisor's fallbear-cmd does.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fullRevisionOf, has, sshdProblem, sshLogins, startSshd, type Sshd } from '../integration/devices-harness.js'
import { apiCall, chromiumMissing, openBrowser, screenshot, startUi, stopChild, type BrowserSession, type UiProcess } from './helpers.js'
import { startSim, type Sim } from './sim.js'

const skip = chromiumMissing() ?? sshdProblem() ?? (has('curl') ? null : 'no curl')

describe('install over SSH in browser mode', { skip: skip ?? false, timeout: 240_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let sim: Sim
  let sshd: Sshd
  let dev: { deviceId: string }
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const t = {
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    }
    const work = await tempDir(t, 'ui-ssh-')
    const home = join(work, 'home')
    const full = await fullRevisionOf(join(work, 'src'), join(vendoredUpstreamDir, 'watchdog_pinger.tar'), 'watchdog_pinger-full')
    const r = await runCli(['import', full.tarball, '--name', 'watchdog_pinger'], { home })
    assert.equal(r.code, 0, r.stderr)
    sim = await startSim(join(work, 'dev'), ['--fast', '--outcome', 'done', '--name', 'rpi-ssh'])
    sshd = await startSshd(t, join(work, 'sshd'), { containers: ['pvr-sdk', 'awconnect'], pvCtrl: sim.socket })
    ui = await startUi(home, [], { SSH_AUTH_SOCK: '' })
    const added = await apiCall(ui.base, 'devices.add', { address: sim.http }, { 'x-fieldsync-token': ui.token })
    assert.equal(added.status, 200, JSON.stringify(added.json))
    dev = added.json.value
    b = await openBrowser()
    await b.page.goto(ui.url)
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    if (sim !== undefined) await stopChild(sim.child)
    for (const c of cleanups.reverse()) await c()
  })

  it('item 4: the plan says which connection can commit; SSH takes a key, shows the host key to pin and can commit', async () => {
    const { page } = b
    await page
      .getByRole('link', { name: /^Devices/ })
      .first()
      .click()
    await page
      .locator(`[data-testid="device-row"][data-device="${dev.deviceId}"]`)
      .getByRole('button', { name: /^Install on/ })
      .click()
    await page.getByRole('heading', { name: 'Install a revision' }).waitFor()
    const rev = await page.locator('#inst-rev option', { hasText: 'watchdog_pinger' }).getAttribute('value')
    await page.locator('#inst-rev').selectOption(rev ?? '')
    await page.locator('label.check', { hasText: 'Commit: reboot into it' }).locator('input').check()

    // pvr-sdk: the plan says before anything is sent that it cannot commit, and the install cannot start.
    await page.locator('#inst-via').selectOption('pvr-sdk')
    await page.getByRole('button', { name: 'Check the plan' }).click()
    await page.getByTestId('install-plan').waitFor({ timeout: 20_000 })
    assert.equal(await page.getByTestId('plan-commit').getAttribute('data-possible'), 'false')
    assert.match(await page.getByTestId('install-plan').getByRole('alert').innerText(), /pvr-sdk .*cannot commit/)
    assert.equal(await page.getByRole('button', { name: /^Install watchdog_pinger/ }).isDisabled(), true)
    await screenshot(page, 'install-plan-pvr-sdk-cannot-commit')

    // SSH: credentials, the host key on first use, a plan that can commit.
    await page.locator('#inst-via').selectOption('ssh')
    await page.getByTestId('ssh-fields').waitFor()
    await page.getByLabel('Private key file').fill(sshd.key)
    await page.getByLabel('Port').fill(String(sshd.port))
    await page.getByRole('button', { name: 'Check the plan' }).click()
    await page.getByTestId('plan-host-key').waitFor({ timeout: 30_000 })
    assert.equal(await page.getByTestId('plan-host-key').getAttribute('data-pinned'), 'new')
    assert.match(await page.getByTestId('plan-host-key').innerText(), /ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}/)
    assert.equal(await page.getByTestId('plan-commit').getAttribute('data-possible'), 'true')
    assert.match(await page.getByTestId('plan-ssh-container').innerText(), /pvr-sdk/)
    assert.equal(await page.getByTestId('install-plan').getByRole('alert').count(), 0, 'nothing refuses the plan')
    await screenshot(page, 'install-plan-ssh')

    await page.getByRole('button', { name: /^Install watchdog_pinger now/ }).click()
    await page.locator('[data-testid="install-status"]', { hasText: 'DONE' }).waitFor({ timeout: 90_000 })
    assert.ok(
      (await sshLogins(sshd)).every(l => l === 'pvr-sdk'),
      'logged in as the management container',
    )
    await screenshot(page, 'install-ssh-done')
  })
})
