/**
 * `fieldsync usb import`: every revision on a stick into the library. Each
 * tarball is read off the stick once: its parts are hashed against the
 * manifest while they are joined into a temporary file in the library, and
 * only a file that matched is imported (the Importer then verifies every
 * object on the way in). A damaged revision is reported and skipped; the
 * others are imported. A revision the library holds complete already is
 * not read at all (its state JSON on the stick must hash to its id).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, StickCorruptError, toWireError, type WireError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { parseState, revisionId } from '../../shared/state/index.js'
import type { Importer } from '../store/import/index.js'
import { isRevisionName, type Library } from '../store/library.js'
import { unreadableError } from './errors.js'
import { readManifest, type StickRevision } from './manifest.js'

export interface UsbImportOptions {
  signal?: AbortSignal
  onProgress?: (p: { bytes: number, totalBytes: number, file: string }) => void
}

export interface UsbImportedRevision {
  name: string
  id: string
  status: 'imported' | 'existed' | 'corrupt' | 'failed'
  error?: WireError
  /** Objects of the revision that were not in the library before and are now. */
  newObjects: string[]
  newBytes: number
  /** Objects still missing after the import (revision incomplete). */
  missing: string[]
  complete: boolean
}

export interface UsbImportResult {
  dir: string
  ok: boolean
  revisions: UsbImportedRevision[]
  newObjects: number
  newBytes: number
}

export class UsbImporter {
  private readonly log: Logger
  constructor (private readonly c: { library: Library, importer: Importer, log: Logger }) {
    this.log = c.log.child('usb')
  }

  async import (dir: string, opts: UsbImportOptions = {}): Promise<UsbImportResult> {
    const m = await readManifest(dir, { signal: opts.signal })
    if (m === undefined) throw new Error('unreachable')
    const totalBytes = m.revisions.reduce((a, r) => a + r.bytes, 0)
    let bytes = 0
    const out: UsbImportedRevision[] = []
    for (const r of m.revisions) {
      if (opts.signal?.aborted === true) throw new AbortedError(`usb import from ${dir}: cancelled`)
      try {
        out.push(await this.importOne(dir, r, opts, n => { bytes += n; opts.onProgress?.({ bytes, totalBytes, file: r.tarball }) }))
      } catch (err) {
        if (err instanceof AbortedError) throw err
        const w = toWireError(err)
        this.log('usb import of %s failed: %s', r.name, w.message)
        out.push({ name: r.name, id: r.id, status: w.code === StickCorruptError.code ? 'corrupt' : 'failed', error: w, newObjects: [], newBytes: 0, missing: [], complete: false })
      }
    }
    return {
      dir,
      ok: out.every(r => r.status === 'imported' || r.status === 'existed'),
      revisions: out,
      newObjects: out.reduce((a, r) => a + r.newObjects.length, 0),
      newBytes: out.reduce((a, r) => a + r.newBytes, 0),
    }
  }

  /**
   * Whether the library holds this revision complete already (under the
   * stick's name for it, when it gives one), so that its tarball need not be
   * read. The stick's manifest is not taken at its word: the state JSON on
   * the stick (`<name>.json`, small) must hash to the revision id.
   */
  private async completeHere (dir: string, r: StickRevision, name: string | undefined): Promise<boolean> {
    const known = this.c.library.get(r.id)
    if (known === undefined || !known.complete || (name !== undefined && !known.names.includes(name))) return false
    try {
      const file = join(dir, `${r.name}.json`)
      if ((await stat(file)).size > MAX_STATE) return false
      return revisionId(parseState(await readFile(file), file)) === r.id
    } catch {
      return false // unreadable or not a state: take the long way, which reports it
    }
  }

