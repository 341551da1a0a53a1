/**
 * Team peers that hold the secret but lie or drag (issue #15, items 4-6): a
 * peer that claims impossible object sizes, and one that drips a byte every
 * two seconds per range. The hostile peer is a real libp2p node in this
 * process whose handlers the test registers (test/helpers/hostile-seeder.ts);
 * the puller and the honest seeder are real `fieldsync` processes
 * (--no-mdns, 127.0.0.1).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../shared/errors.js'
import { runCli } from '../helpers/cli.js'
import { drip, hostileSeeder } from '../helpers/hostile-seeder.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, lsHome, makeRevision, serve, teamHomes, verifyHome } from './peers-harness.js'

const HUGE = Number.MAX_SAFE_INTEGER

describe('peers: hostile team peers', { concurrency: false }, () => {
  for (const [label, claim] of [
    ['2^53-1 bytes', HUGE],
    ['0 bytes', 0],
  ] as const) {
    it(`a lone peer claiming every object is ${label}: the pull fails at once with E_PROTOCOL`, async t => {
      if (!hasMksquashfs()) {
        t.skip('mksquashfs not installed')
        return
      }
      const dir = await tempDir(t)
      const [a, c] = await teamHomes(dir, 2)
      const rev = await makeRevision(join(dir, 'src'), 's', 1 << 20)
      const id = await importRev(a, rev, 's')
      const liar = await hostileSeeder(t, a, { claimSize: () => claim })
      const t0 = Date.now()
      const r = await runCli(['pull', 's', '--no-mdns', '--peer', liar.addr, '--json'], { home: c, timeoutMs: 30_000 })
      const ms = Date.now() - t0
      assert.equal(r.signal, null, `the puller was killed (${r.signal}) after ${ms} ms: ${r.stderr.slice(-500)}`)
      assert.equal(r.code, 1, r.stderr.slice(-2000))
      assert.equal(r.json().error.code, ErrorCodes.Protocol, r.stdout)
      assert.equal(liar.ranges, 0, 'no range was asked for')
      assert.ok(ms < 15_000, `failed after ${ms} ms`)
      assert.equal((await lsHome(c)).find(x => x.id === id)?.complete, false)
    })

    it(`two peers claiming ${label} outvote an honest seeder no more: the pull finishes from the honest one`, async t => {
      if (!hasMksquashfs()) {
        t.skip('mksquashfs not installed')
        return
      }
      const dir = await tempDir(t)
      const [a1, a2, b, c] = await teamHomes(dir, 4)
      const rev = await makeRevision(join(dir, 'src'), 'h', 3 << 20)
      const id = await importRev(a1, rev, 'h')
      for (const h of [a2, b]) await importRev(h, rev, 'h')
      const liars = [await hostileSeeder(t, a1, { claimSize: () => claim }), await hostileSeeder(t, a2, { claimSize: () => claim })]
      const honest = await serve(t, b)
      const r = await runCli(['pull', 'h', '--no-mdns', ...liars.flatMap(l => ['--peer', l.addr]), '--peer', honest.addr, '--json'], {
        home: c,
        timeoutMs: 30_000,
      })
      assert.equal(r.signal, null, `the puller was killed (${r.signal}): ${r.stderr.slice(-500)}`)
      assert.equal(r.code, 0, r.stderr.slice(-2000))
      assert.equal(r.json().id, id)
      assert.equal(r.json().fromPeers[honest.peerId], rev.bytes)
      assert.deepEqual(
        liars.map(l => l.ranges),
        [0, 0],
      )
      assert.deepEqual(await verifyHome(c), { checked: rev.objects.length, corrupt: [], missing: [] })
    })
  }

  it('a lone peer whose have answer is malformed (a size of 2^63): the pull fails with E_PROTOCOL, not "on no peer"', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'b', 1 << 20)
    await importRev(a, rev, 'b')
    const liar = await hostileSeeder(t, a, { claimSize: () => 2 ** 63 })
    const r = await runCli(['pull', 'b', '--no-mdns', '--peer', liar.addr, '--json'], { home: c, timeoutMs: 30_000 })
    assert.equal(r.code, 1, r.stderr.slice(-2000))
    assert.equal(r.json().error.code, ErrorCodes.Protocol, r.stdout)
    assert.equal(liar.ranges, 0)
  })

  it('serve --mirror survives a peer claiming 2^53-1 bytes, and says why it cannot pull', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'm', 1 << 20)
    await importRev(a, rev, 'm')
    const liar = await hostileSeeder(t, a, { claimSize: () => HUGE })
    const mirror = await serve(t, c, { args: ['--mirror', '--peer', liar.addr] })
    // Handed to the running serve through its control socket: the same puller as the mirror's.
    const r = await runCli(['pull', 'm', '--json'], { home: c, timeoutMs: 30_000 })
    assert.equal(r.code, 1, r.stderr.slice(-2000))
    assert.equal(r.json().error.code, ErrorCodes.Protocol, r.stdout)
    assert.equal(mirror.proc.exitCode, null, `serve --mirror died: ${mirror.stderr().slice(-1000)}`)
    const peers = await runCli(['peers', '--json'], { home: c })
    assert.equal(peers.code, 0, peers.stderr)
    assert.ok((peers.json() as Array<{ id: string }>).some(p => p.id === liar.peerId))
    assert.ok(liar.haves >= 1)
  })

  it('a peer dripping 1 byte every 2 s per range loses its ranges to an honest seeder', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, b, c] = await teamHomes(dir, 3)
    const rev = await makeRevision(join(dir, 'src'), 'd', 24 << 20)
    const id = await importRev(a, rev, 'd')
    await importRev(b, rev, 'd')
    const slow = await hostileSeeder(t, a, { sendRange: drip(2000) })
    const honest = await serve(t, b)
    const t0 = Date.now()
    const r = await runCli(['pull', 'd', '--no-mdns', '--peer', slow.addr, '--peer', honest.addr, '--json'], { home: c, timeoutMs: 45_000 })
    const ms = Date.now() - t0
    assert.equal(r.code, 0, `after ${ms} ms: ${r.stderr.slice(-2000)}`)
    assert.equal(r.json().id, id)
    assert.ok(slow.ranges > 0, 'the slow peer was asked for ranges')
    const fromSlow = r.json().fromPeers[slow.peerId] ?? 0
    assert.ok(fromSlow < 100, `the slow peer sent ${fromSlow} bytes`)
    assert.ok(r.json().fromPeers[honest.peerId] >= rev.bytes - fromSlow)
    assert.ok(ms < 20_000, `the pull took ${ms} ms`)
    t.diagnostic(`pull with a dripping peer beside an honest one: ${ms} ms; ${slow.ranges} range(s) asked of the slow peer, ${fromSlow} bytes from it`)
    assert.deepEqual(await verifyHome(c), { checked: rev.objects.length, corrupt: [], missing: [] })
  })

  it('a lone peer dripping 1 byte every 2 s: the pull fails with E_TIMEOUT in seconds, not never', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'e', 1 << 20)
    await importRev(a, rev, 'e')
    const slow = await hostileSeeder(t, a, { sendRange: drip(2000) })
    const t0 = Date.now()
    const r = await runCli(['pull', 'e', '--no-mdns', '--peer', slow.addr, '--json'], { home: c, timeoutMs: 45_000 })
    const ms = Date.now() - t0
    assert.equal(r.code, 1, `after ${ms} ms: ${r.stderr.slice(-2000)}`)
    assert.equal(r.json().error.code, ErrorCodes.Timeout, r.stdout)
    assert.ok(ms < 20_000, `failed after ${ms} ms`)
    t.diagnostic(`a lone dripping peer: the pull failed after ${ms} ms`)
  })
})
