/**
 * Leases on a home (main/store/leases.ts), in one process with two
 * libraries open on the same home (each its own connection, as two
 * processes would have): shared and exclusive, holds and rollbacks, and
 * leases of dead or recycled processes counting for nothing.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { ErrorCodes, isCode } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { Library } from '../../../main/store/library.js'
import { tempDir } from '../../helpers/tmp.js'

async function twoLibraries(t: Parameters<typeof tempDir>[0]): Promise<[Library, Library]> {
  const home = await tempDir(t)
  const a = new Library({ log: silentLogger() }, { home })
  const b = new Library({ log: silentLogger() }, { home })
  await a.start()
  await b.start()
  t.after(async () => {
    await a.stop()
    await b.stop()
  })
  return [a, b]
}

async function putObject(lib: Library): Promise<string> {
  const data = randomBytes(1000)
  const sha = createHash('sha256').update(data).digest('hex')
  const f = join(lib.home, 'src-' + sha)
  await writeFile(f, data)
  await lib.objects.putFile(sha, f)
  return sha
}

describe('store: leases', () => {
  it('shared leases run together; an exclusive one refuses while they live (E_BUSY naming the pid) and is granted once they are gone', async t => {
    const [a, b] = await twoLibraries(t)
    const s1 = await a.lease('shared', 'import one')
    const s2 = await b.lease('shared', 'import two')
    await assert.rejects(
      b.lease('exclusive', 'gc', { waitMs: 0 }),
      (err: Error) => isCode(err, ErrorCodes.Busy) && err.message.includes(`pid ${process.pid}`) && err.message.includes('import one'),
    )
    s1.release()
    s2.release()
    let told = 0
    const gc = await b.lease('exclusive', 'gc', {
      waitMs: 0,
      onWait: () => {
        told++
      },
    })
    assert.equal(told, 0)
    // A writer now waits for the gc; it gets its lease when the gc lets go.
    const waiting = a.lease('shared', 'import three', {
      waitMs: 10_000,
      onWait: () => {
        told++
        gc.release()
      },
    })
    const s3 = await waiting
    assert.equal(told, 1)
    s3.release()
  })

  it('a process that only reads the library never opens leases.db; its first lease does', async t => {
    const [a] = await twoLibraries(t)
    a.list()
    a.stats()
    assert.equal(existsSync(a.leases.file), false)
    ;(await a.lease('shared', 'import x')).release()
    assert.equal(existsSync(a.leases.file), true)
  })

  it('a lease of a dead process, or of this pid in an earlier life, counts for nothing and is swept', async t => {
    const [a, b] = await twoLibraries(t)
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }))
    // leases.db opens at a process's first lease (a reader never opens it).
    ;(await a.lease('shared', 'first')).release()
    const db = new Database(a.leases.file)
    const ins = db.prepare("INSERT INTO leases (kind, pid, identity, what, command, since) VALUES ('shared', ?, ?, 'import x', 'fieldsync import x', 0)")
    ins.run(dead, '')
    ins.run(process.pid, 'another-boot:12345')
    db.close()
    const gc = await b.lease('exclusive', 'gc', { waitMs: 0 })
    gc.release()
    const left = new Database(a.leases.file, { readonly: true })
    assert.equal((left.prepare('SELECT count(*) AS n FROM leases').get() as { n: number }).n, 0)
    left.close()
  })

  it('a rollback removes only what it wrote that no other lease holds and the index does not record', async t => {
    const [a, b] = await twoLibraries(t)
    const mine = await a.lease('shared', 'import failing')
    const other = await b.lease('shared', 'import other')
    const [solo, heldElsewhere, recorded] = [await putObject(a), await putObject(a), await putObject(a)]
    mine.hold([solo, heldElsewhere, recorded])
    other.hold([heldElsewhere])
    b.objectPresent(recorded, 1000)
    const removed = a.discardWritten(mine, [solo, heldElsewhere, recorded])
    assert.deepEqual(removed, [solo])
    assert.equal(existsSync(a.objects.path(solo)), false)
    assert.equal(existsSync(a.objects.path(heldElsewhere)), true)
    assert.equal(existsSync(a.objects.path(recorded)), true)
    // Claims: one fetcher per object.
    assert.deepEqual(other.claim([solo, heldElsewhere]), { mine: [solo, heldElsewhere], theirs: [] })
    assert.deepEqual(mine.claim([solo, recorded]), { mine: [recorded], theirs: [solo] })
    assert.equal(mine.fetchingElsewhere(solo), true)
    other.release()
    assert.equal(mine.fetchingElsewhere(solo), false)
    mine.release()
  })
})
