/** Which revision a tarball holds, found from its bytes as they pass: gzip or plain, in any chunking; one state only. */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { parseState, revisionId } from '../../../shared/state/index.js'
import { TarballStateProbe, type TarballState } from '../../../main/usb/tarball-state.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'

async function probe(bytes: Buffer, chunk: number): Promise<TarballState> {
  const p = new TarballStateProbe('stick/x.pvrexport.tgz')
  const buf = Buffer.alloc(chunk)
  for (let off = 0; off < bytes.length; off += chunk) {
    // One buffer reused for every chunk, as verify's reader does.
    const n = bytes.copy(buf, 0, off, Math.min(bytes.length, off + chunk))
    await p.write(buf.subarray(0, n))
  }
  return await p.finish()
}

async function pack(entries: Array<{ name: string; body: Buffer }>): Promise<Buffer> {
  const p = tar.pack()
  const chunks: Buffer[] = []
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer)
  })
  const ended = new Promise<void>(resolve =>
    p.on('end', () => {
      resolve()
    }),
  )
  for (const e of entries)
    await new Promise<void>((resolve, reject) =>
      p.entry({ name: e.name }, e.body, err => {
        if (err) reject(err)
        else resolve()
      }),
    )
  p.finalize()
  await ended
  return Buffer.concat(chunks)
}

describe('TarballStateProbe', () => {
  it('gives the revision id of a pvr export tarball, gzip or plain, whatever the chunk size', async () => {
    const tarball = await readFile(join(vendoredUpstreamDir, 'watchdog_pinger.tar'))
    const { execFileSync } = await import('node:child_process')
    const json = execFileSync('tar', ['-xOf', join(vendoredUpstreamDir, 'watchdog_pinger.tar'), 'json'])
    const id = revisionId(parseState(json, 'json'))
    for (const bytes of [tarball, gzipSync(tarball)]) {
      for (const chunk of [1, 511, 4096, 1 << 20]) {
        if (chunk === 1 && bytes.length > 200_000) continue
        assert.deepEqual(await probe(bytes, chunk), { id }, `chunk ${chunk}`)
      }
    }
  })

  it('refuses two json entries (the import would take the second), none, a state that is not one, and bytes that are not a tar', async () => {
    const a = Buffer.from(JSON.stringify({ '#spec': 'pantavisor-service-system@1', 'a.txt': 'a' }))
    const b = Buffer.from(JSON.stringify({ '#spec': 'pantavisor-service-system@1', 'b.txt': 'b' }))
    const two = await probe(
      await pack([
        { name: 'json', body: a },
        { name: './json', body: b },
      ]),
      4096,
    )
    assert.match((two as { problem: string }).problem, /^stick\/x\.pvrexport\.tgz: 2 json entries/)
    const none = await probe(gzipSync(await pack([{ name: 'objects/x', body: a }])), 4096)
    assert.match((none as { problem: string }).problem, /no json entry/)
    const notState = await probe(await pack([{ name: 'json', body: Buffer.from('[1,2]') }]), 4096)
    assert.ok('problem' in notState)
    const garbage = await probe(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not gzip at all')]), 4096)
    assert.match((garbage as { problem: string }).problem, /not a valid gzip tar archive/)
    assert.match(((await probe(Buffer.alloc(0), 1)) as { problem: string }).problem, /empty/)
  })
})
