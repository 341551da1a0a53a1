/**
 * pvtx's trust boundaries: what a package archive may name (upstream writes
 * `objects/<name>` wherever the name points, and never checks the bytes),
 * what a state's keys may make deploy write, and the status file's layout.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import tar from 'tar-stream'
import { deployState } from '../../../main/pvtx/deploy.js'
import { ObjectsDir } from '../../../main/pvtx/objects.js'
import { readPackageStream } from '../../../main/pvtx/package.js'
import { decodeRecord, encodeRecord, TxnStatus } from '../../../main/pvtx/status.js'
import { isCode } from '../../../shared/errors.js'
import { tempDir } from '../../helpers/tmp.js'

const SPEC = 'pantavisor-service-system@1'
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

/** A tar in memory with these entries, as anyone could write it. */
async function tarOf(entries: Array<{ name: string; body?: Buffer }>): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer)
  })
  const ended = new Promise<void>(resolve => {
    pack.on('end', () => {
      resolve()
    })
  })
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name }, e.body ?? Buffer.alloc(0), err => {
        if (err != null) reject(err)
        else resolve()
      }),
    )
  }
  pack.finalize()
  await ended
  return Buffer.concat(chunks)
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b
}

describe('pvtx package archives', () => {
  it('keeps objects only under their sha256, checked, and refuses names that point elsewhere', async t => {
    const dir = await tempDir(t)
    const objects = join(dir, 'objects')
    await mkdir(objects)
    const sink = new ObjectsDir(objects)
    const body = Buffer.from('an object\n')
    const good = await tarOf([
      { name: 'json', body: Buffer.from(`{"#spec":"${SPEC}","a/x":"${sha(body)}"}`) },
      { name: `objects/${sha(body)}`, body },
    ])
    const r = await readPackageStream(once(good), 'auto', sink, { source: 'good.tar' })
    assert.deepEqual(r.objects, [sha(body)])
    assert.equal(await readFile(join(objects, sha(body)), 'utf8'), 'an object\n')

    const escape = await tarOf([
      { name: 'json', body: Buffer.from('{}') },
      { name: 'objects/../../outside', body },
    ])
    await assert.rejects(readPackageStream(once(escape), 'auto', sink, { source: 'escape.tar' }), (e: unknown) => isCode(e, 'E_UNSAFE_ENTRY'))
    assert.equal(existsSync(join(dir, 'outside')), false)

    const notSha = await tarOf([{ name: 'objects/hello', body }])
    await assert.rejects(readPackageStream(once(notSha), 'auto', sink, { source: 'name.tar' }), (e: unknown) => isCode(e, 'E_BAD_OBJECT_NAME'))

    const lying = await tarOf([{ name: `objects/${'a'.repeat(64)}`, body }])
    await assert.rejects(readPackageStream(once(lying), 'auto', sink, { source: 'lying.tar' }), (e: unknown) => isCode(e, 'E_OBJECT_HASH_MISMATCH'))
    assert.deepEqual(readdirSync(objects), [sha(body)], 'nothing of the lying archive stays, not even a temporary file')
  })

  it('refuses what is no archive, and an object folder that does not exist', async t => {
    const dir = await tempDir(t)
    await assert.rejects(readPackageStream(once(Buffer.from('{"json": true}')), 'auto', new ObjectsDir(dir), { source: 'x' }), (e: unknown) =>
      isCode(e, 'E_BAD_ARCHIVE'),
    )
    const body = Buffer.from('x')
    const t1 = await tarOf([{ name: `objects/${sha(body)}`, body }])
    await assert.rejects(
      readPackageStream(once(t1), 'auto', new ObjectsDir(join(dir, 'nope')), { source: 'x' }),
      (e: unknown) => isCode(e, 'E_BAD_INPUT') && /does not exist/.test((e as Error).message),
    )
  })
})

describe('pvtx deploy', () => {
  it('refuses state keys that would write outside the folder or over its .pvr files', async t => {
    const dir = await tempDir(t)
    await mkdir(join(dir, 'objects'))
    for (const key of ['../escape.conf', 'a/../../escape.conf', '.pvr/json']) {
      const state = Buffer.from(JSON.stringify({ '#spec': SPEC, [key]: { x: 1 } }))
      await assert.rejects(deployState(state, join(dir, 'objects'), join(dir, 'deploy')), (e: unknown) => isCode(e, 'E_UNSAFE_ENTRY'), key)
      assert.equal(existsSync(join(dir, 'escape.conf')), false)
      assert.equal(existsSync(join(dir, 'deploy')), false, 'nothing deployed')
    }
  })

  it("keeps the folder's .pvr/config and writes each inline value as its raw text", async t => {
    const dir = await tempDir(t)
    await mkdir(join(dir, 'objects'))
    await mkdir(join(dir, 'deploy', '.pvr'), { recursive: true })
    await writeFile(join(dir, 'deploy', '.pvr', 'config'), '{"ObjectsDir": "/elsewhere"}')
    const raw = `{"#spec":"${SPEC}","c/run.json":{ "name" : "c" }}`
    await deployState(Buffer.from(raw), join(dir, 'objects'), join(dir, 'deploy'))
    assert.equal(await readFile(join(dir, 'deploy', 'c', 'run.json'), 'utf8'), '{ "name" : "c" }')
    assert.equal(await readFile(join(dir, 'deploy', '.pvr', 'config'), 'utf8'), '{"ObjectsDir": "/elsewhere"}')
    assert.equal(await readFile(join(dir, 'deploy', '.pvr', 'json'), 'utf8'), raw)
    assert.equal(existsSync(join(dir, 'deploy.bak')) || existsSync(join(dir, 'deploy.tmp')), false)
  })
})

describe('pvtx status file', () => {
  it("is upstream's struct: status, is_local, obj[4096] (4104 bytes); a queue adds queue[4096], count, error (8208)", () => {
    const txn = encodeRecord({ kind: 'txn', status: TxnStatus.ACTIVE, isLocal: true, obj: '/tmp/objects', queue: '', count: 0, error: 0 })
    assert.equal(txn.length, 4104)
    assert.equal(txn.readInt32LE(0), 2)
    assert.equal(txn.readInt32LE(4), 1)
    assert.equal(txn.subarray(8, 8 + 12).toString(), '/tmp/objects')
    assert.equal(txn[8 + 12], 0)
    const q = encodeRecord({ kind: 'queue', status: TxnStatus.SET, isLocal: true, obj: '/o', queue: '/q', count: 7, error: 0 })
    assert.equal(q.length, 8208)
    assert.equal(q.subarray(4104, 4106).toString(), '/q')
    assert.equal(q.readInt32LE(8200), 7)
    assert.deepEqual(decodeRecord(q), { kind: 'queue', status: 1, isLocal: true, obj: '/o', queue: '/q', count: 7, error: 0 })
    assert.throws(
      () => encodeRecord({ kind: 'txn', status: 2, isLocal: true, obj: '/x'.repeat(2048), queue: '', count: 0, error: 0 }),
      (e: unknown) => isCode(e, 'E_BAD_INPUT'),
    )
  })
})
