/**
 * Issue #17 item 3, in the core: a trust store changed by another process
 * (`fieldsync trust add|rm|policy`, the real CLI) while the app runs takes
 * effect at once: the app reads it again (fs.watch, and a stat check on read
 * as a fallback), the verdicts follow, and 'trust' and 'revision' events tell
 * the screens.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ApiEvents, EventName } from '../../../shared/api/contract.js'
import { silentLogger } from '../../../shared/log.js'
import { ApiCore } from '../../../main/app/handlers/index.js'
import { App } from '../../../main/app/index.js'
import { TrustStore } from '../../../main/trust/store.js'
import { runCli } from '../../helpers/cli.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

const DEV_CA = join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')

async function startCore(t: TestContext): Promise<{ app: App; core: ApiCore; home: string; wifi: string }> {
  const home = await tempDir(t, 'trust-live-')
  const app = new App({ home, log: silentLogger() })
  await app.start()
  const wifi = (await app.importer.importPath(join(vendoredUpstreamDir, 'pvwificonnect.tgz'), { name: 'wifi' })).id
  const core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
  await core.start()
  t.after(async () => {
    await core.stop()
    await app.stop()
  })
  return { app, core, home, wifi }
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
