/**
 * Issue #17 item 3, in the core: a trust store changed by another process
 * (`fieldsync trust add|rm|policy`, the real CLI) while the app runs takes
 * effect at once: the app reads it again (fs.watch, and a stat check on read
 * as a fallback), the verdicts follow, and 'trust' and 'revision' events tell
 * the screens. Item 9: a failed transfer keeps its request and runs it again
 * with `transfers.retry`.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ApiEvents, EventName } from '../../../shared/api/contract.js'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { ApiCore } from '../../../main/app/handlers/index.js'
import { App } from '../../../main/app/index.js'
import { TrustStore } from '../../../main/trust/store.js'
import { runCli } from '../../helpers/cli.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

const DEV_CA = join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')

async function startCore(t: TestContext): Promise<{ app: App; core: ApiCore; home: string; wifi: string; pinger: string }> {
  const home = await tempDir(t, 'trust-live-')
  const app = new App({ home, log: silentLogger() })
  await app.start()
  const wifi = (await app.importer.importPath(join(vendoredUpstreamDir, 'pvwificonnect.tgz'), { name: 'wifi' })).id
  // Unsigned: the default (lenient) policy lets it onto a stick.
  const pinger = (await app.importer.importPath(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), { name: 'pinger' })).id
  const core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
  await core.start()
  t.after(async () => {
    await core.stop()
    await app.stop()
  })
  return { app, core, home, wifi, pinger }
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

async function wifiSignature(core: ApiCore, id: string): Promise<string> {
  const list = await call(core, 'library.list', {})
  return list.revisions.find((r: { id: string }) => r.id === id).signature.state
}

describe('trust store changed by another process while the app runs', { timeout: 60_000 }, () => {
  it('`fieldsync trust add` from the CLI: events tell the screens, and the verdict turns valid without a restart', async t => {
    const { core, home, wifi } = await startCore(t)
    assert.equal(await wifiSignature(core, wifi), 'untrusted')
    const trustEvent = next(core, 'trust')
    const revEvent = next(core, 'revision', p => p.id === wifi)
    const r = await runCli(['trust', 'add', DEV_CA], { home })
    assert.equal(r.code, 0, r.stderr)
    await trustEvent
    await revEvent
    // Signed by a trusted CA now (valid, or a warning for keys the signature leaves uncovered).
    assert.match(await wifiSignature(core, wifi), /^(valid|warning)$/)
    const listed = await call(core, 'trust.list', {})
    assert.equal(listed.entries.length, 1)
    assert.deepEqual(
      listed.entries[0].verifies.map((v: { name: string }) => v.name),
      ['wifi'],
    )
    // And back: `trust rm` and `trust policy` from the CLI count too.
    const removed = next(core, 'trust')
    assert.equal((await runCli(['trust', 'rm', listed.entries[0].fingerprint], { home })).code, 0)
    await removed
    assert.equal(await wifiSignature(core, wifi), 'untrusted')
    const policy = next(core, 'trust')
    assert.equal((await runCli(['trust', 'policy', 'strict'], { home })).code, 0)
    await policy
    assert.equal((await call(core, 'trust.list', {})).policy, 'strict')
  })

  it('without a watch, a stat check on read sees what another process changed (and reads nothing when nothing changed)', async t => {
    const home = await tempDir(t, 'trust-stat-')
    const mine = new TrustStore({ log: silentLogger() }, { home })
    await mine.start()
    const other = new TrustStore({ log: silentLogger() }, { home })
    await other.start()
    assert.equal(await mine.refreshIfChanged(), false)
    const before = mine.version()
    await other.add(DEV_CA)
    assert.equal(await mine.refreshIfChanged(), true)
    assert.equal(mine.list().length, 1)
    assert.notEqual(mine.version(), before)
    assert.equal(await mine.refreshIfChanged(), false)
    await other.setPolicy('audit')
    assert.equal(await mine.refreshIfChanged(), true)
    assert.equal(mine.policy(), 'audit')
  })
})

describe('retrying a failed transfer', { timeout: 60_000 }, () => {
  it('a failed USB write runs again with the same request once the stick is there; the old one says it was retried', async t => {
    const { core, pinger } = await startCore(t)
    const stick = join(await tempDir(t, 'stick-'), 'not-mounted-yet')
    const failed = await core.dispatch('usb.export', { revs: [pinger], folder: stick })
    assert.equal(failed.ok, false)
    const first = (await call(core, 'transfers.list', {})).find((x: { kind: string }) => x.kind === 'usb-export')
    assert.equal(first.state, 'failed')
    assert.equal(first.retryable, true)
    await mkdir(stick)
    const done = next(core, 'transfer', p => p.retryOf === first.id && p.state === 'done')
    const { id } = await call(core, 'transfers.retry', { id: first.id })
    assert.notEqual(id, first.id)
    const again = await done
    assert.equal(again.id, id)
    assert.equal(again.label, first.label)
    const old = (await call(core, 'transfers.list', {})).find((x: { id: string }) => x.id === first.id)
    assert.equal(old.retriedBy, id)
    // Neither a transfer that succeeded nor one retried already runs again.
    for (const which of [id, first.id]) {
      const env = await core.dispatch('transfers.retry', { id: which })
      assert.equal(env.ok, false)
      assert.equal(!env.ok && env.error.code, ErrorCodes.BadInput)
    }
  })

  it('a transfer that is not there (cleared) is not found', async t => {
    const { core } = await startCore(t)
    const env = await core.dispatch('transfers.retry', { id: '0a1b2c3d4e5f' })
    assert.equal(!env.ok && env.error.code, ErrorCodes.NotFound)
  })
})
