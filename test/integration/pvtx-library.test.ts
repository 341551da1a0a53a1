/**
 * `fieldsync pvtx` with library revisions where a file is expected (a
 * Fieldsync addition): `begin <rev>` starts from its stored bytes, `add <rev>`
 * brings its objects from the library into a local transaction's objects
 * folder; an incomplete revision is refused; a file of the same name wins.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { pvtxDataDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fieldsyncPvtxBin, run, type Run } from './pvtx-harness.js'

const res = (f: string): string => join(pvtxDataDir, 'resources', f)

describe('fieldsync pvtx with library revisions', { timeout: 120_000 }, () => {
  it('begin <rev> and add <rev>: the stored bytes, the objects from the library; incomplete revisions refused', async t => {
    const dir = await tempDir(t, 'fieldsync-pvtx-lib-')
    const home = join(dir, 'library')
    for (const [f, name] of [
      ['pvwificonnect.tgz', 'wifi'],
      ['watchdog_pinger.tar', 'watchdog'],
      ['initial_state.json', 'initial'],
    ]) {
      assert.equal((await runCli(['import', res(f), '--name', name], { home })).code, 0)
    }
    const bin = fieldsyncPvtxBin(join(dir, 'bin'))
    const pvtx = async (args: string[]): Promise<Run> =>
      await run(join(bin, 'pvtx'), args, { env: { PVTXDIR: join(dir, 'pvtxdir'), FIELDSYNC_HOME: home }, cwd: dir })
    const objects = join(dir, 'objects')
    await mkdir(objects)

    assert.equal((await pvtx(['begin', 'watchdog', objects])).code, 0)
    const wd = (await pvtx(['show'])).stdout.toString()
    assert.equal(wd, execFileSync('tar', ['-xOf', res('watchdog_pinger.tar'), 'json']).toString() + '\n', "begin <rev>: the revision's stored bytes")
    const add = await pvtx(['add', 'wifi'])
    assert.equal(add.code, 0, add.stderr)
    const files = readdirSync(objects).sort()
    assert.equal(files.length, 3, "the package's objects (watchdog's were never put there: begin brings no objects)")
    assert.ok(
      files.every(f => statSync(join(objects, f)).nlink >= 2),
      'hard-linked from the library, not copied',
    )
    const state = JSON.parse((await pvtx(['show'])).stdout.toString()) as Record<string, unknown>
    assert.ok('_sigs/pvwificonnect.json' in state && 'watchdog_pinger/run.json' in state)

    const incomplete = await pvtx(['add', 'initial'])
    assert.equal(incomplete.code, 255)
    assert.match(incomplete.stderr, /revision initial is incomplete: 21 object\(s\) missing/)

    const unknown = await pvtx(['add', 'no-such-thing'])
    assert.equal(unknown.code, 255)
    assert.match(unknown.stderr, /no such file, and no library revision/)
  })
})
