/** A pulled revision shows its signature status as soon as its state arrives, and after the pull. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { serve, teamHomes } from './peers-harness.js'

describe('peers: signature status of a pulled revision', () => {
  it('is shown before the objects arrive and after the pull', async t => {
    const dir = await tempDir(t)
    const [a, b] = await teamHomes(dir, 2)
    const imp = await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'wifi'], { home: a })
    assert.equal(imp.code, 0, imp.stderr)
    for (const h of [a, b]) assert.equal((await runCli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], { home: h })).code, 0)
    const sa = await serve(t, a)
    const r = await runCli(['pull', 'wifi', '--no-mdns', '--peer', sa.addr], { home: b, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /wifi: signed by pv-developer-01 \(Pantavisor Dev CA\)/, 'before the objects arrive')
    assert.match(r.stdout, /signatures: signed by pv-developer-01 \(Pantavisor Dev CA\)/, 'after the pull')
  })
})
