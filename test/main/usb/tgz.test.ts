import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { describe, it } from 'node:test'
import tar from 'tar-stream'
import { StoredGzipEncoder, TgzWriter, tarHeader, tarSize, tgzSize } from '../../../main/usb/tgz.js'

async function encode(data: Buffer, pieces = 7): Promise<Buffer> {
  const out: Buffer[] = []
  const gz = new StoredGzipEncoder(async b => {
    out.push(Buffer.from(b))
  })
  let off = 0
  const step = Math.max(1, Math.ceil(data.length / pieces))
  while (off < data.length) {
    await gz.write(data.subarray(off, off + step))
    off += step
  }
  await gz.end()
  return Buffer.concat(out)
}

describe('usb tgz: stored-block gzip', () => {
  for (const n of [0, 1, 511, 65534, 65535, 65536, 3 * 65535, 3 * 65535 + 17, 1 << 20]) {
    it(`${n} bytes: exact size known in advance, gunzips to the input`, async () => {
      const data = randomBytes(n)
      const gz = await encode(data)
      assert.equal(gz.length, tgzSize(n))
      assert.deepEqual(gunzipSync(gz), data)
    })
  }

  it('is read by the system gzip as well', async () => {
    const data = randomBytes(200_000)
    const gz = await encode(data, 3)
    const back = execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 1 << 24 })
    assert.deepEqual(back, data)
  })
})

describe('usb tgz: tar', () => {
  it("headers equal tar-stream's for the library export fields", async () => {
    const pack = tar.pack()
    const chunks: Buffer[] = []
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer)
    })
    const ended = new Promise<void>(resolve => {
      pack.on('end', () => {
        resolve()
      })
    })
    const FIXED = { mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), type: 'file' as const, linkname: '', devmajor: 0, devminor: 0 }
    pack.entry({ ...FIXED, name: 'objects/' + 'a'.repeat(64), size: 3 }, Buffer.from('abc'))
    pack.finalize()
    await ended
    assert.deepEqual(Buffer.concat(chunks).subarray(0, 512), tarHeader({ name: 'objects/' + 'a'.repeat(64), size: 3 }))
  })

  it('writes sizes of 8 GiB and more in base-256, which tar-stream reads back', async () => {
    const size = 9 * 1024 ** 3 + 5
    const extract = tar.extract()
    const got = new Promise<number>((resolve, reject) => {
      extract.on('entry', (h, stream) => {
        resolve(h.size ?? -1)
        stream.resume()
        extract.destroy()
      })
      extract.on('error', reject)
    })
    extract.write(tarHeader({ name: 'big', size }))
    assert.equal(await got, size)
  })

  it('a whole tarball: json, a directory entry, objects; tarSize is exact', async () => {
    const out: Buffer[] = []
    const w = new TgzWriter(
      new StoredGzipEncoder(async b => {
        out.push(Buffer.from(b))
      }),
    )
    const json = Buffer.from('{"#spec":"pantavisor-service-system@1"}')
    const obj = randomBytes(1000)
    const entries = [
      { name: 'json', size: json.length },
      { name: 'objects/', size: 0 },
      { name: 'objects/' + 'b'.repeat(64), size: obj.length },
    ]
    await w.header(entries[0])
    await w.data(json)
    await w.padTo(json.length)
    await w.header({ ...entries[1], type: 'directory' })
    await w.header(entries[2])
    await w.data(obj)
    await w.padTo(obj.length)
    await w.finish()
    const gz = Buffer.concat(out)
    const plain = gunzipSync(gz)
    assert.equal(plain.length, tarSize(entries))
    assert.equal(gz.length, tgzSize(tarSize(entries)))
    const listing = execFileSync('tar', ['-tvzf', '-'], { input: gz, encoding: 'utf8' })
    assert.match(listing, /^-rw-r--r-- 0\/0 +\d+ 1970-01-01 00:00 json$/m)
    assert.match(listing, /^drwxr-xr-x .* objects\/$/m)
  })
})
