/**
 * `fieldsync compose`: new library revisions composed with pvtx's engine,
 * through the CLI on a real library. The result is upstream's expected state;
 * operations apply in the order given; the signature verdict is the
 * device's, naming the signature the composition broke; a result the
 * device's parser would refuse is not saved.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createLogger } from '../../main/log.js'
import { Library } from '../../main/store/library.js'
import { canonicalJson, parseJsonText } from '../../shared/state/index.js'
import { runCli } from '../helpers/cli.js'
import { pvtxDataDir, vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'

const res = (f: string): string => join(pvtxDataDir, 'resources', f)
const DEV_CA = join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')
const SPEC = 'pantavisor-service-system@1'

async function library(t: {
  after: (fn: () => Promise<void>) => void
}): Promise<{ home: string; dir: string; cli: (args: string[]) => ReturnType<typeof runCli> }> {
  const dir = await tempDir(t, 'fieldsync-compose-')
  const home = join(dir, 'home')
  const cli = async (args: string[]) => await runCli(['--json', ...args], { home })
  assert.equal((await cli(['trust', 'add', DEV_CA])).code, 0)
  assert.equal((await cli(['import', res('initial_state.json'), '--name', 'initial'])).code, 0)
  assert.equal((await cli(['import', res('pvwificonnect.tgz'), '--name', 'wifi'])).code, 0)
  return { home, dir, cli }
}

describe('fieldsync compose', { timeout: 180_000 }, () => {
  it("pvwificonnect onto initial_state: upstream's expected state, saved under the new name, parts and keys said", async t => {
    const { cli, home } = await library(t)
    const r = await cli(['compose', 'initial', '--add', 'wifi', '--name', 'initial+wifi'])
    assert.equal(r.code, 0, r.stderr)
    const out = r.json()
    assert.deepEqual(out.parts, { added: ['pvwificonnect'], replaced: [], removed: [], unchanged: [] })
    assert.equal(out.keys.added.length, 6)
    assert.equal(out.saved, true)
    const show = (await cli(['show', 'initial+wifi'])).json()
    assert.equal(show.revision.id, out.id)
    const exp = canonicalJson(parseJsonText(readFileSync(join(pvtxDataDir, 'expected', 'state_after_pvwificonnect.json'), 'utf8')))
    const stored = await storedState(home, out.id)
    assert.equal(canonicalJson(parseJsonText(stored)), exp)
    assert.ok(stored.startsWith(`{"#spec":"${SPEC}","_config/awconnect/`), "stored in pvtx's form, as the device would get it from pvtx")
  })

  it('takes a package file (imported first) and honours the order of --add and --remove', async t => {
    const { cli } = await library(t)
    const addThenRemove = await cli(['compose', 'initial', '--add', res('awconnect.json'), '--remove', 'awconnect', '--dry-run'])
    assert.equal(addThenRemove.code, 0, addThenRemove.stderr)
    assert.deepEqual(addThenRemove.json().parts.removed, ['awconnect'])
    const removeThenAdd = await cli(['compose', 'initial', '--remove', 'awconnect', '--add', res('awconnect.json'), '--dry-run'])
    assert.deepEqual(removeThenAdd.json().parts.removed, [])
    assert.deepEqual(removeThenAdd.json().parts.replaced, ['awconnect'])
    assert.equal(removeThenAdd.json().saved, false)
    const ls = (await cli(['ls'])).json() as Array<{ name: string }>
    assert.deepEqual(ls.map(x => x.name).sort(), ['awconnect', 'initial', 'wifi'], 'the package file was imported; dry runs save nothing else')
  })

  it('says which signature the composition broke, as the device would refuse it', async t => {
    const { cli, dir } = await library(t)
    // a "config override" that replaces a file pvwificonnect's signature covers
    const pkg = join(dir, 'override.json')
    writeFileSync(pkg, JSON.stringify({ '#spec': SPEC, 'pvwificonnect/lxc.container.conf': 'c'.repeat(64) }))
    const r = await cli(['compose', 'wifi', '--add', pkg, '--name', 'wifi-override'])
    assert.equal(r.code, 0, r.stderr)
    const s = r.json().signature
    assert.equal(s.pass, false)
    assert.equal(s.policy, 'lenient')
    assert.match(s.device, /422 "Secureboot: Signature validation failed"/)
    assert.deepEqual(
      s.broken.map((b: { key: string }) => b.key),
      ['_sigs/pvwificonnect.json'],
    )
    assert.match(s.broken[0].message, /does not match the payload/)
    const text = (await runCli(['compose', 'wifi', '--add', pkg, '--dry-run'], { home: join(dir, 'home') })).stdout
    assert.match(text, /broken by this composition: _sigs\/pvwificonnect\.json/)
    // the package's own signature, untouched: it still verifies
    const ok = await cli(['compose', 'initial', '--add', 'wifi', '--dry-run'])
    assert.deepEqual(ok.json().signature.broken, [])
  })

  it('in strict mode, an unsigned key is refused as the device refuses it', async t => {
    const { cli, dir } = await library(t)
    assert.equal((await cli(['trust', 'policy', 'strict'])).code, 0)
    const pkg = join(dir, 'extra.json')
    writeFileSync(pkg, JSON.stringify({ '#spec': SPEC, '_config/pvwificonnect/extra.conf': 'd'.repeat(64) }))
    const r = (await cli(['compose', 'wifi', '--add', pkg, '--dry-run'])).json()
    assert.equal(r.signature.pass, false)
    assert.match(r.signature.device, /State not fully covered by signatures/)
    assert.match(r.signature.reason, /_config\/pvwificonnect\/extra\.conf/)
    assert.deepEqual(r.signature.broken, [], 'no signature broke: a key is uncovered')
  })

  it("does not save what the device's parser would refuse, and says why", async t => {
    const { cli, dir } = await library(t)
    const pkg = join(dir, 'bad.json')
    writeFileSync(pkg, JSON.stringify({ '#spec': SPEC, 'app/run.json': { name: 'app' } }))
    const r = await cli(['compose', 'wifi', '--add', pkg, '--name', 'broken'])
    assert.equal(r.code, 1)
    assert.equal(r.json().error.code, 'E_INVALID_STATE')
    assert.match(r.stderr, /app\/run\.json/)
    assert.equal((await cli(['show', 'broken'])).code, 1, 'nothing saved')
    const usage = await cli(['compose', 'wifi', '--add', pkg])
    assert.equal(usage.code, 2, 'a name or --dry-run is needed')
  })
})

/** The bytes the library stores for a revision (read with the library itself, after the CLI is done). */
async function storedState(home: string, id: string): Promise<string> {
  const lib = new Library({ log: createLogger('test') }, { home })
  await lib.start()
  try {
    return new TextDecoder().decode(lib.state(id).raw)
  } finally {
    await lib.stop()
  }
}
