import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { AbortedError, ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { exportRevision } from '../../../main/store/export.js'
import { UsbExporter, UsbImporter, readManifest, verifyStick, MANIFEST_FILE } from '../../../main/usb/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'
import { addRevision, makeParts, newApp, tarList } from './helpers.js'
import { buildState, writeTarball } from '../../helpers/revisions.js'

async function setup(t: Parameters<typeof tempDir>[0]) {
  const app = await newApp(t)
  const src = await tempDir(t)
  const p = await makeParts(src)
  const c = (i: number) => ({ name: `app${i}`, root: p.roots[i], config: p.configs[i] })
  const a = await addRevision(app, src, 'rev-a', { kernel: p.kernel, initrd: p.initrd, containers: [c(0), c(1)] })
  const b = await addRevision(app, src, 'rev-b', { kernel: p.kernel, initrd: p.initrd, containers: [c(0), c(2), c(3)] })
  const stick = await tempDir(t, 'fieldsync-stick-')
  const exporter = new UsbExporter({ library: app.library, log: silentLogger(), trust: app.trust })
  return { app, src, p, a, b, stick, exporter }
}

describe('usb export', () => {
  it("writes a tarball per revision (gunzipped: the library's own tar), install.sh, README, SHA256SUMS, manifest", async t => {
    const { app, a, b, stick, exporter } = await setup(t)
    const res = await exporter.export({ revisions: ['rev-a', 'rev-b'], dir: stick })
    assert.deepEqual(
      res.revisions.map(r => r.name),
      ['rev-a', 'rev-b'],
    )
    const files = (await readdir(stick)).sort()
    assert.deepEqual(
      files,
      [
        'README.txt',
        'SHA256SUMS',
        MANIFEST_FILE,
        'install.sh',
        'rev-a.json',
        'rev-a.objects',
        'rev-a.pvrexport.tgz',
        'rev-b.json',
        'rev-b.objects',
        'rev-b.pvrexport.tgz',
      ].sort(),
    )
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: stick })
    const tarFile = join(await tempDir(t), 'a.tar')
    await exportRevision(app.library, a, tarFile)
    assert.deepEqual(gunzipSync(await readFile(join(stick, 'rev-a.pvrexport.tgz'))), await readFile(tarFile))
    const m = await readManifest(stick)
    assert.ok(m !== undefined)
    assert.deepEqual(
      m.revisions.map(r => [r.id, r.mode, r.parts.length, r.included === r.objects.length]),
      [
        [a, 'full', 1, true],
        [b, 'full', 1, true],
      ],
    )
    assert.equal((await stat(join(stick, 'rev-a.pvrexport.tgz'))).size, m.revisions[0].bytes)
    assert.deepEqual(
      (await readFile(join(stick, 'rev-b.objects'), 'utf8')).trim().split('\n').sort(),
      app.library
        .objectsOf(b)
        .map(o => `${o.sha} ${o.size ?? 0}`)
        .filter((s, i, l) => l.indexOf(s) === i)
        .sort(),
    )
    assert.deepEqual(await readFile(join(stick, 'rev-a.json')), Buffer.from(app.library.state(a).raw))
    assert.equal((await verifyStick(stick)).ok, true)
  })

  it('splits a tarball over the split size into parts that join to the unsplit file', async t => {
    const { stick, exporter } = await setup(t)
    const whole = await tempDir(t)
    await exporter.export({ revisions: ['rev-a'], dir: whole })
    const res = await exporter.export({ revisions: ['rev-a'], dir: stick, splitSize: 100_000 })
    const parts = res.revisions[0].files
    assert.ok(parts.length > 3)
    assert.equal(parts[0], 'rev-a.pvrexport.tgz.part000')
    const joined = Buffer.concat(await Promise.all(parts.map(p => readFile(join(stick, p)))))
    assert.deepEqual(joined, await readFile(join(whole, 'rev-a.pvrexport.tgz')))
    for (const p of parts.slice(0, -1)) assert.equal((await stat(join(stick, p))).size, 100_000)
    assert.equal((await verifyStick(stick)).ok, true)
    // exporting again unsplit replaces the parts
    await exporter.export({ revisions: ['rev-a'], dir: stick })
    assert.deepEqual(
      (await readdir(stick)).filter(f => f.includes('.pvrexport.tgz')),
      ['rev-a.pvrexport.tgz'],
    )
    assert.equal((await verifyStick(stick)).ok, true)
  })

  it('--for-device: only the objects the device lacks; the state still names them all', async t => {
    const { app, p, b, stick, exporter } = await setup(t)
    const inv = join(stick, 'device-inventory.json')
    // the device's GET /objects answer: sizes as strings
    await writeFile(inv, JSON.stringify([p.kernel, p.initrd, p.roots[0], p.configs[0]].map(o => ({ sha256: o.sha, size: String(o.size) }))) + '\n')
    const res = await exporter.export({ revisions: ['rev-b'], dir: stick, forDevice: inv })
    const objs = tarList(join(stick, 'rev-b.pvrexport.tgz'))
      .filter(n => n.startsWith('objects/') && n !== 'objects/')
      .map(n => n.slice(8))
      .sort()
    assert.deepEqual(objs, [p.roots[2].sha, p.roots[3].sha, p.configs[2].sha, p.configs[3].sha].sort())
    assert.equal(res.revisions[0].included, 4)
    assert.equal(res.revisions[0].objects, app.library.get(b)?.objects)
    const json = execFileSync('tar', ['-xzOf', join(stick, 'rev-b.pvrexport.tgz'), 'json'])
    assert.deepEqual(json, Buffer.from(app.library.state(b).raw))
  })

  it('--for-device with the state the device runs: a package is composed onto it; the library need not hold what the device holds, but an object nobody holds refuses', async t => {
    const { p } = await setup(t)
    // A laptop that has only the package (app3): the device runs rev-a, whose objects this library lacks.
    const app = await newApp(t)
    const src = await tempDir(t)
    const current = buildState({ kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'app0', root: p.roots[0], config: p.configs[0] }] })
    const pkg = buildState({ kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'app3', root: p.roots[3], config: p.configs[3] }] })
    for (const k of Object.keys(pkg)) if (k.startsWith('bsp/')) delete pkg[k]
    const file = join(src, 'pkg.tar')
    await writeTarball(file, JSON.stringify(pkg), [p.roots[3], p.configs[3]])
    await app.importer.importPath(file, { name: 'pkg' })
    const stick = await tempDir(t, 'fieldsync-stick-')
    const held = [p.kernel, p.initrd, p.roots[0], p.configs[0]]
    const inv = join(stick, 'device-inventory.json')
    const write = async (objs: typeof held) => {
      await writeFile(
        inv,
        `{"format":"fieldsync-device-inventory@1","revision":"locals/rev-a","current_sha256":"${'cd'.repeat(32)}",\n"current":${JSON.stringify(current)},\n"objects":${JSON.stringify(objs.map(o => ({ sha256: o.sha, size: String(o.size) })))}}\n`,
      )
    }
    await write(held)
    const exporter = new UsbExporter({ library: app.library, log: silentLogger(), trust: app.trust })
    const res = await exporter.export({ revisions: ['pkg'], dir: stick, forDevice: inv })
    assert.deepEqual(
      res.revisions.map(r => [r.name, r.included, r.objects, r.onto?.revision, r.onto?.stateSha256]),
      [['pkg', 2, 6, 'locals/rev-a', 'cd'.repeat(32)]],
    )
    const composed = JSON.parse(execFileSync('tar', ['-xzOf', join(stick, 'pkg.pvrexport.tgz'), 'json']).toString()) as Record<string, unknown>
    assert.deepEqual(Object.keys(composed).sort(), [...Object.keys(current), 'app3/run.json', 'app3/lxc.container.conf', 'app3/root.squashfs'].sort())
    assert.equal(
      res.revisions[0].id,
      createHash('sha256')
        .update(JSON.stringify(Object.fromEntries(Object.entries(composed).sort(([x], [y]) => (x < y ? -1 : 1)))))
        .digest('hex'),
    )
    assert.deepEqual(
      (await readFile(join(stick, 'pkg.objects'), 'utf8')).trim().split('\n').sort(),
      [...held, p.roots[3], p.configs[3]].map(o => `${o.sha} ${o.size}`).sort(),
    )
    assert.match(await readFile(join(stick, 'pkg.onto'), 'utf8'), /^state_sha256 (cd){32}\nrevision locals\/rev-a\n/)
    assert.equal((await verifyStick(stick)).ok, true)
    // The device's inventory does not list the kernel, and this library lacks it: nothing can send it.
    await write(held.slice(1))
    await assert.rejects(exporter.export({ revisions: ['pkg'], dir: await tempDir(t, 'fieldsync-stick-'), forDevice: inv }), {
      code: ErrorCodes.IncompleteRevision,
    })
  })

  it('--for-device when the device has everything: json and an empty objects/ folder (pvcontrol wants one)', async t => {
    const { app, a, stick, exporter } = await setup(t)
    const inv = join(stick, 'inv.json')
    await writeFile(inv, JSON.stringify(app.library.objectsOf(a).map(o => ({ sha256: o.sha, size: String(o.size) }))))
    await exporter.export({ revisions: ['rev-a'], dir: stick, forDevice: inv })
    assert.deepEqual(tarList(join(stick, 'rev-a.pvrexport.tgz')), ['json', 'objects/'])
  })

  it('keeps revisions already on the stick and adds new ones', async t => {
    const { stick, exporter } = await setup(t)
    await exporter.export({ revisions: ['rev-a'], dir: stick })
    await exporter.export({ revisions: ['rev-b'], dir: stick })
    const m = await readManifest(stick)
    assert.deepEqual(
      m?.revisions.map(r => r.name),
      ['rev-a', 'rev-b'],
    )
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: stick })
    assert.equal((await verifyStick(stick)).ok, true)
  })

  it('cancelled while writing the first revision: no tarball and no temporary file', async t => {
    const { stick, exporter } = await setup(t)
    const ac = new AbortController()
    await assert.rejects(
      exporter.export({
        revisions: ['rev-a', 'rev-b'],
        dir: stick,
        signal: ac.signal,
        onProgress: () => {
          ac.abort()
        },
      }),
      (e: { code?: string; name?: string }) => e.code === ErrorCodes.Aborted || e.name === 'AbortError',
    )
    assert.deepEqual(await readdir(stick), [])
  })

  it('cut short in the second revision: the first is on the stick, listed and whole; the next run writes only the second', async t => {
    const { a, b, stick, exporter } = await setup(t)
    const ac = new AbortController()
    await assert.rejects(
      exporter.export({
        revisions: ['rev-a', 'rev-b'],
        dir: stick,
        signal: ac.signal,
        onProgress: p => {
          if (p.file === 'rev-b.pvrexport.tgz' && p.phase === 'write' && p.bytes > 0) ac.abort()
        },
      }),
      (e: { code?: string; details?: { complete?: string[] } }) => {
        assert.equal(e.code, ErrorCodes.Aborted)
        assert.ok(e instanceof AbortedError, 'the error keeps its class')
        assert.deepEqual(e.details?.complete, ['rev-a'], 'the error says what the stick holds complete')
        return true
      },
    )
    const files = await readdir(stick)
    assert.equal(
      files.some(f => f.endsWith('.tmp') || f.startsWith('rev-b')),
      false,
      files.join(' '),
    )
    assert.deepEqual(
      (await readManifest(stick))?.revisions.map(r => r.id),
      [a],
    )
    assert.equal((await verifyStick(stick)).ok, true)
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: stick })
    const before = await stat(join(stick, 'rev-a.pvrexport.tgz'))
    const phases = new Map<string, Set<string>>()
    const res = await exporter.export({
      revisions: ['rev-a', 'rev-b'],
      dir: stick,
      onProgress: p => {
        phases.set(p.file, (phases.get(p.file) ?? new Set()).add(p.phase))
      },
    })
    assert.deepEqual(
      res.revisions.map(r => [r.id, r.written]),
      [
        [a, false],
        [b, true],
      ],
    )
    assert.deepEqual([...(phases.get('rev-a.pvrexport.tgz') ?? [])], ['check'])
    assert.deepEqual([...(phases.get('rev-b.pvrexport.tgz') ?? [])].sort(), ['verify', 'write'])
    const after = await stat(join(stick, 'rev-a.pvrexport.tgz'))
    assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'rev-a left as it was')
    assert.deepEqual(
      (await readManifest(stick))?.revisions.map(r => r.id),
      [a, b],
    )
    assert.equal((await verifyStick(stick)).ok, true)
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: stick })
  })

  it("exporting again what the stick holds: hashed, not written; a changed byte is written again; the stick's manifest is not trusted", async t => {
    const { app, a, b, stick, exporter } = await setup(t)
    await exporter.export({ revisions: ['rev-a', 'rev-b'], dir: stick, splitSize: 150_000 })
    const again = await exporter.export({ revisions: ['rev-a', 'rev-b'], dir: stick, splitSize: 150_000 })
    assert.deepEqual(
      again.revisions.map(r => [r.id, r.written]),
      [
        [a, false],
        [b, false],
      ],
    )
    assert.ok(again.revisions[1].files.length > 1, 'in parts')
    // One byte of one part of rev-b changes on the stick (same size): rev-b is written again.
    const part = join(stick, again.revisions[1].files[1])
    const buf = await readFile(part)
    buf[1000] ^= 1
    await writeFile(part, buf)
    assert.equal((await verifyStick(stick)).ok, false)
    const fixed = await exporter.export({ revisions: ['rev-a', 'rev-b'], dir: stick, splitSize: 150_000 })
    assert.deepEqual(
      fixed.revisions.map(r => [r.id, r.written]),
      [
        [a, false],
        [b, true],
      ],
    )
    assert.equal((await verifyStick(stick)).ok, true)
    // A manifest that vouches for other bytes than the files hold (the file changed, the manifest and SHA256SUMS with it):
    // the file is not what this library writes, so it is written again.
    const m = JSON.parse(await readFile(join(stick, MANIFEST_FILE), 'utf8')) as { revisions: Array<{ parts: Array<{ path: string; sha256: string }> }> }
    const p0 = join(stick, m.revisions[0].parts[0].path)
    const forged = await readFile(p0)
    forged[2000] ^= 1
    await writeFile(p0, forged)
    m.revisions[0].parts[0].sha256 = createHash('sha256').update(forged).digest('hex')
    await writeFile(join(stick, MANIFEST_FILE), JSON.stringify(m))
    const sums = (await readFile(join(stick, 'SHA256SUMS'), 'utf8'))
      .split('\n')
      .map(l => (l.endsWith(`  ${m.revisions[0].parts[0].path}`) ? `${m.revisions[0].parts[0].sha256}  ${m.revisions[0].parts[0].path}` : l))
      .join('\n')
    await writeFile(join(stick, 'SHA256SUMS'), sums)
    const re = await exporter.export({ revisions: ['rev-a'], dir: stick, splitSize: 150_000 })
    assert.deepEqual(
      re.revisions.map(r => [r.id, r.written]),
      [[a, true]],
    )
    assert.equal((await verifyStick(stick)).ok, true)
    const tarFile = join(await tempDir(t), 'a.tar')
    await exportRevision(app.library, a, tarFile)
    const joined = Buffer.concat(await Promise.all(re.revisions[0].files.map(async f => await readFile(join(stick, f)))))
    assert.deepEqual(gunzipSync(joined), await readFile(tarFile))
  })

  it('refuses a revision the signature policy refuses, before writing anything', async t => {
    const app = await newApp(t)
    await app.importer.importPath(join(vendoredUpstreamDir, 'pvwificonnect.tgz'), { name: 'wifi' })
    const stick = await tempDir(t)
    const exporter = new UsbExporter({ library: app.library, log: silentLogger(), trust: app.trust })
    await assert.rejects(exporter.export({ revisions: ['wifi'], dir: stick }), { code: ErrorCodes.PolicyRefused })
    assert.deepEqual(await readdir(stick), [])
    await app.trust.add(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'))
    await exporter.export({ revisions: ['wifi'], dir: stick })
    assert.equal((await verifyStick(stick)).ok, true)
  })

  it('bad input: unknown revision, incomplete revision, bad inventory, both inventories', async t => {
    const { app, stick, exporter, src } = await setup(t)
    await assert.rejects(exporter.export({ revisions: ['nope'], dir: stick }), { code: ErrorCodes.UnknownRevision })
    const inv = join(src, 'inv.json')
    await writeFile(inv, '[{"sha256":"XYZ","size":"1"}]')
    await assert.rejects(exporter.export({ revisions: ['rev-a'], dir: stick, forDevice: inv }), { code: ErrorCodes.BadInput })
    await assert.rejects(exporter.export({ revisions: ['rev-a'], dir: stick, forDevice: inv, forPeer: inv }), { code: ErrorCodes.Usage })
    await assert.rejects(exporter.export({ revisions: ['rev-a'], dir: join(stick, 'missing') }), { code: ErrorCodes.BadInput })
    const sha = app.library.objectsOf(app.library.resolve('rev-a').id)[0].sha
    await app.library.objects.remove(sha)
    app.library.objectAbsent(sha)
    await assert.rejects(exporter.export({ revisions: ['rev-a'], dir: stick }), { code: ErrorCodes.IncompleteRevision })
    assert.deepEqual(await readdir(stick), [])
  })

  it('a stick written by export imports into another library', async t => {
    const { a, b, stick, exporter } = await setup(t)
    await exporter.export({ revisions: ['rev-a', 'rev-b'], dir: stick, splitSize: 150_000 })
    const other = await newApp(t)
    const res = await new UsbImporter({ library: other.library, importer: other.importer, log: silentLogger() }).import(stick)
    assert.equal(res.ok, true)
    assert.deepEqual(
      res.revisions.map(r => [r.id, r.status, r.complete]),
      [
        [a, 'imported', true],
        [b, 'imported', true],
      ],
    )
    assert.deepEqual(other.library.resolve('rev-b').id, b)
  })
})
