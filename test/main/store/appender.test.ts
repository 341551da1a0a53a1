/**
 * FileAppender (O_DIRECT writes from shared aligned slots, buffered tail and
 * fallback) and the hashing thread: every byte lands where it belongs and
 * is hashed in order, whatever the chunking, sizes and mode.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { constants as fsc } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { FileAppender, openWritable, type WritableFile } from '../../../main/store/appender.js'
import { HashThread } from '../../../main/store/hash-thread.js'
import { ObjectStore } from '../../../main/store/objects.js'
import { ObjectHashMismatchError } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { tempDir } from '../../helpers/tmp.js'

const MiB = 1 << 20
const SIZES = [0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 3 * MiB + 12345]

/** Feed `data` in chunks of varying sizes (1 byte to 300 KiB). */
async function feed(out: { write: (c: Uint8Array) => Promise<void> }, data: Buffer): Promise<void> {
  let off = 0
  let i = 0
  const sizes = [1, 7, 4096, 65536, 300_000, 511, 1 << 18]
  while (off < data.length) {
    const n = Math.min(sizes[i++ % sizes.length], data.length - off)
    await out.write(data.subarray(off, off + n))
    off += n
  }
}

describe('FileAppender', () => {
  for (const mode of ['direct', 'buffered'] as const) {
    it(`writes every byte at its place and hashes it in order (${mode}; sizes around block and slot boundaries)`, async t => {
      const dir = await tempDir(t)
      const hasher = new HashThread()
      t.after(async () => {
        await hasher.stop()
      })
      for (const size of SIZES) {
        const data = randomBytes(size)
        const path = join(dir, `f-${mode}-${size}`)
        const file = await openWritable(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644, mode === 'direct')
        if (mode === 'buffered') assert.equal(file.direct, false)
        const hash = hasher.open()
        const ends: number[] = []
        const out = new FileAppender(file, 0, { hash, onWritten: end => ends.push(end) })
        assert.equal(out.isDirect, file.direct)
        await feed(out, data)
        await out.finish()
        await out.close()
        await file.fh.close()
        assert.equal(await hash.digest(), createHash('sha256').update(data).digest('hex'), `digest of ${size} bytes`)
        assert.ok((await readFile(path)).equals(data), `${size} bytes written as given`)
        assert.equal(out.written, size)
        assert.deepEqual(
          ends,
          [...ends].sort((a, b) => a - b),
          'progress only grows',
        )
        if (size > 0) assert.equal(ends.at(-1), size)
      }
    })
  }

  it('direct I/O is used on this file system, and an appender starting at an unaligned offset writes buffered', async t => {
    const dir = await tempDir(t)
    const path = join(dir, 'f')
    const file = await openWritable(path, fsc.O_CREAT | fsc.O_WRONLY, 0o644, true)
    t.after(async () => {
      await file.fh.close()
    })
    assert.equal(file.direct, true, 'ext4 (the test machines) takes O_DIRECT')
    const head = randomBytes(1000)
    const rest = randomBytes(2 * MiB + 3)
    const a = new FileAppender(file, 0)
    await a.write(head)
    await a.finish()
    const b = new FileAppender(file, head.length)
    assert.equal(b.isDirect, false)
    await feed(b, rest)
    await b.finish()
    await a.close()
    await b.close()
    assert.ok((await readFile(path)).equals(Buffer.concat([head, rest])))
  })

  it('falls back to buffered writes when the file system refuses a direct write (EINVAL), losing nothing', async t => {
    const dir = await tempDir(t)
    const path = join(dir, 'f')
    const real = await openWritable(path, fsc.O_CREAT | fsc.O_WRONLY, 0o644, true)
    t.after(async () => {
      await real.fh.close()
    })
    let refused = 0
    // A descriptor that behaves like a file system taking O_DIRECT at open but not for I/O.
    const fh = new Proxy(real.fh, {
      get(target, prop, receiver) {
        if (prop === 'write')
          return async () => {
            refused++
            throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' })
          }
        const v = Reflect.get(target, prop, receiver) as unknown
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const file: WritableFile = { path, fh, direct: true }
    const data = randomBytes(5 * MiB + 777)
    const out = new FileAppender(file, 0)
    await feed(out, data)
    await out.finish()
    await out.close()
    assert.ok(refused >= 1)
    assert.equal(out.isDirect, false)
    assert.ok((await readFile(path)).equals(data))
  })
})

describe('object store: large objects (direct writes, hashing thread)', () => {
  it('stores a large object whose bytes match, and refuses one whose bytes do not (nothing left behind)', async t => {
    const home = await tempDir(t)
    const store = new ObjectStore({ log: silentLogger() }, home)
    await store.start()
    t.after(async () => {
      await store.stop()
    })
    const data = randomBytes(9 * MiB + 5)
    const sha = createHash('sha256').update(data).digest('hex')
    const chunks = async function* (d: Buffer): AsyncGenerator<Buffer> {
      for (let o = 0; o < d.length; o += 100_000) yield d.subarray(o, o + 100_000)
    }
    const put = await store.put(sha, chunks(data), { source: 'test', size: data.length })
    assert.deepEqual(put, { sha, size: data.length, existed: false })
    assert.ok((await readFile(store.path(sha))).equals(data))

    const other = Buffer.from(data)
    other[7 * MiB] ^= 1
    const wrongSha = createHash('sha256').update(randomBytes(16)).digest('hex')
    await assert.rejects(store.put(wrongSha, chunks(other), { source: 'bad source', size: other.length }), (err: unknown) => {
      assert.ok(err instanceof ObjectHashMismatchError)
      assert.match(err.message, /bad source: object [0-9a-f]{64} has bytes whose sha256 is/)
      return true
    })
    assert.equal(await store.has(wrongSha), false)
    assert.deepEqual(await readdir(store.tmpDir), [])
  })
})

describe('openWritable: where O_DIRECT is used', () => {
  it('not on a FUSE file system (fusefat gives stale bytes to buffered reads after direct writes): buffered there, and the bytes are right', async t => {
    const { fatStick } = await import('../usb/helpers.js')
    const stick = await fatStick(t, 64)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    if (stick.how !== 'fusefat') {
      t.skip('the kernel mounted the stick itself (not FUSE)')
      return
    }
    const path = join(stick.dir, 'f')
    const file = await openWritable(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o644, true)
    assert.equal(file.direct, false)
    const data = randomBytes(MiB + 4097)
    const out = new FileAppender(file)
    await feed(out, data)
    await out.finish()
    await out.close()
    await file.fh.close()
    assert.ok((await readFile(path)).equals(data))
  })
})

describe('HashThread', () => {
  it('buffered writes go one at a time, in file order (fusefat stored wrong bytes when extending writes came out of order)', async () => {
    let now = 0
    let most = 0
    const offsets: number[] = []
    const fh = {
      async write(_b: Uint8Array, _o: number, len: number, at: number) {
        offsets.push(at)
        most = Math.max(most, ++now)
        await new Promise(resolve => setImmediate(resolve))
        now--
        return { bytesWritten: len }
      },
      async datasync() {},
    }
    const out = new FileAppender({ path: '/nonexistent/x', fh: fh as never, direct: false } satisfies WritableFile, 0, { maxInFlight: 3 })
    await feed(out, randomBytes(8 * MiB + 100))
    await out.finish()
    assert.equal(most, 1)
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
    )
    assert.equal(offsets.length, 9)
  })

  it('stop fails what is still awaited instead of leaving it hanging; a new stream starts a new thread', async () => {
    const { takeSlot, giveSlot } = await import('../../../main/store/slots.js')
    const hasher = new HashThread()
    const slot = takeSlot(true)
    try {
      slot.buf.fill(1)
      const h = hasher.open()
      await h.update(slot, 1000)
      // Either the digest comes back before the stop, or it fails: it never hangs.
      const pending = h.digest().then(
        d => {
          assert.match(d, /^[0-9a-f]{64}$/)
        },
        (err: Error) => {
          assert.match(err.message, /stopped/)
        },
      )
      await hasher.stop()
      await pending
      const again = hasher.open()
      await again.update(slot, 1000)
      assert.equal(await again.digest(), createHash('sha256').update(slot.buf.subarray(0, 1000)).digest('hex'))
    } finally {
      giveSlot(slot)
      await hasher.stop()
    }
  })
})
