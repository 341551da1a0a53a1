/**
 * Pulls that go wrong, between real processes on loopback (--no-mdns): a
 * seeder killed mid-transfer, a seeder that lies, an outsider with another
 * team secret, and a puller killed with -9 then resumed.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { PullTuning } from '../../main/peers/pull/tuning.js'
import { TeamStore } from '../../main/peers/team.js'
import { runCli } from '../helpers/cli.js'
import { cliBin } from '../helpers/paths.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { CountingProxy, importRev, lsHome, makeRevision, serve, teamHomes, verifyHome } from './peers-harness.js'

function partialsDone(home: string): number {
  const db = new Database(join(home, 'index.db'), { readonly: true })
  try {
    const rows = db.prepare('SELECT done FROM peer_partials').all() as Array<{ done: string }>
    return rows.reduce((n, r) => n + (JSON.parse(r.done) as Array<[number, number]>).reduce((m, [s, e]) => m + e - s, 0), 0)
  } finally {
    db.close()
  }
}

describe('peers: faults', { concurrency: false }, () => {
  it('a seeder killed mid-transfer hands its ranges to the other', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, b, c] = await teamHomes(dir, 3)
    const rev = await makeRevision(join(dir, 'src'), 'k', 40 << 20)
    const id = await importRev(a, rev, 'k')
    await importRev(b, rev, 'k')
    const sa = await serve(t, a)
    const sb = await serve(t, b)
    const pa = await new CountingProxy(sa.port).start(t)
    pa.stallAfter = 6 << 20
    const pull = runCli(['pull', 'k', '--no-mdns', '--peer', pa.addr(sa.peerId), '--peer', sb.addr, '--json'], { home: c, timeoutMs: 60_000 })
    await pa.stalled()
    await sa.kill()
    // Its connections die with it (the stalled proxy would otherwise hide the close until the idle timeout).
    await pa.close()
    const r = await pull
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json().id, id)
    assert.ok(r.json().fromPeers[sb.peerId] > 0)
    assert.equal((await lsHome(c)).find(x => x.id === id)?.complete, true)
    assert.deepEqual(await verifyHome(c), { checked: rev.objects.length, corrupt: [], missing: [] })
  })

  it('a seeder that sends corrupt ranges: the objects still arrive, correct, from the other', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, b, c] = await teamHomes(dir, 3)
    const rev = await makeRevision(join(dir, 'src'), 'm', 24 << 20)
    const id = await importRev(a, rev, 'm')
    await importRev(b, rev, 'm')
    const liar = await serve(t, a, { liar: true })
    const honest = await serve(t, b)
    const r = await runCli(['pull', 'm', '--no-mdns', '--peer', liar.addr, '--peer', honest.addr, '--json'], { home: c, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json().id, id)
    assert.ok(r.json().fromPeers[honest.peerId] >= rev.bytes, 'everything came (again) from the honest seeder')
    assert.equal((await lsHome(c)).find(x => x.id === id)?.complete, true)
    assert.deepEqual(await verifyHome(c), { checked: rev.objects.length, corrupt: [], missing: [] })
  })

  it('a lying seeder alone: the pull fails with a hash mismatch and nothing bad enters the store', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'l', 1 << 20)
    const id = await importRev(a, rev, 'l')
    const liar = await serve(t, a, { liar: true })
    const r = await runCli(['pull', 'l', '--no-mdns', '--peer', liar.addr, '--json'], { home: c, timeoutMs: 60_000 })
    assert.equal(r.code, 1)
    assert.equal(r.json().error.code, 'E_OBJECT_HASH_MISMATCH')
    const ls = await lsHome(c)
    assert.equal(ls.find(x => x.id === id)?.complete, false, 'the revision stays incomplete')
    assert.deepEqual((await verifyHome(c)).corrupt, [])
  })

  it('an outsider with another team secret gets no connection, no catalog and no bytes', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a] = await teamHomes(dir, 1)
    const outsider = join(dir, 'outsider')
    await new TeamStore(outsider).create({ name: 'other' })
    const rev = await makeRevision(join(dir, 'src'), 'o', 1 << 20)
    const id = await importRev(a, rev, 'o')
    const sa = await serve(t, a)
    const pa = await new CountingProxy(sa.port).start(t)
    const r = await runCli(['pull', id, '--no-mdns', '--peer', pa.addr(sa.peerId), '--json'], { home: outsider })
    assert.equal(r.code, 1)
    assert.equal(r.json().error.code, 'E_NOT_IN_TEAM')
    assert.ok(pa.toClient < 4096, `only a failed handshake crossed: ${pa.toClient} bytes`)
    assert.deepEqual(await lsHome(outsider), [])
    const peers = await runCli(['peers', '--no-mdns', '--peer', sa.addr, '--wait', '0.5', '--json'], { home: outsider })
    assert.equal(peers.code, 0, peers.stderr)
    const seen = (peers.json() as Array<{ id: string; team: boolean; revisions: number }>).find(p => p.id === sa.peerId)
    assert.ok(seen !== undefined && seen.team === false && seen.revisions === 0, JSON.stringify(peers.json()))
    // The seeder never counted it as a peer.
    const ap = (await runCli(['peers', '--json'], { home: a })).json() as Array<{ id: string }>
    assert.equal(ap.length, 0, JSON.stringify(ap))
  })

  it('a pull killed with -9 resumes, fetching again at most what was in flight', async t => {
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a, c] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'r', 48 << 20)
    const id = await importRev(a, rev, 'r')
    const sa = await serve(t, a)
    const p1 = await new CountingProxy(sa.port).start(t)
    p1.stallAfter = 20 << 20
    const child = spawn(process.execPath, [cliBin, '--home', c, 'pull', 'r', '--no-mdns', '--peer', p1.addr(sa.peerId), '--json'], { stdio: 'ignore' })
    const exited = new Promise(resolve => child.once('exit', resolve))
    t.after(() => {
      child.kill('SIGKILL')
    })
    await p1.stalled()
    // Let the writes of what arrived land, then kill without warning.
    await new Promise(resolve => setTimeout(resolve, 500))
    child.kill('SIGKILL')
    await exited
    const kept = partialsDone(c)
    const firstObjectBytes = p1.toClient
    assert.ok(kept > 0, 'progress was saved')
    const p2 = await new CountingProxy(sa.port).start(t)
    const r = await runCli(['pull', 'r', '--no-mdns', '--peer', p2.addr(sa.peerId), '--json'], { home: c, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    const res = r.json()
    assert.equal(res.id, id)
    assert.equal(res.bytes, rev.bytes - kept, 'the second pull fetches exactly what was not saved')
    const refetched = firstObjectBytes + res.bytes - rev.bytes
    assert.ok(refetched <= PullTuning.slotsPerPeer * PullTuning.rangeBytes, `re-fetched ${refetched} bytes, more than the ranges in flight`)
    assert.ok(refetched <= PullTuning.rangeBytes, `re-fetched ${refetched} bytes: under one range for the one object in flight`)
    t.diagnostic(
      `killed after ${firstObjectBytes} bytes on the wire; ${kept} bytes were saved; the resumed pull fetched ${res.bytes}; re-fetched ${refetched} bytes (protocol overhead included)`,
    )
    assert.equal((await lsHome(c)).find(x => x.id === id)?.complete, true)
    assert.deepEqual((await verifyHome(c)).corrupt, [])
  })
})
