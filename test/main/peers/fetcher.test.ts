/**
 * ObjectFetcher's decisions, made deterministic: a real library on disk, and
 * stand-in peers behind the node's objects client (honest, lying, vanishing,
 * slow). The real protocol is covered by the protocol and integration tests.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { ErrorCodes, PeerUnavailableError } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import type { PeerNode } from '../../../main/peers/node.js'
import type { RangeSink } from '../../../main/peers/objects/client.js'
import type { RangeRequest } from '../../../main/peers/objects/protocol.js'
import { ObjectFetcher } from '../../../main/peers/pull/fetcher.js'
import { PullTuning } from '../../../main/peers/pull/tuning.js'
import { ProgressTracker, type PullEvent } from '../../../main/peers/pull/progress.js'
import { Library } from '../../../main/store/library.js'
import { tempDir } from '../../helpers/tmp.js'

/** slow: 16 KiB every 250 ms (64 KiB/s: above the floor, far below the others). */
type Behaviour = 'honest' | 'liar' | 'vanish-after-1' | 'missing' | 'slow'

interface Peer {
  behaviour: Behaviour
  delayMs: number
  calls: number
  liar: boolean
}

function fakeNode(data: Map<string, Buffer>, peers: Record<string, Peer>): PeerNode {
  return {
    table: { get: (p: string) => (peers[p] === undefined ? undefined : { liar: peers[p].liar }) },
    markLiar: (p: string) => {
      peers[p].liar = true
    },
    objects: {
      fetch: async (peer: string, req: RangeRequest, sink: RangeSink, signal: AbortSignal) => {
        const p = peers[peer]
        p.calls++
        await new Promise(resolve => setTimeout(resolve, p.delayMs))
        if (signal.aborted) throw new Error('aborted')
        if (p.behaviour === 'missing') throw Object.assign(new Error('no such object'), { code: ErrorCodes.ObjectMissing })
        if (p.behaviour === 'vanish-after-1' && p.calls > 1) throw new PeerUnavailableError(`peer ${peer} is gone`)
        const all = data.get(req.sha)!
        const bytes = Buffer.from(all.subarray(req.offset, req.offset + req.length))
        if (p.behaviour === 'liar') bytes[0] ^= 0xff
        if (p.behaviour === 'slow') {
          for (let at = 0; at < bytes.length; at += 16 << 10) {
            await new Promise(resolve => setTimeout(resolve, 250))
            if (signal.aborted) throw signal.reason
            await sink.write(bytes.subarray(at, Math.min(bytes.length, at + (16 << 10))))
          }
          return { size: all.length, offset: req.offset, length: req.length }
        }
        for (let at = 0; at < bytes.length; at += 256 << 10) await sink.write(bytes.subarray(at, Math.min(bytes.length, at + (256 << 10))))
        return { size: all.length, offset: req.offset, length: req.length }
      },
    },
  } as unknown as PeerNode
}

async function setup(t: Parameters<typeof tempDir>[0], sizes: number[]) {
  const home = await tempDir(t)
  const library = new Library({ log: silentLogger() }, { home })
  await library.start()
  t.after(async () => {
    await library.stop()
  })
  const data = new Map<string, Buffer>()
  for (const n of sizes) {
    const b = randomBytes(n)
    data.set(createHash('sha256').update(b).digest('hex'), b)
  }
  return { library, data }
}

async function run(library: Library, node: PeerNode, data: Map<string, Buffer>, holders: string[]) {
  const events: PullEvent[] = []
  const progress = new ProgressTracker('rev', 0, data.size, e => events.push(e))
  const f = new ObjectFetcher(
    { library, node, log: silentLogger() },
    { id: 'r'.repeat(64), signal: AbortSignal.timeout(30_000), progress, emit: e => events.push(e) },
  )
  progress.totalBytes = await f.plan([...data].map(([sha, b]) => ({ sha, size: b.length, holders: new Set(holders) })))
  let error: unknown
  try {
    await f.run()
  } catch (err) {
    error = err
  }
  return { events, error, progress }
}

describe('peers: object fetcher', () => {
  it('a liar chosen first as the single source is convicted and the honest peer still delivers', async t => {
    const { library, data } = await setup(t, [20 << 20, 3000])
    // The liar is slow, so it sends less of the first attempt and is the "least suspect" afterwards.
    const peers: Record<string, Peer> = {
      A: { behaviour: 'liar', delayMs: 60, calls: 0, liar: false },
      B: { behaviour: 'honest', delayMs: 0, calls: 0, liar: false },
    }
    const { events, error } = await run(library, fakeNode(data, peers), data, ['A', 'B'])
    assert.equal(error, undefined, String(error))
    for (const [sha, b] of data) assert.deepEqual(await readFile(library.objects.path(sha)), b)
    assert.equal(peers.A.liar, true)
    assert.equal(peers.B.liar, false)
    assert.ok(events.some(e => e.type === 'liar' && e.peer === 'A'))
  })

  it('a lone liar: the object fails with a hash mismatch and never enters the store', async t => {
    const { library, data } = await setup(t, [5 << 20])
    const peers: Record<string, Peer> = { A: { behaviour: 'liar', delayMs: 0, calls: 0, liar: false } }
    const { error } = await run(library, fakeNode(data, peers), data, ['A'])
    assert.equal((error as { code?: string }).code, ErrorCodes.ObjectHashMismatch)
    assert.equal(peers.A.liar, true)
    for (const sha of data.keys()) assert.equal(await library.objects.has(sha), false)
  })

  it('a peer that vanishes or lacks the object hands its ranges to the others', async t => {
    const { library, data } = await setup(t, [18 << 20, 100])
    const peers: Record<string, Peer> = {
      A: { behaviour: 'vanish-after-1', delayMs: 0, calls: 0, liar: false },
      B: { behaviour: 'missing', delayMs: 0, calls: 0, liar: false },
      C: { behaviour: 'honest', delayMs: 5, calls: 0, liar: false },
    }
    const { events, error } = await run(library, fakeNode(data, peers), data, ['A', 'B', 'C'])
    assert.equal(error, undefined, String(error))
    for (const [sha, b] of data) assert.deepEqual(await readFile(library.objects.path(sha)), b)
    assert.ok(events.some(e => e.type === 'peer-dropped' && e.peer === 'A'))
    assert.equal(
      Object.values(peers).some(p => p.liar),
      false,
      'nobody is called a liar',
    )
  })

  it('a peer far slower than another loses its ranges to it, and is not dropped for it', async t => {
    const { library, data } = await setup(t, [40 << 20])
    const peers: Record<string, Peer> = {
      A: { behaviour: 'honest', delayMs: 0, calls: 0, liar: false },
      S: { behaviour: 'slow', delayMs: 0, calls: 0, liar: false },
    }
    const t0 = Date.now()
    const { events, error, progress } = await run(library, fakeNode(data, peers), data, ['S', 'A'])
    const ms = Date.now() - t0
    assert.equal(error, undefined, String(error))
    for (const [sha, b] of data) assert.deepEqual(await readFile(library.objects.path(sha)), b)
    assert.ok(peers.S.calls > 0, 'the slow peer had ranges')
    // At 64 KiB/s its ranges would have taken minutes.
    assert.ok(ms < PullTuning.slowGraceMs + 6000, `took ${ms} ms`)
    assert.ok((progress.fromPeers().S ?? 0) < 1 << 20, `the slow peer sent ${progress.fromPeers().S} bytes`)
    assert.equal(
      events.some(e => e.type === 'peer-dropped'),
      false,
      'slower is not dropped',
    )
  })
})
