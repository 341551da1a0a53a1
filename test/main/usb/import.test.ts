import assert from 'node:assert/strict'
import { readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { UsbExporter, UsbImporter, parseInventory, verifyStick, writeLibraryInventory, PEER_INVENTORY_FILE } from '../../../main/usb/index.js'
import { flipByte, tempDir } from '../../helpers/tmp.js'
import { readStickFile } from '../../../main/usb/import.js'
import { addRevision, makeParts, newApp, tarList } from './helpers.js'

async function twoLaptops(t: Parameters<typeof tempDir>[0]) {
  const src = await tempDir(t)
  const p = await makeParts(src)
  const c = (i: number) => ({ name: `app${i}`, root: p.roots[i], config: p.configs[i] })
  const specA = { kernel: p.kernel, initrd: p.initrd, containers: [c(0), c(1)] }
  const specB = { kernel: p.kernel, initrd: p.initrd, containers: [c(0), c(2)] }
  const specC = { kernel: p.kernel, initrd: p.initrd, containers: [c(2), c(3)] }
  const alice = await newApp(t) // has everything
  const ids = {
    a: await addRevision(alice, src, 'rev-a', specA),
    b: await addRevision(alice, src, 'rev-b', specB),
    c: await addRevision(alice, src, 'rev-c', specC),
  }
  const bob = await newApp(t) // has only rev-a
  await addRevision(bob, src, 'rev-a', specA)
  return { src, p, alice, bob, ids }
}

describe('usb: laptop to laptop', () => {
  it('moves exactly the objects the other laptop lacks, each once, and they arrive verified', async t => {
    const { alice, bob, ids } = await twoLaptops(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    const inv = await writeLibraryInventory(bob.library, stick)
    assert.equal(inv.file, PEER_INVENTORY_FILE)
    const bobHad = new Set(bob.library.presentObjects().map(o => o.sha))
    const wanted = new Set([ids.b, ids.c].flatMap(id => alice.library.objectsOf(id).map(o => o.sha)).filter(s => !bobHad.has(s)))
    const exporter = new UsbExporter({ library: alice.library, log: silentLogger(), trust: alice.trust })
    const res = await exporter.export({ revisions: ['rev-b', 'rev-c'], dir: stick, forPeer: join(stick, PEER_INVENTORY_FILE) })
    assert.equal(res.mode, 'peer')
    // on the stick: every wanted object exactly once, nothing else
    const onStick = res.revisions.flatMap(r =>
      tarList(join(stick, r.tarball))
        .filter(n => /^objects\/[0-9a-f]{64}$/.test(n))
        .map(n => n.slice(8)),
    )
    assert.equal(onStick.length, new Set(onStick).size, 'no object twice')
    assert.deepEqual(new Set(onStick), wanted)
    const imp = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    assert.equal(imp.ok, true)
    assert.deepEqual(new Set(imp.revisions.flatMap(r => r.newObjects)), wanted)
    assert.equal(imp.newObjects, wanted.size)
    for (const id of [ids.b, ids.c]) assert.equal(bob.library.get(id)?.complete, true)
    for (const sha of wanted) assert.equal(await bob.library.objects.verify(sha), 'ok')
    // importing the same stick again changes nothing
    const again = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    assert.deepEqual(
      again.revisions.map(r => r.status),
      ['existed', 'existed'],
    )
    assert.equal(again.newObjects, 0)
  })

  it('a revision complete here already is not read off the stick; a manifest that names one falsely is not believed, and its tarball is refused', async t => {
    const { alice, bob, ids } = await twoLaptops(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    await new UsbExporter({ library: alice.library, log: silentLogger() }).export({ revisions: ['rev-a', 'rev-b'], dir: stick })
    // rev-a is complete on bob's laptop: its tarball is not read (a damaged one changes nothing), rev-b is imported
    await truncate(join(stick, 'rev-a.pvrexport.tgz'), 1000)
    const imp = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    assert.deepEqual(
      imp.revisions.map(r => [r.id, r.status]),
      [
        [ids.a, 'existed'],
        [ids.b, 'imported'],
      ],
    )
    assert.equal(bob.library.get(ids.b)?.complete, true)
    // A manifest claiming rev-a's id for the rev-b entry: the state JSON on the stick does not hash to it, so the tarball is read.
    const m = JSON.parse(await readFile(join(stick, 'fieldsync-manifest.json'), 'utf8')) as { revisions: Array<{ id: string; libraryNames: string[] }> }
    m.revisions[1].id = ids.a
    m.revisions[1].libraryNames = []
    await writeFile(join(stick, 'fieldsync-manifest.json'), JSON.stringify(m))
    const again = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    assert.equal(again.revisions[1].status, 'corrupt', 'read, and found to hold rev-b, not the rev-a the manifest says')
    assert.equal(again.revisions[1].error?.code, ErrorCodes.StickCorrupt)
    assert.equal(again.revisions[1].error?.details?.tarballId, ids.b)
  })

  it('a corrupt file on the stick: that revision is refused with E_STICK_CORRUPT, nothing of it imported', async t => {
    const { alice, bob, ids } = await twoLaptops(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    await writeLibraryInventory(bob.library, stick)
    await new UsbExporter({ library: alice.library, log: silentLogger() }).export({
      revisions: ['rev-b', 'rev-c'],
      dir: stick,
      forPeer: join(stick, PEER_INVENTORY_FILE),
    })
    // flip one byte in the middle of rev-c's tarball (an object's data)
    const f = join(stick, 'rev-c.pvrexport.tgz')
    await flipByte(f, Math.floor((await stat(f)).size / 2), 0x55)
    const v = await verifyStick(stick)
    assert.equal(v.ok, false)
    assert.deepEqual(
      v.files.filter(x => x.verdict !== 'ok').map(x => [x.path, x.verdict]),
      [['rev-c.pvrexport.tgz', 'corrupt']],
    )
    assert.deepEqual(
      v.revisions.map(r => r.ok),
      [true, false],
    )
    const objectsBefore = new Set(await bob.library.objects.list())
    const imp = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    assert.equal(imp.ok, false)
    assert.deepEqual(
      imp.revisions.map(r => r.status),
      ['imported', 'corrupt'],
    )
    assert.equal(imp.revisions[1].error?.code, ErrorCodes.StickCorrupt)
    assert.equal(bob.library.get(ids.c), undefined)
    // only rev-b's objects arrived
    const added = (await bob.library.objects.list()).filter(s => !objectsBefore.has(s))
    assert.deepEqual(new Set(added), new Set(imp.revisions[0].newObjects))
    assert.deepEqual(
      (await readdir(bob.library.objects.tmpDir)).filter(n => n.startsWith('usb-')),
      [],
    )
  })

  it('a tarball cut short or a manifest that lies: refused, nothing imported', async t => {
    const { alice, bob } = await twoLaptops(t)
    const stick = await tempDir(t, 'fieldsync-stick-')
    await new UsbExporter({ library: alice.library, log: silentLogger() }).export({ revisions: ['rev-c'], dir: stick, splitSize: 120_000 })
    const parts = (await readdir(stick)).filter(n => n.includes('.part')).sort()
    await truncate(join(stick, parts[1]), 1000)
    const v = await verifyStick(stick)
    assert.deepEqual(
      v.files.filter(x => x.verdict !== 'ok').map(x => x.verdict),
      ['size'],
    )
    const imp = await new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick)
    assert.equal(imp.revisions[0].status, 'corrupt')
    assert.equal(bob.library.list().length, 1)
    // a manifest edited to match a replaced tarball is still caught by the objects' own hashes
    const m = JSON.parse(await readFile(join(stick, 'fieldsync-manifest.json'), 'utf8'))
    await writeFile(join(stick, 'fieldsync-manifest.json'), JSON.stringify({ ...m, format: 'something-else' }))
    await assert.rejects(new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick), { code: ErrorCodes.BadInput })
  })

  it('a read the stick refuses is E_STICK_CORRUPT naming the file, not a bare errno', async () => {
    // /proc/self/mem is a regular file whose first page is never mapped: read(2) fails with EIO, as on a failing stick.
    const file = '/proc/self/mem'
    await assert.rejects(
      async () => {
        for await (const _ of readStickFile(file, undefined, 4096)) {
          /* nothing */
        }
      },
      (err: Error & { code?: string }) => {
        assert.equal(err.code, ErrorCodes.StickCorrupt)
        assert.match(err.message, new RegExp(`^${file}: reading it from the stick failed \\(EIO`))
        return true
      },
    )
  })

  it('a stick with no manifest is not a Fieldsync stick', async t => {
    const bob = await newApp(t)
    const stick = await tempDir(t)
    await assert.rejects(new UsbImporter({ library: bob.library, importer: bob.importer, log: silentLogger() }).import(stick), { code: ErrorCodes.NotFound })
  })
})

describe('usb inventories', () => {
  const sha = 'ab'.repeat(32)
  it("reads a device's GET /objects answer (sizes as strings, trailing newline)", () => {
    const inv = parseInventory(`[{"sha256":"${sha}","size":"12"}]\n`, 'x')
    assert.equal(inv.kind, 'device')
    assert.equal(inv.objects.get(sha), 12)
  })
  it('reads a laptop inventory', () => {
    const inv = parseInventory(JSON.stringify({ format: 'fieldsync-inventory@1', host: 'h', objects: [{ sha256: sha, size: 5 }] }), 'x')
    assert.equal(inv.kind, 'laptop')
    assert.equal(inv.objects.get(sha), 5)
  })
  it('reads a device inventory that carries the state the device runs (install.sh --inventory), and one whose device did not tell it', () => {
    const inv = parseInventory(
      `{"format":"fieldsync-device-inventory@1","revision":"locals/a","current_sha256":"${sha}",\n"current":{"#spec":"pantavisor-service-system@1"},\n"objects":[{"sha256":"${sha}","size":"12"}]\n}\n`,
      'x',
    )
    assert.equal(inv.kind, 'device')
    assert.equal(inv.objects.get(sha), 12)
    assert.equal(inv.current?.revision, 'locals/a')
    assert.equal(inv.current?.sha256, sha)
    assert.deepEqual(JSON.parse(Buffer.from(inv.current?.raw ?? []).toString()), { '#spec': 'pantavisor-service-system@1' })
    const none = parseInventory(`{"format":"fieldsync-device-inventory@1","revision":"","current_sha256":null,"current":null,"objects":[]}`, 'x')
    assert.equal(none.current, undefined)
  })
  const dev = (o: Record<string, unknown>) =>
    JSON.stringify({
      format: 'fieldsync-device-inventory@1',
      revision: 'r',
      current_sha256: sha,
      current: { '#spec': 'pantavisor-service-system@1' },
      objects: [],
      ...o,
    })
  for (const bad of [
    '',
    '{}',
    '[1]',
    `[{"sha256":"${sha.toUpperCase()}"}]`,
    `[{"sha256":"${sha}","size":"-1"}]`,
    '{"format":"fieldsync-inventory@1","objects":7}',
    dev({ current: [] }),
    dev({ current_sha256: 'x' }),
    dev({ revision: 'a b' }),
    dev({ objects: null }),
  ]) {
    it(`refuses ${JSON.stringify(bad)} with E_BAD_INPUT`, () => {
      assert.throws(() => parseInventory(bad, 'x'), { code: ErrorCodes.BadInput })
    })
  }
})
