import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile, copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { App } from '../../../main/app/index.js'
import { exportRevision } from '../../../main/store/export.js'
import { collectGarbage, verifyLibrary } from '../../../main/store/maintenance.js'
import { nameFromFileName } from '../../../main/store/library.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'
import { buildState, smallObject, writeTarball } from '../../helpers/revisions.js'

async function newApp(t: Parameters<typeof tempDir>[0]): Promise<App> {
  const home = await tempDir(t)
  const app = new App({ home, log: silentLogger() })
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  return app
}

function tarList(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n')
}

function tarEntry(file: string, name: string): Buffer {
  return execFileSync('tar', ['-xOf', file, name], { maxBuffer: 64 << 20 })
}

describe('library: upstream fixtures', () => {
  for (const f of ['pvwificonnect.tgz', 'watchdog_pinger.tar']) {
    it(`imports ${f} and exports the same json bytes and objects`, async t => {
      const app = await newApp(t)
      const src = join(vendoredUpstreamDir, f)
      const res = await app.importer.importPath(src, { name: 'fixture' })
      assert.equal(res.missing.length, 0)
      assert.equal(res.existed, false)
      const info = app.library.resolve('fixture')
      assert.equal(info.complete, true)
      const out = join(await tempDir(t), f.endsWith('.tgz') ? 'out.tgz' : 'out.tar')
      await exportRevision(app.library, info.id, out)
      assert.deepEqual(tarEntry(out, 'json'), tarEntry(src, 'json'))
      assert.equal(tarList(out)[0], 'json')
      const objs = (l: string[]) => [...new Set(l.filter(n => n.startsWith('objects/')))].sort()
      assert.deepEqual(objs(tarList(out)), objs(tarList(src)))
      // every object in the pool hashes to its name
      for (const sha of await app.library.objects.list()) {
        const h = createHash('sha256')
          .update(await readFile(app.library.objects.path(sha)))
          .digest('hex')
        assert.equal(h, sha)
      }
      const again = await app.importer.importPath(src)
      assert.equal(again.existed, true)
      assert.equal(app.library.stats().revisions, 1)
    })
  }

  it('exports pvwificonnect.tgz twice to byte-identical files', async t => {
    const app = await newApp(t)
    const res = await app.importer.importPath(join(vendoredUpstreamDir, 'pvwificonnect.tgz'))
    const d = await tempDir(t)
    await exportRevision(app.library, res.id, join(d, 'a.tgz'))
    await exportRevision(app.library, res.id, join(d, 'b.tgz'))
    assert.deepEqual(await readFile(join(d, 'a.tgz')), await readFile(join(d, 'b.tgz')))
    assert.deepEqual((await readdir(d)).sort(), ['a.tgz', 'b.tgz'])
  })

  it('imports the seed state as incomplete with 8 missing objects', async t => {
    const app = await newApp(t)
    const res = await app.importer.importPath(join(vendoredUpstreamDir, 'seed-awconnect-rpi64.json'), { name: 'seed' })
    assert.equal(res.missing.length, 8)
    const info = app.library.resolve('seed')
    assert.equal(info.complete, false)
    assert.equal(info.missing, 8)
    await assert.rejects(exportRevision(app.library, info.id, join(await tempDir(t), 'x.tgz')), (e: any) => e.code === ErrorCodes.IncompleteRevision)
  })

  it('keeps the original state bytes exactly', async t => {
    const app = await newApp(t)
    const raw = await readFile(join(vendoredUpstreamDir, 'seed-awconnect-rpi64.json'))
    const res = await app.importer.importPath(join(vendoredUpstreamDir, 'seed-awconnect-rpi64.json'))
    assert.deepEqual(Buffer.from(app.library.state(res.id).raw), raw)
  })
})

