/**
 * Partial objects on disk: ranges written through RangeWriter (O_DIRECT where
 * the file system takes it, buffered otherwise) land at their offsets with no
 * padding, whatever their alignment, and the hashing thread (O_DIRECT reads
 * from block boundaries) gets the right digest when told of the written
 * prefix in unaligned steps.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { silentLogger } from '../../../shared/log.js'
import { HashWorker } from '../../../main/peers/pull/hash-worker.js'
import { PartialStore } from '../../../main/peers/pull/partials.js'
import { Library } from '../../../main/store/library.js'
import { tempDir } from '../../helpers/tmp.js'

const MiB = 1 << 20

describe('partial objects', () => {
  for (const mode of ['direct', 'buffered'] as const) {
    it(`ranges of any alignment land at their offsets and hash right (${mode})`, async t => {
      const directIo = mode === 'direct'
      await (async () => {
        const home = await tempDir(t)
        const lib = new Library({ log: silentLogger() }, { home, directIo })
        await lib.start()
        t.after(async () => {
          await lib.stop()
        })
        const hasher = new HashWorker({ directIo })
        t.after(async () => {
          await hasher.stop()
        })
        const store = new PartialStore(lib)
        await store.start()
        const size = 5 * MiB + 4321
        const data = randomBytes(size)
        const sha = createHash('sha256').update(data).digest('hex')
        const f = await store.open(sha, size, hasher)
        // Out of order; an unaligned cut in the middle (a resumed range), the unaligned object end.
        const cuts: Array<[number, number]> = [
          [2 * MiB, 2 * MiB + 12345],
          [4 * MiB, size],
          [0, 2 * MiB],
          [2 * MiB + 12345, 4 * MiB],
        ]
        let maxEnd = 0
        for (const [s, e] of cuts) {
          const w = f.writer(s)
          for (let at = s; at < e; at += 70_000) await w.write(data.subarray(at, Math.min(e, at + 70_000)))
          await w.drain()
          assert.equal(w.flushed, e - s)
          f.markDone([s, e])
          // Never past the end of what was written: no padding.
          maxEnd = Math.max(maxEnd, e)
          assert.equal((await stat(store.path(sha))).size, maxEnd)
        }
        assert.equal(f.complete, true)
        assert.equal(await f.digest(AbortSignal.timeout(10_000)), sha)
        assert.deepEqual(await f.pieceDigests([[2 * MiB, 2 * MiB + 12345]]), [
          createHash('sha256')
            .update(data.subarray(2 * MiB, 2 * MiB + 12345))
            .digest('hex'),
        ])
        await f.close()
        const back = await readFile(store.path(sha))
        assert.equal(back.length, size)
        assert.ok(back.equals(data))
      })()
    })
  }

  it('the hashing thread follows a prefix told in unaligned steps', async t => {
    const dir = await tempDir(t)
    const hasher = new HashWorker({ directIo: true })
    t.after(async () => {
      await hasher.stop()
    })
    const data = randomBytes(3 * MiB + 17)
    const path = `${dir}/f`
    await writeFile(path, data)
    let at = 0
    let failed: Error | undefined
    const h = hasher.open(
      path,
      a => {
        at = a
      },
      e => {
        failed = e
      },
    )
    for (const to of [1, 4095, 4097, 65536 + 3, MiB + 1, 2 * MiB + 4096, data.length]) h.advance(to)
    const d = await h.digest()
    h.drop()
    assert.equal(failed, undefined)
    assert.equal(at, data.length)
    assert.equal(d, createHash('sha256').update(data).digest('hex'))
  })
})
