/**
 * A pull on the Peers screen's row (issue #17 item 17) and Retry (item 9):
 * a colleague's laptop (a real `fieldsync serve --no-mdns`) reached through
 * a loopback proxy that slows its bytes down. While a pull
 * runs, the revision's row shows its bar, bytes, rate and ETA and Cancel,
 * and says "pulling N%" where a stopped pull leaves it "incomplete";
 * after a failure (the colleague's Fieldsync stopped), the reason beside
 * Retry, and an error toast; Retry under Transfers runs the same pull again
 * once the colleague is back (restarted on its port), and the
 * error toast goes when it succeeds.
 */
import assert from 'node:assert/strict'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, makeRevision, serve, teamHomes, type Served } from '../integration/peers-harness.js'
import type { Page } from 'playwright-core'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing() ?? (hasMksquashfs() ? null : 'mksquashfs not installed')
const nav = async (page: Page, screen: string) => {
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: screen }).click()
}

/** A TCP proxy on loopback that forwards the server's bytes at `rate` bytes/s (Infinity: as they come), or, blocked, cuts every connection. */
class SlowProxy {
  rate = Infinity
  port = 0
  private blocked = false
  private server?: Server
  private readonly socks = new Set<Socket>()

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = createServer(client => {
      if (this.blocked) {
        client.destroy()
        return
      }
      const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort })
      this.socks.add(client)
      this.socks.add(upstream)
      client.pipe(upstream)
      upstream.on('data', (d: Buffer) => {
        client.write(d)
        if (this.rate === Infinity) return
        upstream.pause()
        setTimeout(
          () => {
            upstream.resume()
          },
          Math.ceil((d.length / this.rate) * 1000),
        )
      })
      const close = () => {
        client.destroy()
        upstream.destroy()
        this.socks.delete(client)
        this.socks.delete(upstream)
      }
      for (const s of [client, upstream]) {
        s.on('error', close)
        s.on('close', close)
      }
    })
    await new Promise<void>(resolve =>
      this.server!.listen(0, '127.0.0.1', () => {
        resolve()
      }),
    )
    this.port = (this.server.address() as { port: number }).port
    return this
  }

  /** Cut every connection, and every new one, until unblock(). */
  block(): void {
    this.blocked = true
    for (const s of this.socks) s.destroy()
  }

  unblock(): void {
    this.blocked = false
  }

  addr(peerId: string): string {
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${peerId}`
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy()
    await new Promise<void>(resolve => {
      if (this.server === undefined) resolve()
      else
        this.server.close(() => {
          resolve()
        })
    })
  }
}

describe('a pull on the Peers row, cancel, failure and Retry', { skip: skip ?? false, timeout: 180_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let served: Served
  let proxy: SlowProxy
  let colleague: string
  const cleanups: Array<() => Promise<void> | void> = []
  const t = {
    after: (fn: () => Promise<void> | void) => {
      cleanups.push(fn)
    },
  }

  before(async () => {
    const work = await tempDir(t as { after: (fn: () => Promise<void>) => void })
    const homes = await teamHomes(work, 2)
    colleague = homes[0]
    const mine = homes[1]
    // 24 MiB of squashfs: at 3 MiB/s through the proxy, a pull runs for seconds.
    await importRev(colleague, await makeRevision(join(work, 'src'), 'big', 24 << 20), 'big')
    served = await serve(t, colleague)
    proxy = await new SlowProxy(served.port).start()
    ui = await startUi(mine, ['--peer', proxy.addr(served.peerId)])
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    await proxy?.close()
    for (const c of cleanups.reverse()) await c()
  })

  it('while a pull runs, its row shows the bar, the bytes, the rate and the ETA; Cancel stops it', async () => {
    const { page } = b
    await page.goto(ui.url)
    await nav(page, 'Peers')
    const card = page.locator(`[data-peer="${served.peerId}"]`)
    const pull = card.getByRole('button', { name: 'Pull big' })
    await pull.waitFor({ timeout: 30_000 })
    proxy.rate = 3 << 20
    await pull.click()
    const cell = card.getByTestId('pull-progress')
    await cell.filter({ hasText: /MiB of [\d.]+ MiB · [\d.]+ [KM]iB\/s · ETA / }).waitFor({ timeout: 30_000 })
    await cell.getByRole('progressbar', { name: 'Pulling big' }).waitFor()
    assert.match(await cell.innerText(), /of 24\.\d MiB/)
    // The pull stores the revision's state first: the library holds it
    // incomplete while the pull fills it, and its row says it is being
    // pulled, with its progress, not "incomplete".
    const here = card.locator('tbody tr[data-local="partial"]', { hasText: 'big' }).getByTestId('rev-here')
    await here.waitFor({ timeout: 30_000 })
    assert.equal(await cell.count(), 1, 'the pull still runs')
    assert.match(await here.innerText(), /^pulling \d{1,2}%$/)
    await screenshot(page, 'peers-pull-row')
    await cell.getByRole('button', { name: 'Cancel the pull of big' }).click()
    await cell.waitFor({ state: 'detached', timeout: 20_000 })
    assert.equal(await pull.innerText(), 'Pull', 'a cancelled pull is not a failure: the button pulls again')
    // Stopped half-way, nothing fills it any more: now it is incomplete.
    await here.getByText('incomplete', { exact: true }).waitFor()
    await screenshot(page, 'peers-pull-cancelled-incomplete')
    await nav(page, 'Transfers')
    await page.locator('[data-testid="transfer"][data-kind="pull"][data-state="cancelled"]').waitFor()
  })

  it("after a failure (the colleague's Fieldsync is gone), the row says why beside Retry, and a toast says it failed", async () => {
    const { page } = b
    proxy.rate = Infinity
    proxy.block()
    // The node also learned the colleague's own address (identify): stop the colleague itself.
    await served.kill()
    await nav(page, 'Peers')
    const card = page.locator(`[data-peer="${served.peerId}"]`)
    await card.getByRole('button', { name: 'Pull big' }).click()
    const failed = card.getByTestId('pull-failed')
    await failed.waitFor({ timeout: 60_000 })
    assert.match(await failed.innerText(), /^Pull failed: \S/)
    await card.getByTestId('rev-here').getByText('incomplete', { exact: true }).waitFor()
    // The reason sits beside the button, which now says Retry.
    const cell = card.locator('.row-progress', { has: page.getByTestId('pull-failed') })
    assert.equal(await cell.getByRole('button', { name: 'Pull big' }).innerText(), 'Retry')
    await page.locator('.toast-bad', { hasText: 'Pull of big failed' }).waitFor()
    await screenshot(page, 'peers-pull-failed', { keepToasts: true })
  })

  it('Retry under Transfers runs the same pull again once the colleague is back; the error toast goes when it succeeds', async () => {
    const { page } = b
    proxy.unblock()
    served = await serve(t, colleague, { port: served.port })
    const card = page.locator(`[data-peer="${served.peerId}"]`)
    await card.getByTestId('peer-state').getByText('connected', { exact: true }).waitFor({ timeout: 60_000 })
    await nav(page, 'Transfers')
    const failed = page.locator('[data-testid="transfer"][data-kind="pull"][data-state="failed"]')
    await failed.getByRole('button', { name: /^Retry pull / }).click()
    await page.locator('[data-testid="transfer"][data-kind="pull"][data-state="done"]').waitFor({ timeout: 60_000 })
    await failed.getByText('retried').waitFor()
    assert.equal(await failed.getByRole('button', { name: /^Retry/ }).count(), 0, 'a retried transfer is not retried twice')
    await page.locator('.toast-bad', { hasText: 'Pull of big failed' }).waitFor({ state: 'detached', timeout: 10_000 })
    await screenshot(page, 'transfers-retried')
    await nav(page, 'Peers')
    await card.getByText('Nothing here that this laptop lacks').waitFor({ timeout: 20_000 })
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
