/**
 * Conformance: upstream Pantavisor's own pvtx test suite (test/pvtx/pvtx.sh,
 * 29 tests, 58 [OK] lines), run unchanged from ../shared against
 * `fieldsync pvtx` on its bin path, over the vendored copy of its data
 * (test/fixtures/upstream/pvtx, see PROVENANCE.md):
 *
 *   sh ../shared/fixtures/upstream/pvtx/pvtx.sh test/fixtures/upstream/pvtx <bin>
 *
 * Skips with one line when pvtx.sh (or jq, xxd, bc) is absent; fails instead under CI=true.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { pvtxDataDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { assertRunnable, fieldsyncPvtxBin, has, missing, PVTX_SH, run, skipOrFail } from './pvtx-harness.js'

const reason = missing([
  [existsSync(PVTX_SH), `${PVTX_SH} is absent (upstream's pvtx test suite, not part of this repository)`],
  [has('jq'), 'jq is not installed (pvtx.sh compares states with it)'],
  [has('xxd') && has('bc'), 'xxd or bc is not installed (pvtx.sh reads the status file with them)'],
])

/** The test functions pvtx.sh runs, in its order (its main list). */
function upstreamTests(): string[] {
  const sh = readFileSync(PVTX_SH, 'utf8')
  const main = sh.slice(sh.lastIndexOf('\nelse\n'))
  return [...main.matchAll(/^\s+(test_[a-z0-9_]+)\s*$/gm)].map(m => m[1])
}

describe('upstream pvtx.sh against fieldsync pvtx', { skip: skipOrFail(reason), timeout: 900_000 }, () => {
  it('passes all 29 tests (58 [OK] lines)', async t => {
    assertRunnable(reason)
    const work = await tempDir(t, 'fieldsync-pvtx-conf-')
    const bin = fieldsyncPvtxBin(join(work, 'bin'))
    // The script keeps its scratch folder under the bin folder (mktemp -d <bin>/pvtx.test.XXXXXX).
    const r = await run('sh', [PVTX_SH, pvtxDataDir, bin], {
      env: { HOME: join(work, 'home'), FIELDSYNC_HOME: join(work, 'library'), PVTX_TMP_DIR: '', PVTXDIR: '' },
      timeoutMs: 840_000,
    })
    const out = r.stdout.toString()
    const ok = out.split('\n').filter(l => /\[OK\]\s*$/.test(l))
    const tests = upstreamTests()
    assert.equal(tests.length, 29, 'pvtx.sh lists 29 tests')
    const passed = ok.map(l => l.trim().split(/\s+/)[0])
    // a test prints its name, or its name with _1, _2, _canonical for each check
    const failed = tests.filter(n => !passed.some(p => p === n || p.startsWith(`${n}_`)))
    assert.deepEqual(failed, [], `tests without [OK]:\n${out}\n${r.stderr}`)
    assert.equal(ok.length, 58, out)
    assert.equal(r.code, 0, r.stderr)
  })
})
