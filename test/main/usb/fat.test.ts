/**
 * On a real FAT32 file system: an image made with mkfs.vfat, mounted through
 * a loop device (or fusefat where the kernel lacks vfat). Root only.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { adviceFor } from '../../../shared/advice.js'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { UsbExporter, UsbImporter, verifyStick, MANIFEST_FILE } from '../../../main/usb/index.js'
import { tempDir } from '../../helpers/tmp.js'
import { addRevision, fatStick, makeParts, newApp, randomObject } from './helpers.js'

async function library(t: Parameters<typeof tempDir>[0], rootBytes: number) {
  const app = await newApp(t)
  const src = await tempDir(t)
  const p = await makeParts(src, { rootBytes })
  const c = (i: number) => ({ name: `app${i}`, root: p.roots[i], config: p.configs[i] })
  const id = await addRevision(app, src, 'rev-a', { kernel: p.kernel, initrd: p.initrd, containers: [c(0), c(1), c(2)] })
  return { app, src, p, id, exporter: new UsbExporter({ library: app.library, log: silentLogger(), trust: app.trust }) }
}

describe('usb on a FAT32 stick', () => {
  it('export (split into parts), sha256sum -c, verify, and import back', async t => {
    const stick = await fatStick(t, 64)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    const { app, id, exporter } = await library(t, 3 << 20)
    const res = await exporter.export({ revisions: ['rev-a'], dir: stick.dir, splitSize: 4 << 20 })
    assert.ok(res.revisions[0].files.length >= 2, 'split into parts')
    execFileSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: stick.dir })
    assert.equal((await verifyStick(stick.dir)).ok, true)
    assert.equal(
      (await readdir(stick.dir)).some(n => n.endsWith('.tmp')),
      false,
    )
    // Again: the stick's parts are read back from the FAT file system and found equal, so nothing is written.
    const again = await exporter.export({ revisions: ['rev-a'], dir: stick.dir, splitSize: 4 << 20 })
    assert.deepEqual(
      again.revisions.map(r => r.written),
      [false],
    )
    assert.equal((await verifyStick(stick.dir)).ok, true)
    const other = await newApp(t)
    const imp = await new UsbImporter({ library: other.library, importer: other.importer, log: silentLogger() }).import(stick.dir)
    assert.deepEqual(
      imp.revisions.map(r => [r.id, r.status, r.complete]),
      [[id, 'imported', true]],
    )
    assert.equal(imp.newBytes, app.library.get(id)?.bytes)
  })

  it('a full stick: E_NO_SPACE, and no file that looks complete is left', async t => {
    const stick = await fatStick(t, 40)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    const { exporter } = await library(t, 18 << 20) // ~54 MiB of objects for a 40 MiB stick
    await assert.rejects(exporter.export({ revisions: ['rev-a'], dir: stick.dir }), (e: { code?: string; message?: string; details?: { needed?: number } }) => {
      assert.equal(e.code, ErrorCodes.NoSpace)
      // What to do is the stick's remedy, in each front end's terms (never "remove revisions", no CLI flag in the app).
      const app = adviceFor(e, 'app') ?? ''
      assert.match(app, /bigger stick.*inventory/)
      assert.doesNotMatch(app + (e.message ?? ''), /--for-device|remove revisions/)
      assert.match(adviceFor(e, 'cli') ?? '', /--for-device/)
      // the kernel's vfat reports free space, so the check refuses before writing; fusefat does not, so the write fails and is cleaned up
      if (stick.how === 'kernel vfat') assert.ok((e.details?.needed ?? 0) > 40 << 20)
      return true
    })
    assert.deepEqual(await readdir(stick.dir), [], `nothing left on the stick (${stick.how})`)
  })

  it('a stick that fills up during the write (the file system gave no free space figure, or lied): E_NO_SPACE, temporary files removed', async t => {
    const stick = await fatStick(t, 40)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    // fill most of the stick behind Fieldsync's back, after its free-space check
    const big = await library(t, 6 << 20)
    const filler = await randomObject(big.src, 'filler', 30 << 20)
    let filled = false
    await assert.rejects(
      big.exporter.export({
        revisions: ['rev-a'],
        dir: stick.dir,
        onProgress: () => {
          if (filled) return
          filled = true
          execFileSync('cp', [filler.path, `${stick.dir}/FILLER.BIN`])
        },
      }),
      (e: { code?: string; message?: string }) => {
        assert.equal(e.code, ErrorCodes.NoSpace)
        assert.match(adviceFor(e, 'app') ?? '', /bigger stick/)
        assert.doesNotMatch(e.message ?? '', /--for-device|remove revisions/)
        return true
      },
    )
    assert.deepEqual(
      (await readdir(stick.dir)).filter(n => n.toUpperCase() !== 'FILLER.BIN'),
      [],
    )
  })

  it('the free-space check refuses before writing a byte where the file system reports its free space (a 16 MiB tmpfs)', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const dir = await mkdtemp(join(tmpdir(), 'fieldsync-usb-tmpfs-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir])
    t.after(async () => {
      execFileSync('umount', [dir])
      await rm(dir, { recursive: true, force: true })
    })
    const { exporter } = await library(t, 6 << 20)
    const plan = await exporter.plan({ revisions: ['rev-a'], dir })
    assert.ok(plan.availableBytes !== null && plan.availableBytes <= 16 << 20)
    let progressed = false
    await assert.rejects(
      exporter.export({
        revisions: ['rev-a'],
        dir,
        onProgress: () => {
          progressed = true
        },
      }),
      (e: { code?: string; details?: { needed?: number; available?: number } }) => {
        assert.equal(e.code, ErrorCodes.NoSpace)
        assert.equal(e.details?.needed, plan.neededBytes)
        return true
      },
    )
    assert.equal(progressed, false, 'not a byte written')
    assert.deepEqual(await readdir(dir), [])
  })

  it('a stick with little room left: what it already holds is not counted again (a 16 MiB tmpfs)', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const dir = await mkdtemp(join(tmpdir(), 'fieldsync-usb-tmpfs-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir])
    t.after(async () => {
      execFileSync('umount', [dir])
      await rm(dir, { recursive: true, force: true })
    })
    const { app, src, p, exporter } = await library(t, 3 << 20) // rev-a: ~9 MiB
    await addRevision(app, src, 'rev-b', { kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'small', root: p.configs[0], config: p.configs[1] }] })
    await exporter.export({ revisions: ['rev-a'], dir })
    const plan = await exporter.plan({ revisions: ['rev-a', 'rev-b'], dir })
    assert.ok(plan.neededBytes > (plan.availableBytes ?? 0), 'writing both again would not fit')
    const res = await exporter.export({ revisions: ['rev-a', 'rev-b'], dir })
    assert.deepEqual(
      res.revisions.map(r => [r.name, r.written]),
      [
        ['rev-a', false],
        ['rev-b', true],
      ],
    )
    assert.equal((await verifyStick(dir)).ok, true)
  })

  it('a read-only stick: export fails with E_READ_ONLY; import and verify still work', async t => {
    const { app, id, exporter } = await library(t, 1 << 20)
    const stick = await fatStick(t, 40, {
      readOnly: true,
      populate: async dir => {
        await exporter.export({ revisions: ['rev-a'], dir })
      },
    })
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    const before = (await readdir(stick.dir)).sort()
    assert.ok(before.includes(MANIFEST_FILE))
    await assert.rejects(exporter.export({ revisions: ['rev-a'], dir: stick.dir }), { code: ErrorCodes.ReadOnly })
    assert.deepEqual((await readdir(stick.dir)).sort(), before)
    assert.equal((await verifyStick(stick.dir)).ok, true)
    const other = await newApp(t)
    const imp = await new UsbImporter({ library: other.library, importer: other.importer, log: silentLogger() }).import(stick.dir)
    assert.deepEqual(
      imp.revisions.map(r => [r.id, r.complete]),
      [[id, true]],
    )
    void app
  })
})
