/** The CLI contract and bad input, through the real `fieldsync` process. */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, readdir, readFile, writeFile, mkdir, mkdtemp, rm, truncate, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import tar from 'tar-stream'
import { createGzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { createWriteStream } from 'node:fs'
import { runCli } from '../helpers/cli.js'
import { cliBin, vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { cidOf } from '../../shared/ids.js'
import { buildState, smallObject, writeTarball } from '../helpers/revisions.js'

async function stats(home: string) {
  const r = await runCli(['stats', '--json'], { home })
  assert.equal(r.code, 0, r.stderr)
  return r.json()
}

/** A tarball with arbitrary entries, to build hostile archives. */
async function rawTar(file: string, entries: Array<{ header: Record<string, unknown>; body?: Buffer }>, gzip = false) {
  const pack = tar.pack()
  const done = (pipeline as (...s: unknown[]) => Promise<void>)(pack, ...(gzip ? [createGzip()] : []), createWriteStream(file))
  for (const e of entries) {
    await new Promise<void>((res, rej) => pack.entry(e.header as any, e.body ?? Buffer.alloc(0), err => (err ? rej(err) : res())))
  }
  pack.finalize()
  await done
}

describe('cli: library commands', () => {
  it('imports, lists, shows, diffs, exports with --json documents', async t => {
    const home = await tempDir(t)
    const out = await tempDir(t)
    const imp = await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'wifi', '--json'], { home })
    assert.equal(imp.code, 0, imp.stderr)
    const j = imp.json()
    assert.deepEqual(Object.keys(j).slice(0, 5), ['id', 'name', 'objects', 'missing', 'bytes'])
    assert.equal(j.name, 'wifi')
    assert.equal(j.missing, 0)
    assert.equal(j.objects, 3)
    const again = await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz')], { home })
    assert.equal(again.code, 0)
    assert.match(again.stdout, /already in the library/)
    await runCli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'wd'], { home })
    const ls = (await runCli(['ls', '--json'], { home })).json()
    assert.equal(ls.length, 2)
    for (const r of ls) for (const k of ['id', 'name', 'spec', 'objects', 'missing', 'bytes', 'importedAt']) assert.ok(k in r, k)
    const show = await runCli(['show', j.id.slice(0, 10), '--json'], { home })
    assert.equal(show.code, 0, show.stderr)
    const sj = show.json()
    assert.equal(sj.revision.id, j.id)
    assert.equal(sj.revision.complete, true)
    assert.ok(sj.parts.some((p: any) => p.kind === 'container' && p.name === 'pvwificonnect'))
    const objects = sj.parts.flatMap((p: any) => p.objects)
    assert.equal(objects.length, 3)
    assert.ok(
      objects.every((o: any) => typeof o.key === 'string' && o.sha.length === 64 && o.cid === cidOf(o.sha) && typeof o.size === 'number' && o.present === true),
    )
    const diff = (await runCli(['diff', 'wifi', 'wd', '--json'], { home })).json()
    assert.ok(diff.added.length > 0 && diff.removed.length > 0)
    assert.equal(typeof diff.transferBytes, 'number')
    assert.ok(diff.transferBytes > 0)
    const ex = await runCli(['export', 'wifi', join(out, 'wifi.tgz'), '--json'], { home })
    assert.equal(ex.code, 0, ex.stderr)
    const parts = await runCli(['export', 'wd', join(out, 'part.tar'), '--parts', 'watchdog_pinger', '--json'], { home })
    assert.equal(parts.code, 0, parts.stderr)
    const partJson = JSON.parse(execFileSync('tar', ['-xOf', join(out, 'part.tar'), 'json'], { encoding: 'utf8' }))
    assert.equal(partJson['#spec'], 'pantavisor-service-system@1')
    assert.ok(Object.keys(partJson).every(k => k === '#spec' || k.startsWith('watchdog_pinger/')))
    const none = await runCli(['export', 'wd', join(out, 'none.tar'), '--parts', 'nothing', '--json'], { home })
    assert.equal(none.code, 1)
    assert.equal(none.json().error.code, 'E_BAD_INPUT')
    await assert.rejects(stat(join(out, 'none.tar')))
    const v = (await runCli(['verify', '--json'], { home })).json()
    assert.deepEqual(v, { checked: 6, corrupt: [], missing: [] })
  })

  it('an import without --name is named after its file, unless the revision has a name or another revision has that one', async t => {
    const home = await tempDir(t)
    const dir = await tempDir(t)
    const names = async () => Object.fromEntries((await runCli(['ls', '--json'], { home })).json().map((r: any) => [r.id, r.names]))
    const wifi = (await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--json'], { home })).json()
    assert.equal(wifi.name, 'pvwificonnect')
    // Another file of the same revision adds no second name.
    await copyFile(join(vendoredUpstreamDir, 'pvwificonnect.tgz'), join(dir, 'wifi copy.tgz'))
    assert.equal((await runCli(['import', join(dir, 'wifi copy.tgz'), '--json'], { home })).json().existed, true)
    // Another revision in a file of the same name: the name stays where it is.
    await copyFile(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), join(dir, 'pvwificonnect.tar'))
    const wd = (await runCli(['import', join(dir, 'pvwificonnect.tar'), '--json'], { home })).json()
    assert.equal(wd.name, null)
    // A state JSON and a file name with spaces.
    await copyFile(join(vendoredUpstreamDir, 'initial_state.json'), join(dir, 'Site 4 (rpi).json'))
    const init = (await runCli(['import', join(dir, 'Site 4 (rpi).json'), '--json'], { home })).json()
    assert.equal(init.name, 'Site-4-rpi')
    // Its objects are all missing: its size is unknown, as the app says, not "0 B" (issue #17, item 12).
    const row = (await runCli(['ls'], { home })).stdout.split('\n').find(l => l.includes('Site-4-rpi')) ?? ''
    assert.equal(row.split(/\s{2,}/)[2], 'unknown', row)
    assert.match((await runCli(['show', init.id], { home })).stdout, /objects, unknown, INCOMPLETE/)
    assert.match(row, /^\S+\s+Site-4-rpi/)
    assert.deepEqual(await names(), { [wifi.id]: ['pvwificonnect'], [wd.id]: [], [init.id]: ['Site-4-rpi'] })
    // --name still moves a name, as before.
    await runCli(['import', join(dir, 'pvwificonnect.tar'), '--name', 'pvwificonnect'], { home })
    assert.deepEqual((await names())[wd.id], ['pvwificonnect'])
  })

  it('usage errors exit 2; unknown revisions exit 1 with a code', async t => {
    const home = await tempDir(t)
    assert.equal((await runCli(['frobnicate'], { home })).code, 2)
    assert.equal((await runCli(['ls', '--bogus'], { home })).code, 2)
    const r = await runCli(['show', 'nope', '--json'], { home })
    assert.equal(r.code, 1)
    assert.equal(r.json().error.code, 'E_UNKNOWN_REVISION')
    assert.match(r.stderr, /nope/)
    const v = await runCli(['--version'], { home })
    assert.equal(v.code, 0)
    assert.match(v.stdout, /^\d+\.\d+\.\d+/)
  })

  it('an ambiguous id prefix is refused', async t => {
    const home = await tempDir(t)
    const imp = (await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--json'], { home })).json()
    // a second revision whose id shares the first 10 hex digits (made directly in the index)
    const db = new Database(join(home, 'index.db'))
    db.prepare(
      'INSERT INTO revisions (id, state, spec, source, imported_at, complete) SELECT ?, state, spec, source, imported_at, 1 FROM revisions WHERE id = ?',
    ).run(imp.id.slice(0, 10) + 'f'.repeat(54), imp.id)
    db.close()
    const r = await runCli(['show', imp.id.slice(0, 10), '--json'], { home })
    assert.equal(r.code, 1)
    assert.equal(r.json().error.code, 'E_AMBIGUOUS_REVISION')
    assert.equal((await runCli(['show', imp.id.slice(0, 11), '--json'], { home })).code, 0)
  })

  describe('bad input gets a clear error and changes nothing', async () => {
    const cases: Array<[string, (dir: string, ok: { json: string; objs: Array<{ sha: string; path: string }> }) => Promise<string>, string]> = [
      [
        'an entry escaping with ../',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [
            { header: { name: 'json' }, body: Buffer.from(ok.json) },
            { header: { name: '../evil' }, body: Buffer.from('x') },
          ])
          return f
        },
        'E_UNSAFE_ENTRY',
      ],
      [
        'an absolute entry',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [
            { header: { name: '/etc/evil' }, body: Buffer.from('x') },
            { header: { name: 'json' }, body: Buffer.from(ok.json) },
          ])
          return f
        },
        'E_UNSAFE_ENTRY',
      ],
      [
        'a symlink',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [
            { header: { name: 'json' }, body: Buffer.from(ok.json) },
            { header: { name: 'objects/link', type: 'symlink', linkname: '/etc/passwd' } },
          ])
          return f
        },
        'E_UNSAFE_ENTRY',
      ],
      [
        'a hard link',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [{ header: { name: 'json' }, body: Buffer.from(ok.json) }, { header: { name: 'objects/x', type: 'link', linkname: 'json' } }])
          return f
        },
        'E_UNSAFE_ENTRY',
      ],
      [
        'a device',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [
            { header: { name: 'json' }, body: Buffer.from(ok.json) },
            { header: { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 } },
          ])
          return f
        },
        'E_UNSAFE_ENTRY',
      ],
      [
        'a fifo',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [{ header: { name: 'json' }, body: Buffer.from(ok.json) }, { header: { name: 'fifo', type: 'fifo' } }])
          return f
        },
        'E_UNSAFE_ENTRY',
      ],
      [
        'an object whose bytes do not match its name',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [
            { header: { name: 'json' }, body: Buffer.from(ok.json) },
            { header: { name: `objects/${ok.objs[0].sha}` }, body: Buffer.from('not the bytes') },
          ])
          return f
        },
        'E_OBJECT_HASH_MISMATCH',
      ],
      [
        'an object name that is not a sha256',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [
            { header: { name: 'json' }, body: Buffer.from(ok.json) },
            { header: { name: 'objects/ABCDEF' }, body: Buffer.from('x') },
          ])
          return f
        },
        'E_BAD_OBJECT_NAME',
      ],
      [
        'invalid state JSON',
        async d => {
          const f = join(d, 'x.tar')
          await rawTar(f, [{ header: { name: 'json' }, body: Buffer.from('{"#spec": "pantavisor-service-system@1", ') }])
          return f
        },
        'E_INVALID_STATE',
      ],
      [
        'a state that breaks a rule',
        async d => {
          const f = join(d, 'bad.json')
          await writeFile(
            f,
            JSON.stringify({ '#spec': 'pantavisor-service-system@1', 'bsp/run.json': { linux: 'kernel.img' }, 'bsp/kernel.img': 'a'.repeat(64) }),
          )
          return f
        },
        'E_INVALID_STATE',
      ],
      [
        'an oversized state',
        async d => {
          const f = join(d, 'x.tar')
          await rawTar(f, [{ header: { name: 'json' }, body: Buffer.alloc(17 << 20, 0x20) }])
          return f
        },
        'E_STATE_TOO_LARGE',
      ],
      [
        'a truncated gzip',
        async (d, ok) => {
          const f = join(d, 'x.tgz')
          await writeTarball(f, ok.json, ok.objs, { gzip: true })
          await truncate(f, Math.floor((await stat(f)).size * 0.6))
          return f
        },
        'E_BAD_ARCHIVE',
      ],
      [
        'a corrupt gzip',
        async (d, ok) => {
          const f = join(d, 'x.tgz')
          await writeTarball(f, ok.json, ok.objs, { gzip: true })
          const b = await readFile(f)
          for (let i = 40; i < 80; i++) b[i] ^= 0x5a
          await writeFile(f, b)
          return f
        },
        'E_BAD_ARCHIVE',
      ],
      [
        'a tarball without json',
        async (d, ok) => {
          const f = join(d, 'x.tar')
          await rawTar(f, [{ header: { name: `objects/${ok.objs[0].sha}` }, body: await readFile(ok.objs[0].path) }])
          return f
        },
        'E_BAD_ARCHIVE',
      ],
      [
        'a checkout without .pvr/json',
        async d => {
          const c = join(d, 'co')
          await mkdir(join(c, '.pvr'), { recursive: true })
          return c
        },
        'E_BAD_INPUT',
      ],
      [
        'a file that is not an archive',
        async d => {
          const f = join(d, 'x.bin')
          await writeFile(f, Buffer.alloc(4096, 7))
          return f
        },
        'E_BAD_ARCHIVE',
      ],
      ['a path that does not exist', async d => join(d, 'nope.tgz'), 'E_BAD_INPUT'],
    ]
    for (const [what, make, code] of cases) {
      it(`${what}: exit 1, ${code}, stats unchanged`, async t => {
        const home = await tempDir(t)
        const d = await tempDir(t)
        await runCli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar')], { home })
        const before = await stats(home)
        const k = await smallObject(d, 'k', 'kernel')
        const i = await smallObject(d, 'i', 'initrd')
        const c = await smallObject(d, 'c', 'conf')
        const r = await smallObject(d, 'r', 'rootfs')
        const state = JSON.stringify(buildState({ kernel: k, initrd: i, containers: [{ name: 'app', root: r, config: c }] }))
        const input = await make(d, { json: state, objs: [k, i, c, r] })
        const res = await runCli(['import', input, '--json'], { home })
        assert.equal(res.code, 1, res.stdout + res.stderr)
        assert.equal(res.json().error.code, code, res.stderr)
        assert.ok(res.stderr.includes(input) || res.stderr.includes('nope'), `the message names the input: ${res.stderr}`)
        const lines = res.stderr.trim().split('\n')
        // What happened, in one line; for a file cut short or damaged, then the one thing to do (shared/advice.ts).
        if (/truncated|corrupt gzip/.test(what)) {
          assert.match(lines[0], what.includes('truncated') ? /the file ends too soon: it was cut short/ : /the file is damaged/)
          assert.match(lines[1] ?? '', /^fieldsync: what to do: the file (was cut short|is damaged).*copy it again/)
          assert.equal(lines.length, 2)
        } else {
          assert.equal(lines.length, 1, 'one line')
        }
        assert.deepEqual(await stats(home), before)
        assert.deepEqual((await readdir(join(home, 'objects'))).length, before.objects)
        assert.deepEqual(await readdir(join(home, 'tmp')), [])
      })
    }
  })

  it('kill -9 during an import leaves a clean library that a re-run completes', async t => {
    const home = await tempDir(t)
    const d = await tempDir(t)
    // a few large objects so the import takes a while
    const objs: Array<{ sha: string; path: string }> = []
    for (let n = 0; n < 4; n++) {
      const p = join(d, `o${n}`)
      const buf = createHash('sha512').update(String(n)).digest()
      await writeFile(p, Buffer.alloc(48 << 20).fill(buf))
      objs.push({
        sha: createHash('sha256')
          .update(await readFile(p))
          .digest('hex'),
        path: p,
      })
    }
    const state: Record<string, string> = { '#spec': 'pantavisor-service-system@1' }
    objs.forEach((o, n) => {
      state[`_config/app/blob${n}`] = o.sha
    })
    const tarball = join(d, 'big.tar')
    await writeTarball(tarball, JSON.stringify(state), objs)
    await runCli(['stats'], { home })
    for (const waitFor of ['first', 'second']) {
      const child = spawn(process.execPath, [cliBin, '--home', home, 'import', tarball], { stdio: 'ignore' })
      // kill while an object is being written (a temporary file exists)
      const deadline = Date.now() + 30_000
      let seen = 0
      for (;;) {
        const tmp = await readdir(join(home, 'tmp')).catch(() => [])
        if (tmp.length > 0) {
          seen++
          if (waitFor === 'first' || seen > 1) break
        }
        if (Date.now() > deadline) throw new Error('import never wrote a temporary file')
        await new Promise(r => setImmediate(r))
      }
      child.kill('SIGKILL')
      await new Promise(r => child.on('close', r))
      const v = await runCli(['verify', '--json'], { home })
      assert.equal(v.code, 0, v.stdout)
      assert.deepEqual(v.json().corrupt, [])
      assert.equal((await stats(home)).revisions, 0)
    }
    const r = await runCli(['import', tarball, '--json'], { home })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json().missing, 0)
    assert.equal((await runCli(['verify', '--json'], { home })).json().checked, 4)
    assert.deepEqual(await readdir(join(home, 'tmp')), [])
  })

  it('a full disk mid-import (O_DIRECT writes on a 48 MiB tmpfs): E_NO_SPACE, nothing recorded, no temporary file; with room the same import completes', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const mnt = await mkdtemp(join(tmpdir(), 'fieldsync-full-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mnt])
    t.after(async () => {
      execFileSync('umount', [mnt])
      await rm(mnt, { recursive: true, force: true })
    })
    const home = join(mnt, 'home')
    const d = await tempDir(t)
    const objs: Array<{ sha: string; path: string }> = []
    for (let n = 0; n < 3; n++) {
      const p = join(d, `o${n}`)
      const data = Buffer.alloc((20 << 20) + 12345 * n).fill(createHash('sha512').update(`full-${n}`).digest())
      await writeFile(p, data)
      objs.push({ sha: createHash('sha256').update(data).digest('hex'), path: p })
    }
    const state: Record<string, string> = { '#spec': 'pantavisor-service-system@1' }
    objs.forEach((o, n) => {
      state[`_config/app/blob${n}`] = o.sha
    })
    const tarball = join(d, 'big.tar')
    await writeTarball(tarball, JSON.stringify(state), objs)
    const before = await stats(home)
    const r = await runCli(['import', tarball, '--json'], { home })
    assert.equal(r.code, 1, r.stdout)
    assert.equal(r.json().error.code, 'E_NO_SPACE', r.stderr)
    assert.match(r.stderr, /disk is full/)
    assert.deepEqual(await stats(home), before)
    assert.deepEqual(await readdir(join(home, 'objects')), [])
    assert.deepEqual(await readdir(join(home, 'tmp')), [])
    execFileSync('mount', ['-o', 'remount,size=96m', mnt])
    const again = await runCli(['import', tarball, '--json'], { home })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json().missing, 0)
    const v = await runCli(['verify', '--json'], { home })
    assert.equal(v.json().checked, 3)
    assert.deepEqual(v.json().corrupt, [])
  })

  it('the seed state imports incomplete and ls shows it', async t => {
    const home = await tempDir(t)
    const r = await runCli(['import', join(vendoredUpstreamDir, 'seed-awconnect-rpi64.json'), '--name', 'seed', '--json'], { home })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json().missing, 8)
    const ls = await runCli(['ls'], { home })
    assert.match(ls.stdout, /INCOMPLETE \(8 missing\)/)
  })
})