describe('library: deduplication, layouts, maintenance', () => {
  async function twoRevisions(dir: string) {
    const kernel = await smallObject(dir, 'kernel', 'kernel-bytes-'.repeat(1000))
    const initrd = await smallObject(dir, 'initrd', 'initrd-bytes-'.repeat(2000))
    const conf = await smallObject(dir, 'conf', 'lxc.tty.max = 4\n')
    const rootA = await smallObject(dir, 'rootA', 'root-a-'.repeat(5000))
    const rootB = await smallObject(dir, 'rootB', 'root-b-'.repeat(7000))
    const a = buildState({ kernel, initrd, containers: [{ name: 'app', root: rootA, config: conf }] })
    const b = buildState({ kernel, initrd, containers: [{ name: 'app', root: rootB, config: conf }] })
    return { a, b, objs: { kernel, initrd, conf, rootA, rootB } }
  }

  it('stores shared objects once: storedBytes is the sum of unique object sizes', async t => {
    const app = await newApp(t)
    const d = await tempDir(t)
    const { a, b, objs } = await twoRevisions(d)
    const { kernel, initrd, conf, rootA, rootB } = objs
    await writeTarball(join(d, 'a.tar'), JSON.stringify(a), [kernel, initrd, conf, rootA])
    await writeTarball(join(d, 'b.tgz'), JSON.stringify(b), [kernel, initrd, conf, rootB], { gzip: true, jsonLast: true, duplicate: true })
    await app.importer.importPath(join(d, 'a.tar'), { name: 'a' })
    // detection by content, not by name
    await copyFile(join(d, 'b.tgz'), join(d, 'b.bin'))
    await app.importer.importPath(join(d, 'b.bin'), { name: 'b' })
    const s = app.library.stats()
    const unique = [kernel, initrd, conf, rootA, rootB].reduce((n, o) => n + o.size, 0)
    assert.equal(s.revisions, 2)
    assert.equal(s.objects, 5)
    assert.equal(s.storedBytes, unique)
    assert.equal(s.logicalBytes, unique + kernel.size + initrd.size + conf.size)
    assert.equal((await app.library.objects.list()).length, 5)
  })

  it('imports a pvr checkout with ObjectsDir from .pvr/config, and a json+objects/ folder', async t => {
    const app = await newApp(t)
    const d = await tempDir(t)
    const { a, b, objs } = await twoRevisions(d)
    const co = join(d, 'checkout')
    const pool = join(d, 'pool')
    await mkdir(join(co, '.pvr'), { recursive: true })
    await mkdir(pool)
    await writeFile(join(co, '.pvr', 'json'), JSON.stringify(a))
    await writeFile(join(co, '.pvr', 'config'), JSON.stringify({ ObjectsDir: pool }))
    for (const o of [objs.kernel, objs.initrd, objs.conf, objs.rootA]) await copyFile(o.path, join(pool, o.sha))
    const r1 = await app.importer.importPath(co)
    assert.equal(r1.missing.length, 0)
    const folder = join(d, 'folder')
    await mkdir(join(folder, 'objects'), { recursive: true })
    await writeFile(join(folder, 'json'), JSON.stringify(b))
    for (const o of [objs.rootB]) await copyFile(o.path, join(folder, 'objects', o.sha))
    const r2 = await app.importer.importPath(folder)
    assert.equal(r2.missing.length, 0, 'shared objects come from the library itself')
    assert.equal(app.library.stats().objects, 5)
  })

  it('completes an incomplete revision when its objects arrive, verify finds corruption, --repair and gc', async t => {
    const app = await newApp(t)
    const d = await tempDir(t)
    const { a, objs } = await twoRevisions(d)
    await writeFile(join(d, 'a.json'), JSON.stringify(a))
    const r = await app.importer.importPath(join(d, 'a.json'))
    assert.equal(r.missing.length, 4)
    await mkdir(join(d, 'objs'))
    for (const o of Object.values(objs)) await copyFile(o.path, join(d, 'objs', o.sha))
    const r2 = await app.importer.importPath(join(d, 'a.json'), { objectsDir: join(d, 'objs') })
    assert.equal(r2.existed, true)
    assert.equal(app.library.get(r.id)?.complete, true)
    // corrupt one byte of rootA
    const p = app.library.objects.path(objs.rootA.sha)
    const buf = await readFile(p)
    buf[10] ^= 1
    await writeFile(p, buf)
    const v = await verifyLibrary(app.library)
    assert.deepEqual(v.corrupt, [objs.rootA.sha])
    assert.equal(app.library.get(r.id)?.complete, true, 'verify without --repair changes nothing')
    const v2 = await verifyLibrary(app.library, { repair: true })
    assert.deepEqual(v2.corrupt, [objs.rootA.sha])
    assert.equal(app.library.get(r.id)?.complete, false)
    assert.deepEqual(app.library.missing(r.id), [objs.rootA.sha])
    // gc removes unreferenced objects only
    app.library.removeRevision(r.id)
    const g = await collectGarbage(app.library)
    assert.equal(g.removed, 3)
    assert.deepEqual(await app.library.objects.list(), [])
  })
})

describe('object store: temporary files', () => {
  it('start removes the temporary files of dead processes only (a running import in another process keeps its own)', async t => {
    const home = await tempDir(t)
    const { ObjectStore } = await import('../../../main/store/objects.js')
    const first = new ObjectStore({ log: silentLogger() }, home)
    await first.start()
    const live = join(home, 'tmp', `put-${process.ppid}-0123456789abcdef-aaaaaa`)
    const dead = join(home, 'tmp', 'put-4194999-0123456789abcdef-bbbbbb')
    await writeFile(live, 'in progress')
    await writeFile(dead, 'left by a kill -9')
    const second = new ObjectStore({ log: silentLogger() }, home)
    await second.start()
    assert.deepEqual((await readdir(join(home, 'tmp'))).sort(), [`put-${process.ppid}-0123456789abcdef-aaaaaa`])
  })
})

describe('library: names from file names', () => {
  it('drops archive extensions and folders, turns other characters into -, refuses what looks like an id', () => {
    assert.equal(nameFromFileName('/media/stick/pvwificonnect.pvrexport.tgz'), 'pvwificonnect')
    assert.equal(nameFromFileName('watchdog_pinger.tar'), 'watchdog_pinger')
    assert.equal(nameFromFileName('rev.tar.gz'), 'rev')
    assert.equal(nameFromFileName('/home/tech/checkouts/gateway-2.1/'), 'gateway-2.1')
    assert.equal(nameFromFileName('Site 4 (rpi).json'), 'Site-4-rpi')
    assert.equal(nameFromFileName('3e2b2fca03c0.tgz'), undefined)
    assert.equal(nameFromFileName('.tgz'), undefined)
    assert.equal(nameFromFileName('___.tar'), undefined)
    assert.equal(nameFromFileName('x'.repeat(300) + '.tgz'), 'x'.repeat(128))
  })
})
