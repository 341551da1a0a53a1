/**
 * Retry (issue #17 item 9), in the core: a transfer started by an API request
 * keeps that request, and `transfers.retry` runs it again once it failed or
 * was cancelled; the new transfer says which one it retries, the old one
 * which one retried it. A browser upload whose import failed is kept for it.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, it, type TestContext } from 'node:test'
import type { ApiEvents, EventName } from '../../../shared/api/contract.js'
import type { TransferInfo } from '../../../shared/api/types.js'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { ApiCore } from '../../../main/app/handlers/index.js'
import { App } from '../../../main/app/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

async function startCore(t: TestContext): Promise<{ core: ApiCore; pinger: string }> {
  const home = await tempDir(t, 'retry-')
  const app = new App({ home, log: silentLogger() })
  await app.start()
  // Unsigned: the default (lenient) policy lets it onto a stick.
  const pinger = (await app.importer.importPath(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), { name: 'pinger' })).id
  const core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
  await core.start()
  t.after(async () => {
    await core.stop()
    await app.stop()
  })
  return { core, pinger }
}

/** The next `event` that `match` accepts. */
function next<E extends EventName>(core: ApiCore, event: E, match: (p: ApiEvents[E]) => boolean = () => true): Promise<ApiEvents[E]> {
  return new Promise(resolve => {
    const off = core.events.onAny((e: EventName, p: unknown) => {
      if (e === event && match(p as ApiEvents[E])) {
        off()
        resolve(p as ApiEvents[E])
      }
    })
  })
}

async function call(core: ApiCore, channel: string, req: unknown): Promise<any> {
  const env = await core.dispatch(channel, req)
  if (!env.ok) throw new Error(`${channel}: ${env.error.code} ${env.error.message}`)
  return env.value
}

async function transfer(core: ApiCore, match: (x: TransferInfo) => boolean): Promise<TransferInfo> {
  const found = ((await call(core, 'transfers.list', {})) as TransferInfo[]).find(match)
  assert.ok(found !== undefined)
  return found
}

describe('retrying a failed transfer', { timeout: 60_000 }, () => {
  it('a failed USB write runs again with the same request once the stick is there; the old one says it was retried', async t => {
    const { core, pinger } = await startCore(t)
    const stick = join(await tempDir(t, 'stick-'), 'not-mounted-yet')
    const failed = await core.dispatch('usb.export', { revs: [pinger], folder: stick })
    assert.equal(failed.ok, false)
    const first = await transfer(core, x => x.kind === 'usb-export')
    assert.equal(first.state, 'failed')
    assert.equal(first.retryable, true)
    await mkdir(stick)
    const done = next(core, 'transfer', p => p.retryOf === first.id && p.state === 'done')
    const { id } = await call(core, 'transfers.retry', { id: first.id })
    assert.notEqual(id, first.id)
    const again = await done
    assert.equal(again.id, id)
    assert.equal(again.label, first.label)
    assert.equal((await transfer(core, x => x.id === first.id)).retriedBy, id)
    // Neither a transfer that succeeded nor one retried already runs again.
    for (const which of [id, first.id]) {
      const env = await core.dispatch('transfers.retry', { id: which })
      assert.equal(!env.ok && env.error.code, ErrorCodes.BadInput)
    }
  })

  it("an import of a browser upload that failed keeps the upload: Retry imports the same bytes again (not 'no such upload')", async t => {
    const { core } = await startCore(t)
    const up = await core.uploads.receive(Readable.from([Buffer.from('not a tarball')]), { filename: 'broken.tgz' })
    const env = await core.dispatch('library.import', { upload: up.id })
    assert.equal(env.ok, false)
    const first = await transfer(core, x => x.kind === 'import')
    assert.equal(first.state, 'failed')
    const ended = next(core, 'transfer', p => p.retryOf === first.id && p.state !== 'running')
    await call(core, 'transfers.retry', { id: first.id })
    const again = await ended
    assert.equal(again.state, 'failed')
    assert.equal(again.error?.code, first.error?.code, 'the same import failed the same way, rather than for a lost upload')
    assert.notEqual(again.error?.code, ErrorCodes.NotFound)
  })

  it('a transfer that is not there (cleared) is not found', async t => {
    const { core } = await startCore(t)
    const env = await core.dispatch('transfers.retry', { id: '0a1b2c3d4e5f' })
    assert.equal(!env.ok && env.error.code, ErrorCodes.NotFound)
  })
})
