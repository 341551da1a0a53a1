/**
 * The app's signature verdicts (main/app/handlers/signatures.ts, issue #15
 * item 15): verified in a worker thread, so a costly state never blocks the
 * thread that answers the API; cached per revision and trust-store version,
 * so a listing costs nothing until the trust store changes, and a change (a
 * CA added) gives the new verdict at once; a verification past its deadline
 * is INVALID and the next revision is still checked.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { describe, it, type TestContext } from 'node:test'
import { App } from '../../../main/app/index.js'
import { SignatureChecks } from '../../../main/app/handlers/signatures.js'
import { silentLogger } from '../../../shared/log.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

/** A state whose 900 signatures each test every one of its 20,000 keys: about a second of glob tests. */
function costlyState(): string {
  const st: Record<string, unknown> = {
    '#spec': 'pantavisor-service-system@1',
    'bsp/run.json': { linux: 'kernel.img', initrd: 'pantavisor' },
    'bsp/kernel.img': 'a'.repeat(64),
    'bsp/pantavisor': 'b'.repeat(64),
  }
  for (let i = 0; i < 20_000; i++) st[`k${i}/c.json`] = {}
  for (let i = 0; i < 900; i++) {
    const ph = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'PVS', pvs: { include: [`*${i}/**`], exclude: [] } })).toString('base64url')
    st[`_sigs/j${i}.json`] = { '#spec': 'pvs@2', protected: ph, signature: 'AAAA' }
  }
  return JSON.stringify(st)
}

async function setup(t: TestContext): Promise<{ app: App; checks: SignatureChecks; wifi: string; costly: string }> {
  const home = await tempDir(t, 'sig-checks-')
  const app = new App({ home, log: silentLogger() })
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  const wifi = (await app.importer.importPath(join(vendoredUpstreamDir, 'pvwificonnect.tgz'), { name: 'wifi' })).id
  const dir = await tempDir(t, 'sig-costly-')
  await mkdir(join(dir, 'objects'), { recursive: true })
  await writeFile(join(dir, 'json'), costlyState())
  const costly = (await app.importer.importPath(join(dir, 'json'), { name: 'costly' })).id
  const checks = new SignatureChecks({ library: app.library, trust: () => app.trust, fresh: async () => {}, home, log: silentLogger() })
  t.after(async () => {
    await checks.stop()
  })
  return { app, checks, wifi, costly }
}

describe('signature verdicts in the app', () => {
  it('a costly state is verified off the API thread: the thread keeps turning meanwhile', async t => {
    const { checks, costly } = await setup(t)
    let turns = 0
    let done = false
    const v = checks.verdict(costly).finally(() => {
      done = true
    })
    while (!done) {
      turns++
      await tick()
    }
    assert.equal((await v)?.status.state, 'invalid')
    assert.match((await v)?.status.summary ?? '', /too costly to check/)
    assert.ok(turns > 50, `the API thread turned ${turns} times while the state was verified`)
  })

  it('verdicts are cached per trust-store version: a CA added gives the new verdict at once', async t => {
    const { app, checks, wifi } = await setup(t)
    const before = await checks.verdict(wifi)
    assert.equal(before?.status.state, 'untrusted')
    assert.equal(await checks.verdict(wifi), before, 'the same verdict object: cached, not verified again')
    await app.trust.add(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'))
    const after = await checks.verdict(wifi)
    assert.notEqual(after?.status.state, 'untrusted')
    assert.match(after?.status.summary ?? '', /^signed by pv-developer-01 \(Pantavisor Dev CA\)/)
    assert.equal(after?.view?.signatures[0].verdict, 'valid')
  })

  it('a verification past its deadline is INVALID, and the next revision is checked by a new worker', async t => {
    const { app, costly, wifi } = await setup(t)
    const checks = new SignatureChecks(
      { library: app.library, trust: () => app.trust, fresh: async () => {}, home: app.home, log: silentLogger() },
      { deadlineMs: 1 },
    )
    t.after(async () => {
      await checks.stop()
    })
    const [slow, next] = await Promise.all([checks.verdict(costly), checks.verdict(wifi)])
    assert.match(slow?.status.summary ?? '', /^INVALID: checking its signatures took over/)
    // The wifi check may hit the 1 ms deadline too; with a sane deadline it is verified.
    const sane = new SignatureChecks({ library: app.library, trust: () => app.trust, fresh: async () => {}, home: app.home, log: silentLogger() })
    t.after(async () => {
      await sane.stop()
    })
    assert.ok(next !== undefined)
    assert.equal((await sane.verdict(wifi))?.status.state, 'untrusted')
  })
  it('the policy check before an install, a rollout or a USB write runs in the worker too: a costly state is refused while the API thread keeps turning', async t => {
    const { app, checks, costly, wifi } = await setup(t)
    let turns = 0
    let done = false
    const p = checks.policy(app.library.state(costly).raw).finally(() => {
      done = true
    })
    p.catch(() => {})
    while (!done) {
      turns++
      await tick()
    }
    await assert.rejects(
      p,
      (err: Error & { code?: string }) => err.code === 'E_POLICY_REFUSED' && /refused by the signature policy .*more than 2000000 glob tests/.test(err.message),
    )
    assert.ok(turns > 50, `the API thread turned ${turns} times while the policy was checked`)
    // The policy of this home decides, as checkPolicy does: a signer whose CA is not trusted here is refused, let through once it is.
    await assert.rejects(checks.policy(app.library.state(wifi).raw), (err: Error & { code?: string }) => err.code === 'E_POLICY_REFUSED')
    await app.trust.add(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'))
    await checks.policy(app.library.state(wifi).raw)
  })
  it('the verdict on a composition (compose preview, a package install plan) comes from the worker too', async t => {
    const { app, checks, costly, wifi } = await setup(t)
    const raw = app.library.state(wifi).raw
    const v = await checks.composition(raw, [raw])
    assert.equal(v.pass, false, 'untrusted here')
    assert.match(v.summary, /pv-developer-01/)
    let turns = 0
    let done = false
    const slow = checks.composition(app.library.state(costly).raw, []).finally(() => {
      done = true
    })
    while (!done) {
      turns++
      await tick()
    }
    assert.match((await slow).summary, /too costly to check/)
    assert.ok(turns > 50, `the API thread turned ${turns} times meanwhile`)
  })
})
