/**
 * Imports of temporary copies (a stick's joined tarball, a browser upload)
 * report errors against the user's file, never the copy inside the home; a
 * copy left by a killed stick import is removed at the next start.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { silentLogger } from '../../../shared/log.js'
import { App } from '../../../main/app/index.js'
import { ApiCore } from '../../../main/app/handlers/index.js'
import { UsbExporter, UsbImporter } from '../../../main/usb/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

async function newApp(t: Parameters<typeof tempDir>[0]): Promise<App> {
  const app = new App({ home: await tempDir(t), log: silentLogger() })
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  return app
}

function entry(name: string, body: Buffer): Buffer {
  const h = Buffer.alloc(512)
  h.write(name, 0, 100)
  h.write('0000644\0', 100)
  h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  h.write(body.length.toString(8).padStart(11, '0') + '\0', 124)
  h.write('00000000000\0', 136)
  h.write('        ', 148)
  h.write('0', 156)
  h.write('ustar\0', 257)
  h.write('00', 263)
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)])
}

/** watchdog_pinger's state, with one of its objects replaced by bytes that do not hash to its name. */
function forgedTgz(): Buffer {
  const src = join(vendoredUpstreamDir, 'watchdog_pinger.tar')
  const json = execFileSync('tar', ['-xOf', src, 'json'])
  const sha = execFileSync('tar', ['-tf', src], { encoding: 'utf8' })
    .split('\n')
    .find(n => n.startsWith('objects/'))!
    .slice(8)
  return gzipSync(Buffer.concat([entry('json', json), entry(`objects/${sha}`, randomBytes(1000)), Buffer.alloc(1024)]))
}

describe("import: messages name the user's file", () => {
  it('a stick import names the file on the stick, not the joined copy in <home>/tmp', async t => {
    const alice = await newApp(t)
    await alice.importer.importPath(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), { name: 'wd' })
    const stick = await tempDir(t, 'fieldsync-stick-')
    await new UsbExporter({ library: alice.library, log: silentLogger() }).export({ revisions: ['wd'], dir: stick })
    // A forged stick: the tarball replaced and the manifest made to vouch for it, so it reaches the importer.
    const tarball = join(stick, 'wd.pvrexport.tgz')
    const bytes = forgedTgz()
    await writeFile(tarball, bytes)
    const sha = createHash('sha256').update(bytes).digest('hex')
    const mf = JSON.parse(await readFile(join(stick, 'fieldsync-manifest.json'), 'utf8'))
    Object.assign(mf.revisions[0], { bytes: bytes.length, sha256: sha, parts: [{ path: 'wd.pvrexport.tgz', bytes: bytes.length, sha256: sha }] })
    await writeFile(join(stick, 'fieldsync-manifest.json'), JSON.stringify(mf))
    const bob = await newApp(t)
    const res = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    const r = res.revisions[0]
    assert.equal(r.status, 'failed')
    assert.equal(r.error?.code, 'E_OBJECT_HASH_MISMATCH')
    assert.ok(r.error?.message.startsWith(`${tarball}: `), r.error?.message)
    assert.ok(!r.error?.message.includes(bob.home), `no path inside the library: ${r.error?.message}`)
    assert.deepEqual(bob.library.list(), [])
  })

  it('a stick import killed midway leaves its joined copy named after its pid: the next start removes it (a live one stays)', async t => {
    const home = await tempDir(t)
    const dead = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    await mkdir(join(home, 'tmp'), { recursive: true })
    await writeFile(join(home, 'tmp', `usb-${dead}-0123456789ab.tgz`), randomBytes(4096))
    await writeFile(join(home, 'tmp', `usb-${process.pid}-0123456789ab.tgz`), randomBytes(4096))
    const app = new App({ home, log: silentLogger() })
    await app.start()
    t.after(async () => {
      await app.stop()
    })
    assert.deepEqual(await readdir(join(home, 'tmp')), [`usb-${process.pid}-0123456789ab.tgz`])
  })

  it('a browser upload names the uploaded file, not <home>/uploads/<id>', async t => {
    const app = await newApp(t)
    const core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
    await core.start()
    t.after(async () => {
      await core.stop()
    })
    const up = await core.uploads.receive(Readable.from([forgedTgz()]), { filename: 'broken.tgz' })
    const res = await core.dispatch('library.import', { upload: up.id })
    assert.equal(res.ok, false)
    const err = (res as { error: { code: string; message: string } }).error
    assert.equal(err.code, 'E_OBJECT_HASH_MISMATCH')
    assert.ok(err.message.startsWith('broken.tgz: '), err.message)
    assert.ok(!err.message.includes(app.home), `no path inside the library: ${err.message}`)
  })

  it('a tarball cut short, imported with progress (as the app does), is told as cut short, never as a destroyed stream', async t => {
    const app = await newApp(t)
    const whole = await readFile(join(vendoredUpstreamDir, 'pvwificonnect.tgz'))
    const dir = await tempDir(t)
    for (const fraction of [0.1, 0.5, 0.9]) {
      const f = join(dir, `cut-${fraction}.tgz`)
      await writeFile(f, whole.subarray(0, Math.floor(whole.length * fraction)))
      const err = await app.importer.importPath(f, { label: 'wifi-cut.tgz', onProgress: () => {} }).then(
        () => null,
        (e: unknown) => e as { code: string; message: string; details?: { advice?: string } },
      )
      assert.ok(err !== null, `${fraction}: refused`)
      assert.equal(err.code, 'E_BAD_ARCHIVE', `${fraction}: ${err.message}`)
      assert.match(err.message, /^wifi-cut\.tgz: the file ends too soon: it was cut short/)
      assert.equal(err.details?.advice, 'truncated')
    }
    assert.deepEqual(app.library.list(), [])
  })
})
