/**
 * Sticks made to hurt: FIFOs, links to devices, a tarball that holds another
 * revision than the manifest says. `fieldsync usb verify` and `usb import`
 * as real processes: each must end promptly with a typed error or verdict,
 * and change nothing in the library it was not asked to.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseState, revisionId } from '../../shared/state/index.js'
import { runCli, type CliRun } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'

type T = Parameters<typeof tempDir>[0]

/** A process that hangs is killed after this long and fails the test (a clean run takes a second or two). */
const HANG_MS = 30_000

async function cli(args: string[], home?: string): Promise<CliRun> {
  const r = await runCli(['--json', ...args], { home, timeoutMs: HANG_MS })
  assert.notEqual(r.signal, 'SIGKILL', `fieldsync ${args.join(' ')} hung (killed after ${HANG_MS} ms): ${r.stderr}`)
  return r
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path])
}

/** A library holding watchdog_pinger, and a stick with it exported; returns both and the revision id. */
async function stickOf(t: T): Promise<{ home: string; stick: string; id: string }> {
  const home = await tempDir(t, 'fieldsync-usb-home-')
  const imp = await cli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'watchdog_pinger'], home)
  assert.equal(imp.code, 0, imp.stderr)
  const stick = await tempDir(t, 'fieldsync-stick-')
  const ex = await cli(['usb', 'export', 'watchdog_pinger', stick], home)
  assert.equal(ex.code, 0, ex.stderr)
  return { home, stick, id: imp.json().id }
}

describe('hostile sticks: files that are not regular files', () => {
  it('a FIFO as the manifest: verify and import end at once with E_BAD_INPUT naming it', async t => {
    const { home, stick } = await stickOf(t)
    await rm(join(stick, 'fieldsync-manifest.json'))
    mkfifo(join(stick, 'fieldsync-manifest.json'))
    for (const args of [
      ['usb', 'verify', stick],
      ['usb', 'import', stick],
    ]) {
      const r = await cli(args, home)
      assert.equal(r.code, 1, r.stderr)
      assert.equal(r.json().error.code, 'E_BAD_INPUT')
      assert.match(r.json().error.message, /fieldsync-manifest\.json: a FIFO \(named pipe\), not a regular file/)
    }
  })

  it('a manifest that is a link to /dev/zero is not read: E_BAD_INPUT, not 600 MB then an internal error', async t => {
    const { home, stick } = await stickOf(t)
    await rm(join(stick, 'fieldsync-manifest.json'))
    await symlink('/dev/zero', join(stick, 'fieldsync-manifest.json'))
    for (const args of [
      ['usb', 'verify', stick],
      ['usb', 'import', stick],
    ]) {
      const r = await cli(args, home)
      assert.equal(r.code, 1, r.stderr)
      assert.equal(r.json().error.code, 'E_BAD_INPUT')
      assert.match(r.json().error.message, /a symbolic link, not a regular file/)
    }
  })

  it('a FIFO as <name>.json: import does not hang (the revision is recognised from its tarball), verify reports NOT-A-FILE', async t => {
    const { home, stick, id } = await stickOf(t)
    await rm(join(stick, 'watchdog_pinger.json'))
    mkfifo(join(stick, 'watchdog_pinger.json'))
    const imp = await cli(['usb', 'import', stick], home)
    assert.equal(imp.code, 0, imp.stderr)
    assert.deepEqual(
      imp.json().revisions.map((r: { id: string; status: string }) => [r.id, r.status]),
      [[id, 'existed']],
    )
    const v = await cli(['usb', 'verify', stick])
    assert.equal(v.code, 1)
    assert.deepEqual(
      v
        .json()
        .files.filter((f: { verdict: string }) => f.verdict !== 'ok')
        .map((f: { path: string; verdict: string }) => [f.path, f.verdict]),
      [['watchdog_pinger.json', 'not-a-file']],
    )
    const text = await runCli(['usb', 'verify', stick], { timeoutMs: HANG_MS })
    assert.match(text.stdout, /NOT-A-FILE {2}watchdog_pinger\.json/)
  })

  it('a tarball that is a FIFO or a link to a device: verify says NOT-A-FILE, import refuses it with E_STICK_CORRUPT; nothing hangs', async t => {
    const { stick } = await stickOf(t)
    const other = await tempDir(t, 'fieldsync-usb-home-')
    await rm(join(stick, 'watchdog_pinger.pvrexport.tgz'))
    mkfifo(join(stick, 'watchdog_pinger.pvrexport.tgz'))
    const imp = await cli(['usb', 'import', stick], other)
    assert.equal(imp.code, 1)
    assert.equal(imp.json().revisions[0].status, 'corrupt')
    assert.equal(imp.json().revisions[0].error.code, 'E_STICK_CORRUPT')
    assert.match(imp.json().revisions[0].error.message, /watchdog_pinger\.pvrexport\.tgz: a FIFO \(named pipe\), not a regular file/)
    const v = await cli(['usb', 'verify', stick])
    assert.equal(v.json().files.find((f: { path: string }) => f.path === 'watchdog_pinger.pvrexport.tgz').verdict, 'not-a-file')
    await rm(join(stick, 'watchdog_pinger.pvrexport.tgz'))
    await symlink('/dev/zero', join(stick, 'watchdog_pinger.pvrexport.tgz'))
    const imp2 = await cli(['usb', 'import', stick], other)
    assert.equal(imp2.json().revisions[0].error.code, 'E_STICK_CORRUPT')
    assert.match(imp2.json().revisions[0].error.message, /a symbolic link, not a regular file/)
    assert.deepEqual((await cli(['ls'], other)).json(), [], 'nothing imported')
  })
})

