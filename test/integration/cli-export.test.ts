/**
 * `fieldsync export` writes the fast .tgz by default (stored deflate blocks,
 * gzip level 0) that tar and pvr read; `--compress` deflates for real; a
 * plain .tar cannot be compressed (issue #17 item 14).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { runCli } from '../helpers/cli.js'
import { deflateBlocks } from '../helpers/gzip.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'

describe('fieldsync export', () => {
  it('writes stored deflate blocks by default, deflates with --compress, refuses --compress for a .tar', async t => {
    const d = await tempDir(t)
    const home = join(d, 'home')
    const imp = await runCli(['--json', 'import', join(vendoredUpstreamDir, 'pvwificonnect.tgz')], { home })
    assert.equal(imp.code, 0, imp.stderr)
    const id = imp.json().id as string

    const fast = join(d, 'fast.tgz')
    const r1 = await runCli(['--json', 'export', id, fast], { home })
    assert.equal(r1.code, 0, r1.stderr)
    const gz = await readFile(fast)
    assert.equal(deflateBlocks(gz).storedOnly, true, 'level 0: stored blocks only')
    assert.ok(gz.length >= gunzipSync(gz).length, 'no smaller than its tar')
    assert.match(execFileSync('tar', ['-tzf', fast], { encoding: 'utf8' }), /^json\nobjects\//)

    const small = join(d, 'small.tgz')
    const r2 = await runCli(['--json', 'export', '--compress', id, small], { home })
    assert.equal(r2.code, 0, r2.stderr)
    const gz2 = await readFile(small)
    assert.equal(deflateBlocks(gz2).storedOnly, false)
    assert.deepEqual(gunzipSync(gz2), gunzipSync(gz), 'the same tar inside')

    for (const f of [fast, small]) {
      const again = await runCli(['--json', 'import', f], { home: join(d, `other-${f.length}`) })
      assert.equal(again.code, 0, again.stderr)
      assert.equal(again.json().id, id)
    }

    const r3 = await runCli(['export', '--compress', id, join(d, 'plain.tar')], { home })
    assert.equal(r3.code, 2, r3.stderr)
  })
})
