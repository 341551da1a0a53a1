/** PartedFileWriter's read-back failures: what the stick gives back decides, and the error names the file. */
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { describe, it } from 'node:test'
import type { ReadBackThread } from '../../../main/usb/readback.js'
import { PartedFileWriter } from '../../../main/usb/sink.js'
import { tempDir } from '../../helpers/tmp.js'

/** A read-back thread whose every read fails with `code` (as a failing stick or FUSE driver answers). */
function failingReadBack (code: string): ReadBackThread {
  const err = Object.assign(new Error(`${code}: operation not permitted, read`), { code, syscall: 'read' })
  return { open: () => 1, synced: () => {}, close: () => {}, end: async () => { throw err } } as unknown as ReadBackThread
}

describe('usb: read-back failures', () => {
  for (const [code, expect, says] of [['EPERM', 'E_STICK_CORRUPT', /site\.pvrexport\.tgz: reading it back from the stick failed/], ['EIO', 'E_STICK_CORRUPT', /input\/output error on the stick/]] as const) {
    it(`a read-back refused with ${code} is ${expect} naming the file; abort leaves nothing`, async (t) => {
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
})
