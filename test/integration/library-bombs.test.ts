/**
 * Hostile export tarballs made by the test, imported by the real CLI into a
 * home on a small tmpfs (so that a byte written where none should be shows
 * as a full disk): objects the state does not name are skipped without
 * writing, a gzip that expands past the limit is refused within seconds,
 * two `json` entries are refused.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'

/** A tmpfs of `opts` mounted for the test (removed after it). */
async function smallDisk(t: { after: (fn: () => Promise<void>) => void }, opts: string): Promise<string> {
  const mnt = await mkdtemp(join(tmpdir(), 'fieldsync-bomb-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', mnt])
  t.after(async () => {
    execFileSync('umount', ['-l', mnt])
    await rm(mnt, { recursive: true, force: true })
  })
  return mnt
}

/** A ustar header for a regular file of `size` bytes (sizes up to 8 GiB - 1). */
function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512)
  h.write(name, 0, 100, 'utf8')
  h.write('0000644\0', 100)
  h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  h.write(size.toString(8).padStart(11, '0') + '\0', 124)
  h.write('00000000000\0', 136)
  h.write('        ', 148)
  h.write('0', 156)
  h.write('ustar\0', 257)
  h.write('00', 263)
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return h
}

function entry(name: string, body: Buffer): Buffer {
  const pad = (512 - (body.length % 512)) % 512
  return Buffer.concat([header(name, body.length), body, Buffer.alloc(pad)])
}

interface Obj {
  sha: string
  body: Buffer
}
const obj = (body: Buffer): Obj => ({ sha: createHash('sha256').update(body).digest('hex'), body })
const stateOf = (objs: Obj[]): string => {
  const s: Record<string, string> = { '#spec': 'pantavisor-service-system@1' }
  objs.forEach((o, i) => {
    s[`_config/app/f${i}`] = o.sha
  })
  return JSON.stringify(s)
}

/** 64 MiB of zeros as one gzip member (made once): `n` copies in a row are n × 64 MiB of zeros. */
const ZEROS = 64 << 20
let zerosGz: Buffer | undefined
const zeros = (): Buffer => (zerosGz ??= gzipSync(Buffer.alloc(ZEROS), { level: 9 }))

/**
 * A gzip tarball as members: `before` entries, then an entry `name` of
 * `copies` × 64 MiB of zeros, then `after` entries, then the end blocks.
 */
function zeroBomb(before: Buffer[], name: string, copies: number, after: Buffer[]): Buffer {
  return Buffer.concat([
    gzipSync(Buffer.concat([...before, header(name, copies * ZEROS)])),
    ...Array.from({ length: copies }, zeros),
    gzipSync(Buffer.concat([...after, Buffer.alloc(1024)])),
  ])
}

/** A plain tar whose entry `name` is `size` bytes of zeros left as a hole in the file (cheap to make, as long to read). */
async function sparseTar(file: string, before: Buffer[], name: string, size: number, after: Buffer[]): Promise<void> {
  const head = Buffer.concat([...before, header(name, size)])
  const tail = Buffer.concat([...after, Buffer.alloc(1024)])
  const fh = await open(file, 'w')
  try {
    await fh.write(head, 0, head.length, 0)
    await fh.write(tail, 0, tail.length, head.length + size)
  } finally {
    await fh.close()
  }
}

async function importInto(home: string, file: string): Promise<{ code: number | null; doc: any; stderr: string; ms: number }> {
  const t0 = Date.now()
  const r = await runCli(['import', file, '--json'], { home, timeoutMs: 120_000 })
  return { code: r.code, doc: r.json(), stderr: r.stderr, ms: Date.now() - t0 }
}

async function poolOf(home: string): Promise<string[]> {
  return (await readdir(join(home, 'objects'))).sort()
}

