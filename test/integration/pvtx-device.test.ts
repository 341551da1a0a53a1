/**
 * `fieldsync pvtx` against a device's pv-ctrl: the device simulator's socket
 * (`fieldsync device-sim --no-mdns --fast`), named with PVTX_CTRL_SOCKET.
 * begin current reads the running state's bytes; add uploads only the
 * objects the device lacks; commit puts the step and --run runs it; a state
 * whose objects the device lacks is refused before anything is sent; queue
 * process current builds on what the device runs.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { pvtxDataDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { curl, DEV_CA, deviceObjects, deviceSteps, makeRev, startSim, waitProgress } from './devices-harness.js'
import { fieldsyncPvtxBin, run, type Run } from './pvtx-harness.js'

const WIFI = join(pvtxDataDir, 'resources', 'pvwificonnect.tgz')

describe('fieldsync pvtx on a device (simulator pv-ctrl)', { timeout: 240_000 }, () => {
  it("begin current, add, commit --run; the step holds the transaction's bytes; missing objects refused", async t => {
    const dir = await tempDir(t, 'fieldsync-pvtx-dev-')
    const sim = await startSim(t, join(dir, 'dev'), ['--trust-ca', DEV_CA])
    const bin = fieldsyncPvtxBin(join(dir, 'bin'))
    const pvtx = async (args: string[], input?: Uint8Array): Promise<Run> =>
      await run(join(bin, 'pvtx'), args, {
        env: { PVTXDIR: join(dir, 'pvtxdir'), PVTX_CTRL_SOCKET: sim.socket, FIELDSYNC_HOME: join(dir, 'library') },
        input,
      })
    const ok = (r: Run, what: string): Run => {
      assert.equal(r.code, 0, `${what}: ${r.stderr}`)
      return r
    }

    // A base with a BSP and one container, put on the device with pvtx itself.
    const base = await makeRev(join(dir, 'base'), 'b1', [{ name: 'app', bytes: 200_000 }])
    ok(await pvtx(['begin', 'empty']), 'begin empty')
    ok(await pvtx(['add', base.tarball]), 'add base')
    const c1 = ok(await pvtx(['commit', 'locals/base', '--run']), 'commit --run')
    assert.equal(c1.stdout.toString(), 'locals/base\n')
    await waitProgress(sim.socket, 'locals/base', s => s === 'DONE' || s === 'UPDATED', 60_000)

    // begin current: exactly the bytes the device runs
    ok(await pvtx(['begin']), 'begin (current)')
    const current = await curl(sim.socket, ['-X', 'GET', 'http://localhost/steps/current'])
    assert.equal(current.status, 200)
    assert.equal(ok(await pvtx(['show']), 'show').stdout.toString(), current.body + '\n')

    // add a signed package from stdin: its objects go up, those already there do not
    const before = await deviceObjects(sim.socket)
    ok(await pvtx(['add', '-'], await readFile(WIFI)), 'add - < pvwificonnect.tgz')
    const after = await deviceObjects(sim.socket)
    assert.equal(after.size - before.size, 3, "the package's three objects were uploaded")
    const built = ok(await pvtx(['show']), 'show').stdout
    const r = ok(await pvtx(['commit', '--run']), 'commit --run (auto name)')
    const rev = r.stdout.toString().trim()
    assert.match(rev, /^locals\/pvtx-\d+-[0-9a-f]{8}-\d{1,3}$/)
    await waitProgress(sim.socket, rev, s => s === 'DONE' || s === 'UPDATED', 60_000)
    const stored = await curl(sim.socket, ['-X', 'GET', `http://localhost/steps/${rev}`])
    assert.equal(stored.body + '\n', built.toString(), "the step holds the transaction's bytes")
    assert.equal((await pvtx(['show'])).code, 11, 'the transaction ended with the commit')
    const state = JSON.parse(stored.body) as Record<string, unknown>
    assert.ok('_sigs/pvwificonnect.json' in state && 'app/run.json' in state && 'bsp/run.json' in state, 'the package composed onto what the device runs')
    assert.ok((await deviceSteps(sim.socket)).includes(rev))

    // a state naming an object nowhere on the device: refused before the step is put
    const steps = (await deviceSteps(sim.socket)).length
    ok(await pvtx(['begin']), 'begin again')
    const ghost = join(dir, 'ghost.json')
    await writeFile(
      ghost,
      JSON.stringify({ '#spec': 'pantavisor-service-system@1', 'ghost/root.squashfs': 'e'.repeat(64), 'ghost/run.json': { name: 'ghost' } }),
    )
    ok(await pvtx(['add', ghost]), 'add a JSON that names an object')
    const refused = await pvtx(['commit', 'locals/ghost'])
    assert.equal(refused.code, 255)
    assert.match(refused.stderr, /lacks 1 object/)
    assert.equal((await deviceSteps(sim.socket)).length, steps, 'no step was put')
    assert.equal((await pvtx(['commit', 'no-prefix'])).code, 255, 'a name outside locals/ is refused')
    ok(await pvtx(['abort']), 'abort')

    // queue process current: the queue's local transaction starts from the device's state
    ok(await pvtx(['queue', 'new', join(dir, 'queue'), join(dir, 'objects')]), 'queue new')
    ok(await pvtx(['queue', 'remove', 'app']), 'queue remove app')
    ok(await pvtx(['queue', 'process', 'current']), 'queue process current')
    const q = JSON.parse(ok(await pvtx(['show']), 'show').stdout.toString()) as Record<string, unknown>
    assert.ok(!Object.keys(q).some(k => k.startsWith('app/')), 'app removed')
    assert.ok('_sigs/pvwificonnect.json' in q, 'from the state the device runs now')
    assert.equal((await pvtx(['commit'])).code, 12, "a queue's transaction is local")
  })

  it('says where it looked when there is no pv-ctrl socket', async t => {
    const dir = await tempDir(t, 'fieldsync-pvtx-nodev-')
    const bin = fieldsyncPvtxBin(join(dir, 'bin'))
    const r = await run(join(bin, 'pvtx'), ['begin', 'current'], { env: { PVTXDIR: join(dir, 'pvtxdir'), PVTX_CTRL_SOCKET: join(dir, 'no-such-socket') } })
    assert.equal(r.code, 255)
    assert.match(r.stderr, /no-such-socket/)
  })
})
