/** PartedFileWriter's read-back failures: what the stick gives back decides, and the error names the file. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, readdir } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { crc32 } from 'node:zlib'
import { ReadBackThread } from '../../../main/usb/readback.js'
import { PartedFileWriter } from '../../../main/usb/sink.js'
import { StoredGzipEncoder } from '../../../main/usb/tgz.js'
import { tempDir } from '../../helpers/tmp.js'

/** A read-back thread whose every read fails with `code` (as a failing stick or FUSE driver answers). */
function failingReadBack(code: string): ReadBackThread {
  const err = Object.assign(new Error(`${code}: operation not permitted, read`), { code, syscall: 'read' })
  return {
    open: () => 1,
    synced: () => {},
    close: () => {},
    end: async () => {
      throw err
    },
  } as unknown as ReadBackThread
}

describe('usb: read-back failures', () => {
  for (const [code, expect, says] of [
    ['EPERM', 'E_STICK_CORRUPT', /site\.pvrexport\.tgz: reading it back from the stick failed/],
    ['EIO', 'E_STICK_CORRUPT', /input\/output error on the stick/],
  ] as const) {
    it(`a read-back refused with ${code} is ${expect} naming the file; abort leaves nothing`, async t => {
      const dir = await tempDir(t)
      const w = new PartedFileWriter(dir, 'site.pvrexport.tgz', { splitSize: 1 << 20, readBack: failingReadBack(code) })
      await w.write(Buffer.alloc(3 << 20, 1))
      await assert.rejects(w.finish(), (err: Error & { code?: string }) => {
        assert.equal(err.code, expect)
        assert.match(err.message, says)
        return true
      })
      await w.abort()
      assert.deepEqual(await readdir(dir), [])
    })
  }

  it('a stick that gives back other bytes than were written: E_STICK_CORRUPT, whether the CRC came with the buffer or not', async t => {
    /** The real read-back thread, but one byte of each file changes on the medium before the rest is read. */
    class ChangingMedium extends ReadBackThread {
      private readonly names = new Map<number, string>()
      override open(file: string, dropCache: boolean, direct: boolean, onBytes?: (n: number) => void): number {
        const id = super.open(file, dropCache, direct, onBytes)
        this.names.set(id, file)
        return id
      }

      override async end(id: number, size: number): Promise<{ sha256: string; crc32: number; bytes: number }> {
        const fh = await open(this.names.get(id) as string, 'r+')
        const b = Buffer.alloc(1)
        await fh.read(b, 0, 1, size - 1000)
        b[0] ^= 0x10
        await fh.write(b, 0, 1, size - 1000)
        await fh.sync()
        await fh.close()
        return await super.end(id, size)
      }
    }
    for (const withCrc of [true, false]) {
      const dir = await tempDir(t)
      const rb = new ChangingMedium()
      t.after(async () => {
        await rb.stop()
      })
      const w = new PartedFileWriter(dir, 'site.pvrexport.tgz', { splitSize: 1 << 30, readBack: rb })
      const gz = new StoredGzipEncoder(async (b, crc) => {
        await (withCrc ? w.write(b, crc) : w.write(b))
      })
      await gz.write(randomBytes(300_000))
      await gz.end()
      await assert.rejects(w.finish(), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'E_STICK_CORRUPT')
        assert.match(err.message, /site\.pvrexport\.tgz: the stick gave back different bytes than were written/)
        return true
      })
      await w.abort()
      assert.deepEqual(await readdir(dir), [])
    }
  })

  it('unchanged bytes pass: the CRC the encoder hands on equals a pass over the written file', async t => {
    const dir = await tempDir(t)
    const rb = new ReadBackThread()
    t.after(async () => {
      await rb.stop()
    })
    const w = new PartedFileWriter(dir, 'ok.tgz', { splitSize: 100_000, readBack: rb })
    const all: Buffer[] = []
    const gz = new StoredGzipEncoder(async (b, crc) => {
      assert.equal(crc, crc32(b))
      all.push(Buffer.from(b))
      await w.write(b, crc)
    })
    for (const n of [1, 512, 70_000, 200_000, 3]) await gz.write(randomBytes(n))
    await gz.end()
    const parts = await w.finish()
    assert.equal(
      parts.reduce((a, p) => a + p.bytes, 0),
      Buffer.concat(all).length,
    )
    assert.ok(parts.length > 1, 'parts end inside blocks, where the writer takes its own CRC')
  })

  it(
    'cancelled while a part is read back (a slow stick): finish rejects at once, abort stops the read-back and removes the part',
    { timeout: 20_000 },
    async t => {
      const dir = await tempDir(t)
      let closed = false
      let giveUp: ((e: Error) => void) | undefined
      // A read-back that ends only when closed, as one of a big part on a slow stick seems to.
      const slow = {
        open: () => 7,
        synced: () => {},
        end: async () =>
          await new Promise((_resolve, reject) => {
            giveUp = reject
          }),
        close: (id: number) => {
          assert.equal(id, 7)
          closed = true
          giveUp?.(new Error('read-back cancelled'))
        },
      } as unknown as ReadBackThread
      const ac = new AbortController()
      const w = new PartedFileWriter(dir, 'big.pvrexport.tgz', { splitSize: 1 << 30, readBack: slow, signal: ac.signal })
      await w.write(randomBytes(1 << 20))
      const finishing = w.finish()
      setImmediate(() => {
        ac.abort()
      })
      await assert.rejects(finishing, { code: 'E_ABORTED' })
      await w.abort()
      assert.equal(closed, true, 'the read-back was told to stop')
      assert.deepEqual(await readdir(dir), [])
    },
  )
})
