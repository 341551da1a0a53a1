/**
 * A library home on a small tmpfs that fills up: a pull ends as E_NO_SPACE
 * naming the library (one JSON document with --json), keeps only partial
 * objects a later pull can resume and says how many; with room the same
 * pull completes. Real `fieldsync serve` and `fieldsync pull` processes on
 * loopback (--no-mdns).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { importRev, lsHome, makeRevision, serve, teamHomes, verifyHome } from './peers-harness.js'
import { TeamStore } from '../../main/peers/team.js'

/** A tmpfs of `size` mounted for the test (removed after it). */
async function smallDisk(t: { after: (fn: () => Promise<void>) => void }, size: string): Promise<string> {
  const mnt = await mkdtemp(join(tmpdir(), 'fieldsync-full-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt])
  t.after(async () => {
    execFileSync('umount', ['-l', mnt])
    await rm(mnt, { recursive: true, force: true })
  })
  return mnt
}

describe('library: a full disk', { concurrency: false }, () => {
  it('an import whose index write fills the disk: E_NO_SPACE naming the library, nothing recorded', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    const d = await tempDir(t)
    const mnt = await smallDisk(t, '3m')
    const home = join(mnt, 'home')
    assert.equal((await runCli(['stats', '--json'], { home })).code, 0)
    // A 4 MiB state (kept whole in the index) with no objects: only the database write needs room.
    const state = join(d, 'big.json')
    await writeFile(state, JSON.stringify({ '#spec': 'pantavisor-service-system@1', '_config/app/notes.json': { text: 'x'.repeat(4 << 20) } }))
    const r = await runCli(['import', state, '--json'], { home })
    assert.equal(r.code, 1, r.stdout + r.stderr)
    assert.equal(r.json().error.code, 'E_NO_SPACE', r.stdout + r.stderr)
    assert.ok(r.json().error.message.includes(home), r.json().error.message)
    assert.doesNotMatch(r.stderr, /SqliteError|at .*\.js:\d+/, 'no stack trace')
    assert.deepEqual((await runCli(['ls', '--json'], { home })).json(), [])
  })

  it('a pull that fills the disk: E_NO_SPACE naming the library, partial objects kept only if resumable and counted; with room the pull resumes and completes', async t => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to mount a tmpfs')
      return
    }
    if (!hasMksquashfs()) {
      t.skip('mksquashfs not installed')
      return
    }
    const dir = await tempDir(t)
    const [a] = await teamHomes(dir, 1)
    const mnt = await smallDisk(t, '24m')
    const c = join(mnt, 'home')
    await new TeamStore(c).join(new TeamStore(a).code((await new TeamStore(a).load())!))
    const rev = await makeRevision(join(dir, 'src'), 'big', 40 << 20)
    const id = await importRev(a, rev, 'big')
    const sa = await serve(t, a)
    const r = await runCli(['pull', 'big', '--no-mdns', '--peer', sa.addr, '--json'], { home: c, timeoutMs: 60_000 })
    assert.equal(r.code, 1, r.stdout + r.stderr)
    let doc: { error: { code: string; message: string } }
    try {
      doc = r.json()
    } catch {
      assert.fail(`not one JSON document on stdout: ${JSON.stringify(r.stdout)}; stderr: ${r.stderr}`)
    }
    assert.equal(doc.error.code, 'E_NO_SPACE', r.stdout + r.stderr)
    assert.ok(doc.error.message.includes(c), `the message names the library: ${doc.error.message}`)
    assert.doesNotMatch(r.stderr, /SqliteError|at .*\.js:\d+/, 'no stack trace')
    // What is kept is what the index can resume, and the message counts it.
    const files = await readdir(join(c, 'partial'))
    const db = new Database(join(c, 'index.db'), { readonly: true })
    const rows = db.prepare('SELECT sha, done FROM peer_partials').all() as Array<{ sha: string; done: string }>
    db.close()
    const resumable = rows.filter(x => (JSON.parse(x.done) as Array<[number, number]>).some(([s, e]) => e > s)).map(x => x.sha)
    assert.deepEqual(files.sort(), resumable.sort(), 'every partial file kept has saved ranges to resume from')
    assert.match(doc.error.message, new RegExp(`${files.length} partial object`), doc.error.message)
    assert.deepEqual(await readdir(join(c, 'tmp')), [])
    // With room, the same pull resumes and completes.
    execFileSync('mount', ['-o', 'remount,size=96m', mnt])
    const again = await runCli(['pull', 'big', '--no-mdns', '--peer', sa.addr, '--json'], { home: c, timeoutMs: 60_000 })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json().id, id)
    assert.equal((await lsHome(c)).find(x => x.id === id)?.complete, true)
    const v = await verifyHome(c)
    assert.deepEqual([v.corrupt, v.missing], [[], []])
    assert.deepEqual(await readdir(join(c, 'partial')), [])
    t.diagnostic(`first pull: ${doc.error.message}`)
  })
})
