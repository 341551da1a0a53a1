/**
 * Pulling between real `fieldsync` processes on loopback (--no-mdns): three
 * nodes, two seeders serving one pull at once, bytes on the wire, and a pull
 * handed to the `serve` running on the same library.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { CountingProxy, importRev, lsHome, makeRevision, serve, teamHomes, verifyHome } from './peers-harness.js'

describe('peers: pull between processes', { concurrency: false }, () => {
  it('three nodes: two seeders serve one pull at once; only missing bytes cross the wire', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, b, c] = await teamHomes(dir, 3)
    const base = await makeRevision(join(dir, 'src'), 'base', 2 << 20)
    const rev = await makeRevision(join(dir, 'src'), 'big', 40 << 20, 3 << 20)
    const id = await importRev(a, rev, 'big')
    await importRev(b, rev, 'big')
    // c already has the small objects of another revision: they are not fetched again.
    await importRev(c, base, 'base')
    const sa = await serve(t, a)
    const sb = await serve(t, b)
    const pa = await new CountingProxy(sa.port).start(t)
    const pb = await new CountingProxy(sb.port).start(t)
    const r = await runCli(['pull', 'big', '--no-mdns', '--peer', pa.addr(sa.peerId), '--peer', pb.addr(sb.peerId), '--json'], { home: c, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    const res = r.json()
    assert.deepEqual(Object.keys(res), ['id', 'objects', 'bytes', 'fromPeers', 'seconds'])
    assert.equal(res.id, id)
    assert.equal(res.objects, rev.objects.length)
    assert.equal(res.bytes, rev.bytes)
    assert.ok(res.fromPeers[sa.peerId] > 0 && res.fromPeers[sb.peerId] > 0, `both seeders contribute: ${JSON.stringify(res.fromPeers)}`)
    assert.equal(res.fromPeers[sa.peerId] + res.fromPeers[sb.peerId], rev.bytes)
    const wire = pa.toClient + pb.toClient
    assert.ok(wire >= rev.bytes, 'every object byte crossed a proxy')
    assert.ok(wire - rev.bytes < rev.bytes * 0.01, `overhead under 1%: ${wire - rev.bytes} bytes on top of ${rev.bytes}`)
    t.diagnostic(
      `wire ${wire} bytes for ${rev.bytes} bytes of objects: overhead ${((100 * (wire - rev.bytes)) / rev.bytes).toFixed(3)}%; shares ${JSON.stringify(res.fromPeers)}`,
    )
    const ls = await lsHome(c)
    const got = ls.find(x => x.id === id)
    assert.ok(got !== undefined && got.complete && got.name === 'big')
    assert.deepEqual((await verifyHome(c)).corrupt, [])
    // Pulling again is a no-op.
    const again = await runCli(['pull', id, '--no-mdns', '--peer', sa.addr, '--json'], { home: c })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json().objects, 0)
  })

  it('pull hands its work to the serve running on the same library; peers lists team peers', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'small', 3 << 20)
    const id = await importRev(a, rev, 'small')
    const sa = await serve(t, a)
    const sc = await serve(t, c, { args: ['--peer', sa.addr] })
    // The name is one seen on a peer; the pull runs in sc's node (no node of its own: no --peer needed).
    const r = await runCli(['pull', 'small', '--json'], { home: c, env: { DEBUG: 'fieldsync:peers' } })
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /listening on/, 'the pull process started no node of its own')
    assert.equal(r.json().id, id)
    assert.equal(r.json().fromPeers[sa.peerId], rev.bytes)
    const peers = await runCli(['peers', '--json'], { home: c })
    assert.equal(peers.code, 0, peers.stderr)
    const list = peers.json() as Array<Record<string, unknown>>
    const pa = list.find(p => p.id === sa.peerId)
    assert.ok(pa !== undefined, JSON.stringify(list))
    for (const k of ['id', 'name', 'addrs', 'team', 'revisions', 'lastSeen']) assert.ok(k in pa, k)
    assert.equal(pa.team, true)
    assert.equal(pa.revisions, 1)
    assert.ok(typeof pa.name === 'string' && pa.name.length > 0)
    // The revision is in c's library, and a's node learns c's catalog changed.
    assert.equal((await lsHome(c)).find(x => x.id === id)?.complete, true)
    await sc.stop()
    assert.equal(sc.proc.exitCode, 0, sc.stderr())
  })

  it('serve --mirror pulls what a team peer has and it lacks, including revisions added later', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const r1 = await makeRevision(join(dir, 'src'), 'one', 2 << 20)
    const r2 = await makeRevision(join(dir, 'src'), 'two', 2 << 20)
    const id1 = await importRev(a, r1, 'one')
    const sa = await serve(t, a)
    await serve(t, c, { args: ['--mirror', '--peer', sa.addr] })
    const until = async (id: string) => {
      for (let i = 0; i < 100; i++) {
        if ((await lsHome(c)).find(x => x.id === id)?.complete === true) return true
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      return false
    }
    assert.ok(await until(id1), 'mirrored the first revision')
    // Imported into a's library by another process while both nodes run: a announces, c mirrors.
    const id2 = await importRev(a, r2, 'two')
    assert.ok(await until(id2), 'mirrored the revision added later')
    assert.deepEqual((await verifyHome(c)).corrupt, [])
  })

  it('a blocked peer gets no connection', async t => {
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const sa = await serve(t, a)
    await serve(t, c, { args: ['--peer', sa.addr] })
    const peersOfC = async () => (await runCli(['peers', '--json'], { home: c })).json() as Array<{ id: string; connected: boolean }>
    for (let i = 0; i < 50 && !(await peersOfC()).some(p => p.id === sa.peerId && p.connected); i++) await new Promise(resolve => setTimeout(resolve, 100))
    const b = await runCli(['peers', 'block', sa.peerId, '--json'], { home: c })
    assert.equal(b.code, 0, b.stderr)
    assert.equal((await peersOfC()).find(p => p.id === sa.peerId)?.connected, false)
    // Neither c's node (through its serve) nor a fresh node on c's library can reach it now.
    const d = await runCli(['pull', 'anything', '--peer', sa.addr, '--json'], { home: c })
    assert.equal(d.code, 1)
    assert.equal(d.json().error.code, 'E_PEER_UNAVAILABLE')
    const bad = await runCli(['peers', 'block', 'not-a-peer', '--json'], { home: c })
    assert.equal(bad.json().error.code, 'E_BAD_INPUT')
  })
})
