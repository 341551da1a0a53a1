/**
 * Peers through the UI: join a team from the Peers screen, see a colleague's
 * laptop (a real `fieldsync serve --no-mdns` process on loopback) with what it
 * has that we lack, pull with one click, watch the transfer, find the
 * revision complete in the library.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { startServe, type Serve } from './serve.js'
import { chromiumMissing, openBrowser, screenshot, startUi, stopChild, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing()

describe('peers screen in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let serve: Serve
  let code: string
  let wifiId: string
  let colleagueHome: string
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    const work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    const colleague = join(work, 'colleague')
    const created = await runCli(['--json', 'team', 'create', '--name', 'north-sites'], { home: colleague })
    assert.equal(created.code, 0, created.stderr)
    code = created.json().code
    const imp = await runCli(['--json', 'import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'pvwificonnect'], { home: colleague })
    assert.equal(imp.code, 0, imp.stderr)
    wifiId = imp.json().id
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'watchdog_pinger'], { home: colleague })).code, 0)
    colleagueHome = colleague
    serve = await startServe(colleague)
    // This laptop already has watchdog_pinger: the colleague only offers pvwificonnect.
    const mine = join(work, 'mine')
    assert.equal((await runCli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'watchdog_pinger'], { home: mine })).code, 0)
    ui = await startUi(mine, ['--peer', serve.addr])
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    if (serve !== undefined) await stopChild(serve.child)
    for (const c of cleanups) await c()
  })

  it('offers to create or join a team when this laptop is in none', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByRole('link', { name: /^Peers/ }).click()
    await page.getByText('no team yet').waitFor()
    await page.getByRole('button', { name: 'Create team' }).waitFor()
    await screenshot(page, 'peers-no-team')
  })

  it('joins the team with a code; the node starts and the colleague appears with what we lack', async () => {
    const { page } = b
    await page.locator('#team-code').fill(code)
    await page.getByRole('button', { name: 'Join', exact: true }).click()
    await page.getByText('Joined team north-sites').waitFor({ timeout: 20_000 })
    const card = page.locator(`[data-peer="${serve.peerId}"]`)
    await card.waitFor({ timeout: 20_000 })
    await card.getByRole('button', { name: 'Pull pvwificonnect' }).waitFor({ timeout: 20_000 })
    const text = await card.innerText()
    assert.match(text, /colleague-laptop/)
    assert.doesNotMatch(text, /watchdog_pinger/, 'what we already have is not offered')
    await screenshot(page, 'peers')
  })

  it('pulls with one click; the transfer shows the peer share; the revision is complete here', async () => {
    const { page } = b
    await page.locator(`[data-peer="${serve.peerId}"]`).getByRole('button', { name: 'Pull pvwificonnect' }).click()
    await page.getByText('Pulled pvwificonnect').waitFor({ timeout: 60_000 })
    await page.locator(`[data-peer="${serve.peerId}"]`).getByText('Nothing here that this laptop lacks').waitFor({ timeout: 20_000 })
    await page.getByRole('link', { name: /^Transfers/ }).click()
    const t = page.locator('[data-testid="transfer"][data-kind="pull"]')
    await t.waitFor()
    assert.equal(await t.getAttribute('data-state'), 'done')
    assert.match(await t.innerText(), /colleague-laptop/)
    assert.match(await t.innerText(), /3 object\(s\) from 1 peer\(s\) in [\d.]+ s/, 'a finished pull says what it did')
    await screenshot(page, 'transfers-pull')
    const ls = await runCli(['--json', 'show', wifiId], { home: ui.home })
    assert.equal(ls.code, 0, ls.stderr)
    assert.equal(ls.json().revision.complete, true)
    await page.getByRole('link', { name: 'Library' }).first().click()
    await page.getByRole('link', { name: 'pvwificonnect', exact: true }).waitFor()
  })

  it('shows the join code to invite a colleague', async () => {
    const { page } = b
    await page.getByRole('link', { name: /^Peers/ }).click()
    await page.getByRole('button', { name: 'Invite a colleague…' }).click()
    assert.equal(await page.getByTestId('join-code').innerText(), code)
  })

  it('a colleague whose Fieldsync restarts shows as reconnecting, then comes back on its own', async () => {
    const { page } = b
    const card = page.locator(`[data-peer="${serve.peerId}"]`)
    await card.getByText('connected', { exact: true }).waitFor()
    const port = Number(/\/tcp\/(\d+)/.exec(serve.addr)?.[1])
    await stopChild(serve.child)
    await card
      .getByTestId('peer-state')
      .getByText(/^reconnecting… \(seen .*; next try in \d+ s\)$/)
      .waitFor({ timeout: 20_000 })
    await screenshot(page, 'peers-reconnecting')
    serve = await startServe(colleagueHome, { port })
    await card.getByText('connected', { exact: true }).waitFor({ timeout: 30_000 })
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
