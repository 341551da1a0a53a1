/**
 * Two `fieldsync pull` processes of one revision into one home at once (no
 * serve to hand the work to), in rounds: each object is fetched by one of
 * them while the other waits for it, and both end with the revision
 * complete. Real processes on loopback (--no-mdns).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { TeamStore } from '../../main/peers/team.js'
import { runCli } from '../helpers/cli.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, makeRevision, serve, teamHomes, verifyHome } from './peers-harness.js'

const ROUNDS = Number(process.env.FIELDSYNC_TEST_ROUNDS ?? 3)

describe('library: two pulls on one home', { concurrency: false }, () => {
  it(`two pull processes of the same revision at once both end complete; the objects verify (${ROUNDS} rounds)`, async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a] = await teamHomes(dir, 1)
    const code = new TeamStore(a).code((await new TeamStore(a).load())!)
    const rev = await makeRevision(join(dir, 'src'), 'two', 24 << 20, 16 << 20)
    const id = await importRev(a, rev, 'two')
    const sa = await serve(t, a)
    for (let i = 0; i < ROUNDS; i++) {
      const c = join(dir, `c${i}`)
      await new TeamStore(c).join(code)
      const pull = async () => await runCli(['pull', 'two', '--no-mdns', '--peer', sa.addr, '--json'], { home: c, timeoutMs: 60_000 })
      const t0 = Date.now()
      const [p, q] = await Promise.all([pull(), pull()])
      t.diagnostic(`round ${i}: both pulls ended after ${Date.now() - t0} ms; fetched ${p.json().objects} + ${q.json().objects} objects`)
      for (const r of [p, q]) {
        assert.equal(r.code, 0, `round ${i}: ${r.stdout} ${r.stderr}`)
        assert.equal(r.json().id, id)
      }
      const v = await verifyHome(c)
      assert.deepEqual([v.checked, v.corrupt, v.missing], [rev.objects.length, [], []], `round ${i}`)
    }
  })
})