  private async importOne (dir: string, r: StickRevision, opts: UsbImportOptions, onBytes: (n: number) => void): Promise<UsbImportedRevision> {
    const lib = this.c.library
    const name = r.libraryNames.find(isRevisionName)
    if (await this.completeHere(dir, r, name)) {
      onBytes(r.bytes)
      return { name: r.name, id: r.id, status: 'existed', newObjects: [], newBytes: 0, missing: [], complete: true }
    }
    // Cheap checks first: every part there, with its size.
    for (const p of r.parts) {
      const st = await stat(join(dir, p.path)).catch(() => null)
      if (st === null || !st.isFile()) throw new StickCorruptError(`${join(dir, p.path)}: missing from the stick; export ${r.name} again`, { file: p.path })
      if (st.size !== p.bytes) throw new StickCorruptError(`${join(dir, p.path)}: ${st.size} bytes, the manifest says ${p.bytes}; the file was cut short or altered: export ${r.name} again`, { file: p.path })
    }
    // Named after this process, so that a later start removes it if this one is killed (ObjectStore.start).
    const tmp = join(lib.objects.tmpDir, `usb-${process.pid}-${randomBytes(6).toString('hex')}.tgz`)
    try {
      await joinVerified(lib, dir, r, tmp, opts.signal, onBytes)
      const before = lib.presentAmong(r.objects.map(o => o.sha256))
      // The joined file is a temporary copy: messages name the stick's file.
      const res = await this.c.importer.importPath(tmp, { name, label: join(dir, r.tarball), source: `usb ${join(dir, r.tarball)}`, signal: opts.signal })
      if (res.id !== r.id) this.log('%s: the tarball holds revision %s, the manifest said %s', r.tarball, res.id, r.id)
      const after = lib.presentAmong(r.objects.map(o => o.sha256))
      const newObjects = [...after].filter(s => !before.has(s))
      const sizes = new Map(r.objects.map(o => [o.sha256, o.size]))
      return {
        name: r.name,
        id: res.id,
        status: res.existed && newObjects.length === 0 ? 'existed' : 'imported',
        newObjects,
        newBytes: newObjects.reduce((a, s) => a + (lib.objectSize(s) ?? sizes.get(s) ?? 0), 0),
        missing: res.missing,
        complete: res.missing.length === 0,
      }
    } finally {
      await rm(tmp, { force: true })
    }
  }
}

/** The largest `<name>.json` read to recognise a revision already here (state JSONs are far smaller). */
const MAX_STATE = 16 << 20

/** A stick file's bytes; a read the stick refuses (EIO from a failing stick, EPERM from some FUSE drivers) is E_STICK_CORRUPT naming it. */
export async function * readStickFile (file: string, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20, signal })) yield chunk as Buffer
  } catch (err) {
    throw unreadableError(err, file, 'reading it', 'the stick may be failing or was pulled out; nothing of it was imported')
  }
}

/** Join a revision's parts into `tmp`, hashing each part against the manifest. */
async function joinVerified (lib: Library, dir: string, r: StickRevision, tmp: string, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<void> {
  const whole = createHash('sha256')
  const fh = await open(tmp, 'wx')
  try {
    let pos = 0
    for (const p of r.parts) {
      const h = createHash('sha256')
      let n = 0
      for await (const b of readStickFile(join(dir, p.path), signal)) {
        h.update(b)
        if (r.sha256 !== null && r.parts.length > 1) whole.update(b)
        n += b.length
        let off = 0
        try {
          while (off < b.length) off += (await fh.write(b, off, b.length - off, pos + off)).bytesWritten
        } catch (err) { throw lib.objects.diskError(err, join(dir, r.tarball)) }
        pos += b.length
        onBytes(b.length)
      }
      const got = h.digest('hex')
      if (n !== p.bytes || got !== p.sha256) {
        throw new StickCorruptError(`${join(dir, p.path)}: sha256 ${got.slice(0, 12)}... does not match the manifest (${p.sha256.slice(0, 12)}...): the file was altered or the stick is damaged; nothing of ${r.name} was imported`, { file: p.path })
      }
    }
    if (r.sha256 !== null && r.parts.length > 1 && whole.digest('hex') !== r.sha256) {
      throw new StickCorruptError(`${r.tarball}: the joined parts do not match the manifest's sha256; nothing of ${r.name} was imported`, { file: r.tarball })
    }
  } finally {
    await fh.close()
  }
}
