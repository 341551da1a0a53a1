/** Reading stick files: only regular files within their cap are opened; the manifest's sizes are capped too. */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { MAX_SMALL_FILE, validateManifest } from '../../../main/usb/manifest.js'
import { MAX_SPLIT_SIZE } from '../../../main/usb/layout.js'
import { readSmallStickFile } from '../../../main/usb/stick-file.js'
import { tempDir } from '../../helpers/tmp.js'

describe('stick files', () => {
  it('reads a regular file up to its cap; refuses one over it, a FIFO, a link and a folder without reading them', async t => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'ok'), 'x'.repeat(100))
    await writeFile(join(dir, 'big'), 'x'.repeat(101))
    execFileSync('mkfifo', [join(dir, 'fifo')])
    await symlink(join(dir, 'ok'), join(dir, 'link'))
    const ok = await readSmallStickFile(join(dir, 'ok'), 100)
    assert.ok(Buffer.isBuffer(ok) && ok.length === 100)
    const kind = async (name: string) => {
      const r = await readSmallStickFile(join(dir, name), 100)
      return Buffer.isBuffer(r) ? 'read' : r.kind
    }
    assert.equal(await kind('big'), 'too-large')
    assert.equal(await kind('fifo'), 'not-regular') // resolves: a FIFO with no writer is never opened
    assert.equal(await kind('link'), 'not-regular')
    assert.equal(await kind('.'), 'not-regular')
    assert.equal(await kind('none'), 'missing')
  })

  it('a manifest may not claim a part over the split-size maximum or another file over its cap', () => {
    const sha = 'ab'.repeat(32)
    const rev = (bytes: number) => ({
      name: 'r',
      id: sha,
      mode: 'full',
      tarball: 'r.pvrexport.tgz',
      objectsFile: 'r.objects',
      parts: [{ path: 'r.pvrexport.tgz', bytes, sha256: sha }],
      bytes,
      sha256: sha,
      objects: [],
      included: 0,
      includedBytes: 0,
    })
    const m = (bytes: number, fileBytes: number) => ({
      format: 'fieldsync-usb@1',
      revisions: [rev(bytes)],
      files: [{ path: 'r.json', bytes: fileBytes, sha256: sha }],
    })
    assert.equal(validateManifest(m(MAX_SPLIT_SIZE, MAX_SMALL_FILE), 'm').revisions.length, 1)
    assert.throws(() => validateManifest(m(MAX_SPLIT_SIZE + 1, 10), 'm'), { code: ErrorCodes.BadInput })
    assert.throws(() => validateManifest(m(10, MAX_SMALL_FILE + 1), 'm'), { code: ErrorCodes.BadInput })
  })
})