describe('hostile sticks: a tarball that is not the revision the manifest names', () => {
  /** Bob's library names watchdog_pinger; Alice's revision pvwificonnect goes on a stick as "watchdog_pinger". */
  async function twoLaptops(t: T): Promise<{ bob: string; stick: string; w: string; x: string }> {
    const bob = await tempDir(t, 'fieldsync-usb-home-')
    const w = await cli(['import', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), '--name', 'watchdog_pinger'], bob)
    assert.equal(w.code, 0, w.stderr)
    const alice = await tempDir(t, 'fieldsync-usb-home-')
    const x = await cli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'watchdog_pinger'], alice)
    assert.equal(x.code, 0, x.stderr)
    // pvwificonnect is signed by a Pantavisor developer key: the export's policy check needs the dev CA.
    assert.equal((await cli(['trust', 'add', join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')], alice)).code, 0)
    const stick = await tempDir(t, 'fieldsync-stick-')
    assert.equal((await cli(['usb', 'export', 'watchdog_pinger', stick], alice)).code, 0)
    return { bob, stick, w: w.json().id, x: x.json().id }
  }

  async function names(home: string): Promise<Array<[string, string[]]>> {
    return (await cli(['ls'], home))
      .json()
      .map((r: { id: string; names: string[] }) => [r.id, r.names])
      .sort()
  }

  it('a manifest giving an unknown id for watchdog_pinger: import fails with E_STICK_CORRUPT and changes nothing; verify says which revision the tarball holds', async t => {
    const { bob, stick, w, x } = await twoLaptops(t)
    const mf = join(stick, 'fieldsync-manifest.json')
    const m = JSON.parse(await readFile(mf, 'utf8'))
    const unknown = 'e'.repeat(64)
    m.revisions[0].id = unknown
    await writeFile(mf, JSON.stringify(m))
    const before = await names(bob)
    const imp = await cli(['usb', 'import', stick], bob)
    assert.equal(imp.code, 1)
    const [rev] = imp.json().revisions
    assert.equal(rev.status, 'corrupt')
    assert.equal(rev.error.code, 'E_STICK_CORRUPT')
    assert.equal(rev.error.details.tarballId, x)
    assert.match(
      rev.error.message,
      new RegExp(`^${stick}/watchdog_pinger\\.pvrexport\\.tgz: holds revision ${x}`),
      "names the stick's file, not a temporary one",
    )
    assert.deepEqual(await names(bob), before, 'the name still names the same revision; nothing was added')
    assert.deepEqual(before, [[w, ['watchdog_pinger']]])
    const v = await cli(['usb', 'verify', stick])
    assert.equal(v.code, 1)
    assert.equal(v.json().ok, false)
    assert.deepEqual(
      v.json().revisions.map((r: { ok: boolean; tarballId: string }) => [r.ok, r.tarballId]),
      [[false, x]],
    )
    assert.equal(v.json().files.filter((f: { verdict: string }) => f.verdict !== 'ok').length, 0, 'every file matches the (rewritten) manifest')
    const text = await runCli(['usb', 'verify', stick], { timeoutMs: HANG_MS })
    assert.match(text.stdout, /^DAMAGED/)
    assert.match(text.stdout, new RegExp(`holds revision ${x}, not ${unknown} as the manifest says`))
  })

  it('a genuine revision whose stick name another revision holds here: imported, and the name stays where it was', async t => {
    const { bob, stick, w, x } = await twoLaptops(t)
    const v = await cli(['usb', 'verify', stick])
    assert.equal(v.code, 0, v.stdout)
    const imp = await cli(['usb', 'import', stick], bob)
    assert.equal(imp.code, 0, imp.stderr)
    assert.deepEqual(
      await names(bob),
      [
        [w, ['watchdog_pinger']],
        [x, []],
      ].sort(),
      'the name was not moved',
    )
    const [rev] = imp.json().revisions
    assert.equal(rev.status, 'imported')
    assert.equal(rev.id, x)
    assert.deepEqual(rev.nameHeldBy, { name: 'watchdog_pinger', id: w })
    const text = await runCli(['usb', 'import', stick], { home: bob, timeoutMs: HANG_MS })
    assert.match(text.stdout, /the name watchdog_pinger stays on [0-9a-f]{12}/)
    // The user moves it by saying so.
    const moved = await cli(['import', '--name', 'watchdog_pinger', join(stick, 'watchdog_pinger.pvrexport.tgz')], bob)
    assert.equal(moved.code, 0, moved.stderr)
    assert.deepEqual(
      await names(bob),
      [
        [w, []],
        [x, ['watchdog_pinger']],
      ].sort(),
    )
    // Where the name is free, the stick's name is taken, as before.
    const carol = await tempDir(t, 'fieldsync-usb-home-')
    const fresh = await cli(['usb', 'import', stick], carol)
    assert.equal(fresh.code, 0, fresh.stderr)
    assert.equal(fresh.json().revisions[0].nameHeldBy, undefined)
    assert.deepEqual(await names(carol), [[x, ['watchdog_pinger']]])
  })
})

describe("hostile sticks: errors name the stick's files", () => {
  it("an object whose bytes do not match its name: E_OBJECT_HASH_MISMATCH naming the stick's tarball, not the library's temporary file", async t => {
    const dir = await tempDir(t)
    // watchdog_pinger as a plain tar (the import reads tar or gzip), one byte of an object's data changed.
    const bad = await readFile(join(vendoredUpstreamDir, 'watchdog_pinger.tar'))
    const header = bad.indexOf(Buffer.from('objects/'))
    assert.ok(header >= 0 && header % 512 === 0, "an object entry's header")
    bad[header + 512 + 100] ^= 0xff // in the data of that object, past its 512-byte header
    const stick = join(dir, 'stick')
    await mkdir(stick)
    await writeFile(join(stick, 'watchdog_pinger.pvrexport.tgz'), bad)
    const id = revisionId(parseState(execFileSync('tar', ['-xOf', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), 'json']), 'json'))
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    const part = { path: 'watchdog_pinger.pvrexport.tgz', bytes: bad.length, sha256: sha(bad) }
    await writeFile(
      join(stick, 'fieldsync-manifest.json'),
      JSON.stringify({
        format: 'fieldsync-usb@1',
        revisions: [
          {
            name: 'watchdog_pinger',
            id,
            libraryNames: [],
            mode: 'full',
            tarball: part.path,
            parts: [part],
            bytes: part.bytes,
            sha256: part.sha256,
            objectsFile: 'watchdog_pinger.objects',
            objects: [],
            included: 0,
            includedBytes: 0,
          },
        ],
        files: [],
      }),
    )
    const home = await tempDir(t, 'fieldsync-usb-home-')
    const imp = await cli(['usb', 'import', stick], home)
    assert.equal(imp.code, 1)
    const err = imp.json().revisions[0].error
    assert.equal(err.code, 'E_OBJECT_HASH_MISMATCH', err.message)
    assert.ok(err.message.includes(join(stick, 'watchdog_pinger.pvrexport.tgz')), err.message)
    assert.ok(!err.message.includes('usb-'), err.message)
  })
})
