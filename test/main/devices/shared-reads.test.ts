/**
 * Shared reads for a rollout wave (main/devices/rollout/shared-reads.ts):
 * readers of one object at about the same time share one library read; a
 * reader that falls out of the window or starts late reads on its own, with
 * the right bytes; a whole small object is kept for the devices that come to
 * it later; a reader that is cancelled leaves the others unharmed.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import { describe, it, type TestContext } from 'node:test'
import { SharedReads, type OpenObject } from '../../../main/devices/rollout/shared-reads.js'
import { tempDir } from '../../helpers/tmp.js'

const MiB = 1 << 20

async function object(t: TestContext, bytes: number): Promise<{ open: OpenObject; sha: string; opened: number[] }> {
  const dir = await tempDir(t, 'shared-reads-')
  const data = randomBytes(bytes)
  const sha = createHash('sha256').update(data).digest('hex')
  await writeFile(join(dir, sha), data)
  const opened: number[] = []
  const open: OpenObject = (s, start, signal) => {
    opened.push(start)
    return createReadStream(join(dir, s), { start, highWaterMark: MiB, signal })
  }
  return { open, sha, opened }
}

/** Read a stream to its end; with `pause`, wait that many ticks between chunks (a slow device). */
async function drain(s: Readable, pause = 0): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256')
  let bytes = 0
  for await (const c of s as AsyncIterable<Buffer>) {
    h.update(c)
    bytes += c.length
    for (let i = 0; i < pause; i++) await tick()
  }
  return { sha: h.digest('hex'), bytes }
}

describe('shared reads', () => {
  it('four devices uploading one object together read it from the library once', async t => {
    const o = await object(t, 10 * MiB)
    const reads = new SharedReads(o.open)
    const got = await Promise.all([0, 1, 2, 3].map(async () => await drain(reads.read(o.sha, new AbortController().signal))))
    for (const g of got) assert.deepEqual(g, { sha: o.sha, bytes: 10 * MiB })
    assert.equal(reads.stats.libraryBytes, 10 * MiB)
    assert.equal(reads.stats.servedBytes, 40 * MiB)
    assert.equal(reads.stats.ownReads, 0)
    assert.deepEqual(o.opened, [0])
  })

  it('a device far behind the others reads the rest on its own, from where it was, and nobody waits for it', async t => {
    const o = await object(t, 12 * MiB)
    const reads = new SharedReads(o.open, 2 * MiB)
    const slow = reads.read(o.sha, new AbortController().signal)
    const fasts = [0, 1].map(() => reads.read(o.sha, new AbortController().signal))
    const slowIt = (slow as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    const head = await slowIt.next()
    assert.equal(head.value?.length, MiB)
    for (const g of await Promise.all(fasts.map(async f => await drain(f)))) assert.deepEqual(g, { sha: o.sha, bytes: 12 * MiB })
    const h = createHash('sha256').update(head.value as Buffer)
    for (let n = await slowIt.next(); n.done !== true; n = await slowIt.next()) h.update(n.value)
    assert.equal(h.digest('hex'), o.sha)
    assert.equal(reads.stats.ownReads, 1)
    // It went on from where it was: after the chunks it had taken (the one read here, and any its stream buffered ahead).
    assert.equal(o.opened.length, 2)
    assert.ok(o.opened[1] >= MiB && o.opened[1] < 12 * MiB && o.opened[1] % MiB === 0, `went on from byte ${o.opened[1]}`)
    assert.equal(reads.stats.libraryBytes, 12 * MiB + (12 * MiB - o.opened[1]))
  })

  it('a device that starts after the start left the window reads on its own; a whole small object is kept for later devices', async t => {
    const big = await object(t, 8 * MiB)
    const reads = new SharedReads(big.open, 2 * MiB, 4 * MiB)
    const first = reads.read(big.sha, new AbortController().signal)
    const it1 = (first as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    for (let i = 0; i < 4; i++) await it1.next()
    assert.deepEqual(await drain(reads.read(big.sha, new AbortController().signal)), { sha: big.sha, bytes: 8 * MiB })
    assert.equal(reads.stats.ownReads, 1)
    first.destroy()

    const small = await object(t, 1.5 * MiB)
    const r2 = new SharedReads(small.open, 2 * MiB, 4 * MiB)
    assert.equal((await drain(r2.read(small.sha, new AbortController().signal))).sha, small.sha)
    assert.equal((await drain(r2.read(small.sha, new AbortController().signal))).sha, small.sha)
    assert.equal(r2.stats.libraryBytes, 1.5 * MiB, 'the second device was served from memory')
    assert.deepEqual(small.opened, [0])
  })

  it('a cancelled device leaves the others with every byte', async t => {
    const o = await object(t, 6 * MiB)
    const reads = new SharedReads(o.open)
    const ac = new AbortController()
    const doomed = reads.read(o.sha, ac.signal)
    const others = [0, 1].map(async () => await drain(reads.read(o.sha, new AbortController().signal), 1))
    const it1 = (doomed as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    await it1.next()
    ac.abort()
    await assert.rejects(it1.next(), { name: 'AbortError' })
    for (const g of await Promise.all(others)) assert.deepEqual(g, { sha: o.sha, bytes: 6 * MiB })
    assert.equal(reads.stats.libraryBytes, 6 * MiB)
  })
})
