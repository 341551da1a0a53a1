/**
 * Exports are fast by default (issue #17 item 14): the export dialog writes
 * a .tgz of stored deflate blocks (gzip level 0, as the USB export does),
 * which tar, gunzip and Fieldsync's own import read; real compression is a
 * choice in the dialog.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { runCli } from '../helpers/cli.js'
import { deflateBlocks } from '../helpers/gzip.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { makeGateway } from './fixtures.js'
import { chromiumMissing, openBrowser, screenshot, startUi, type BrowserSession, type UiProcess } from './helpers.js'

const skip = chromiumMissing() ?? (hasMksquashfs() ? null : 'mksquashfs not installed (squashfs-tools)')

describe('export formats in browser mode', { skip: skip ?? false, timeout: 120_000 }, () => {
  let ui: UiProcess
  let b: BrowserSession
  let work: string
  let id: string
  let objects: number
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    work = await tempDir({
      after: (fn: () => Promise<void>) => {
        cleanups.push(fn)
      },
    })
    const gw = await makeGateway(join(work, 'gen'))
    const home = join(work, 'home')
    const imp = await runCli(['--json', 'import', gw.v1, '--name', 'site-gateway-1.4'], { home })
    assert.equal(imp.code, 0, imp.stderr)
    id = imp.json().id
    objects = imp.json().objects
    ui = await startUi(home)
    b = await openBrowser()
  })
  after(async () => {
    await b?.close()
    await ui?.stop()
    for (const c of cleanups) await c()
  })

  async function exportVia(choice: string | null, folder: string): Promise<Buffer> {
    const { page } = b
    await mkdir(folder)
    // The last export's toast goes first: the next one must be this export's.
    await page.$$eval('.toast button[aria-label="Dismiss"]', bs => {
      for (const x of bs) (x as unknown as { click: () => void }).click()
    })
    await page.locator('.toast').first().waitFor({ state: 'detached' })
    await page.getByRole('button', { name: 'Export site-gateway-1.4' }).click()
    const dialog = page.getByRole('dialog', { name: 'Export site-gateway-1.4' })
    await dialog.locator('#export-folder').fill(folder)
    if (choice !== null) await dialog.getByRole('radio', { name: choice }).check()
    else assert.equal(await dialog.getByRole('radio', { name: /^\.tgz, fast/ }).isChecked(), true, 'the fast .tgz is the default')
    if (choice === null) await screenshot(page, 'export-dialog-formats')
    await dialog.getByRole('button', { name: 'Export', exact: true }).click()
    await page.getByText('Exported site-gateway-1.4').waitFor({ timeout: 30_000 })
    const files = await readdir(folder)
    assert.deepEqual(files, ['site-gateway-1.4.tgz'])
    return await readFile(join(folder, files[0]))
  }

  it('writes stored deflate blocks by default: tar reads it, it is the size of the tar, and it imports back', async () => {
    const { page } = b
    await page.goto(ui.url)
    await page.getByTestId('revision-row').first().waitFor()
    const out = join(work, 'fast')
    const gz = await exportVia(null, out)
    const blocks = deflateBlocks(gz)
    assert.equal(blocks.storedOnly, true, `every deflate block is stored (level 0); first block type ${blocks.firstType}`)
    const tar = gunzipSync(gz)
    // Stored blocks cost 5 bytes per 64 KiB: the file is its tar plus gzip framing, never less.
    assert.ok(
      gz.length >= tar.length && gz.length <= tar.length + 18 + 5 * Math.ceil(tar.length / 65535) + 5,
      `${gz.length} bytes for a ${tar.length}-byte tar`,
    )
    const listed = execFileSync('tar', ['-tzf', join(out, 'site-gateway-1.4.tgz')], { encoding: 'utf8' })
      .trim()
      .split('\n')
    assert.equal(listed[0], 'json')
    assert.equal(listed.filter(n => n.startsWith('objects/')).length, objects)
    const again = await runCli(['--json', 'import', join(out, 'site-gateway-1.4.tgz')], { home: join(work, 'other-home') })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json().id, id)
    await rm(join(work, 'other-home'), { recursive: true, force: true })
  })

  it('compresses for real when the technician chooses it', async () => {
    const out = join(work, 'small')
    const gz = await exportVia('.tgz, compressed', out)
    const blocks = deflateBlocks(gz)
    assert.equal(blocks.storedOnly, false)
    assert.notEqual(blocks.firstType, 0, 'deflated, not stored')
    const again = await runCli(['--json', 'import', join(out, 'site-gateway-1.4.tgz')], { home: join(work, 'other-home') })
    assert.equal(again.code, 0, again.stderr)
    assert.equal(again.json().id, id)
  })

  it('raised no page errors', () => {
    assert.deepEqual(
      b.errors.filter(e => !/Failed to load resource/.test(e)),
      [],
    )
  })
})