describe('library: import bombs', { concurrency: false }, () => {
  it('objects the state does not name are skipped without writing: a 192 MiB entry of them into a 32 MiB home, json first or last', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const d = await tempDir(t)
    const mnt = await smallDisk(t, 'size=32m')
    const named = [obj(randomBytes(4096)), obj(randomBytes(100_000))]
    const json = Buffer.from(stateOf(named))
    const big = 192 << 20
    const cases: Array<[string, Buffer[], string, Buffer[]]> = [
      [
        'json first',
        [entry('json', json), entry(`objects/${named[0].sha}`, named[0].body)],
        `objects/${'0'.repeat(64)}`,
        [entry(`objects/${named[1].sha}`, named[1].body)],
      ],
      // pvr writes json first; an archive made otherwise is read twice, and still nothing unnamed is written
      [
        'json last',
        [entry(`objects/${named[0].sha}`, named[0].body)],
        `objects/${'1'.repeat(64)}`,
        [entry(`objects/${named[1].sha}`, named[1].body), entry('json', json)],
      ],
    ]
    for (const [what, before, name, after] of cases) {
      const home = join(mnt, what.replace(' ', '-'))
      const file = join(d, `${what.replace(' ', '-')}.tar`)
      await sparseTar(file, before, name, big, after)
      const r = await importInto(home, file)
      assert.equal(r.code, 0, `${what}: ${r.stderr}`)
      assert.equal(r.doc.missing, 0, what)
      assert.deepEqual(await poolOf(home), named.map(o => o.sha).sort(), `${what}: only the named objects are in the pool`)
      assert.deepEqual(await readdir(join(home, 'tmp')), [], what)
      t.diagnostic(`${what}: a tar holding a 192 MiB entry the state does not name, into a 32 MiB home: imported in ${r.ms} ms`)
    }
  })

  it('20,000 tiny objects the state does not name: none written, the import takes seconds', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const d = await tempDir(t)
    // Too few inodes for 20,000 files: writing them would end as a full disk.
    const mnt = await smallDisk(t, 'size=64m,nr_inodes=2000')
    const named = [obj(randomBytes(1000)), obj(randomBytes(2000))]
    const parts = [entry('json', Buffer.from(stateOf(named))), entry(`objects/${named[0].sha}`, named[0].body)]
    for (let i = 0; i < 20_000; i++) parts.push(entry(`objects/${createHash('sha256').update(`junk ${i}`).digest('hex')}`, Buffer.from(`junk ${i}`)))
    parts.push(entry(`objects/${named[1].sha}`, named[1].body), Buffer.alloc(1024))
    const file = join(d, 'many.tar')
    await writeFile(file, Buffer.concat(parts))
    const home = join(mnt, 'home')
    const r = await importInto(home, file)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.doc.missing, 0)
    assert.deepEqual(await poolOf(home), named.map(o => o.sha).sort())
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`)
    t.diagnostic(`20,000 unnamed entries skipped: the import took ${r.ms} ms (process start included)`)
  })

  it('a gzip that expands past the limit is refused within seconds, for an object named or not; nothing is written or recorded', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const d = await tempDir(t)
    // Room for the 64 MiB an archive may expand to before the ratio is checked, not for 4 GiB.
    const mnt = await smallDisk(t, 'size=128m')
    const small = obj(randomBytes(4096))
    const bigSha = createHash('sha256').update('four GiB of zeros, it claims').digest('hex')
    const cases: Array<[string, Buffer]> = [
      // 4 GiB of zeros (64 gzip members of 64 MiB), about 4 MB of gzip: for an object the state does not name...
      ['unnamed', zeroBomb([entry('json', Buffer.from(stateOf([small]))), entry(`objects/${small.sha}`, small.body)], `objects/${'2'.repeat(64)}`, 64, [])],
      // ...and for one it names (the hash would refuse it only after 4 GiB)
      [
        'named',
        zeroBomb(
          [
            entry('json', Buffer.from(JSON.stringify({ '#spec': 'pantavisor-service-system@1', '_config/app/small': small.sha, '_config/app/big': bigSha }))),
            entry(`objects/${small.sha}`, small.body),
          ],
          `objects/${bigSha}`,
          64,
          [],
        ),
      ],
    ]
    for (const [what, bytes] of cases) {
      const home = join(mnt, what)
      const file = join(d, `${what}.tgz`)
      await writeFile(file, bytes)
      const r = await importInto(home, file)
      assert.equal(r.code, 1, `${what}: ${JSON.stringify(r.doc)}`)
      assert.equal(r.doc.error.code, 'E_BAD_ARCHIVE', `${what}: ${r.stderr}`)
      assert.match(r.doc.error.message, /more than 100 times/, what)
      assert.ok(r.doc.error.message.includes(file), `${what}: names the file`)
      assert.ok(r.ms < 20_000, `${what}: refused after ${r.ms} ms`)
      assert.deepEqual(await poolOf(home), [], `${what}: nothing stays in the pool`)
      assert.deepEqual(await readdir(join(home, 'tmp')), [], what)
      const ls = await runCli(['ls', '--json'], { home })
      assert.deepEqual(ls.json(), [], `${what}: nothing recorded`)
      t.diagnostic(`${what}: ${bytes.length} bytes of gzip claiming 4 GiB: refused in ${r.ms} ms (process start included)`)
    }
  })

  it('two json entries: refused (which state is meant is not clear), nothing kept', async t => {
    const d = await tempDir(t)
    const home = await tempDir(t)
    const a = obj(randomBytes(3000))
    const b = obj(randomBytes(3000))
    const file = join(d, 'two.tar')
    await writeFile(
      file,
      Buffer.concat([
        entry('json', Buffer.from(stateOf([a]))),
        entry(`objects/${a.sha}`, a.body),
        entry(`objects/${b.sha}`, b.body),
        entry('json', Buffer.from(stateOf([b]))),
        Buffer.alloc(1024),
      ]),
    )
    const r = await importInto(home, file)
    assert.equal(r.code, 1, JSON.stringify(r.doc))
    assert.equal(r.doc.error.code, 'E_BAD_ARCHIVE')
    assert.match(r.doc.error.message, /two 'json' entries/)
    assert.deepEqual(await poolOf(home), [])
    assert.deepEqual((await runCli(['ls', '--json'], { home })).json(), [])
  })
})
