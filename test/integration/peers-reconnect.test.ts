/**
 * A colleague's laptop that restarts comes back on its own (issue #17, item
 * 10): after the peer's `serve` stops, our node lists it as reconnecting
 * (with the time of the next try) instead of only "seen 1 min ago", redials
 * it with backoff, and once it runs again on the same address the pull works
 * without adding it again by hand.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, lsHome, makeRevision, serve, teamHomes } from './peers-harness.js'

interface Peer {
  id: string
  connected: boolean
  reconnecting: boolean
  nextDialAt: string | null
}

describe('peers that come back', () => {
  it('a team peer that restarts on the same address is redialed on its own, shown reconnecting meanwhile, and pulled from', async t => {
    const dir = await tempDir(t)
    const [a, b] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'back', 256 << 10)
    await importRev(b, rev, 'back')
    const sb = await serve(t, b)
    await serve(t, a, { args: ['--peer', sb.addr] })
    const peersOfA = async (): Promise<Peer[]> => {
      const r = await runCli(['peers', '--json'], { home: a })
      assert.equal(r.code, 0, r.stderr)
      return r.json() as Peer[]
    }
    /** Ask a's serve until `pred` holds for b (each answer is one control request; 20 s at most). */
    const until = async (pred: (p: Peer | undefined) => boolean, what: string): Promise<Peer | undefined> => {
      const end = Date.now() + 20_000
      for (;;) {
        const p = (await peersOfA()).find(x => x.id === sb.peerId)
        if (pred(p)) return p
        if (Date.now() > end) throw new Error(`b never became ${what}: ${JSON.stringify(p)}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    await until(p => p?.connected === true, 'connected')

    await sb.stop()
    const gone = await until(p => p?.connected === false && p.reconnecting, 'reconnecting')
    assert.ok(gone?.nextDialAt !== null && Date.parse(gone?.nextDialAt ?? '') > 0, 'the next try is told')
    const text = await runCli(['peers'], { home: a })
    assert.match(text.stdout, /team \(reconnecting\)/)

    // The colleague starts Fieldsync again: same library (same peer id), same port.
    const again = await serve(t, b, { port: sb.port })
    assert.equal(again.peerId, sb.peerId)
    await until(p => p?.connected === true && !p.reconnecting, 'connected again')
    const r = await runCli(['pull', 'back', '--json'], { home: a, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      (await lsHome(a)).map(x => [x.name, x.complete]),
      [['back', true]],
    )
  })
})
