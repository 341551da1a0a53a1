/**
 * `fieldsync usb import`: every revision on a stick into the library. Each
 * tarball is read off the stick once: its parts are hashed against the
 * manifest while they are joined into a temporary file in the library (and
 * walked as tar for the revision its state is: tarball-state.ts), and only a
 * file that matched and holds the manifest's revision is imported (the
 * Importer then verifies every object on the way in). A damaged revision is
 * reported and skipped; the others are imported. A revision the library
 * holds complete already is not read at all (its state JSON on the stick
 * must hash to its id). An import never moves a name to another revision.
 */
import { createHash, randomBytes } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, BugError, ErrorCodes, isCode, StickCorruptError, toWireError, type WireError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { parseState, revisionId, STATE_MAX_BYTES } from '../../shared/state/index.js'
import type { Importer } from '../store/import/index.js'
import { isRevisionName, type Library } from '../store/library.js'
import { unreadableError } from './errors.js'
import { MAX_SPLIT_SIZE } from './layout.js'
import { readManifest, type StickRevision } from './manifest.js'
import { inspectStickFile, openStickFile, readSmallStickFile } from './stick-file.js'
import { TarballStateProbe, type TarballState } from './tarball-state.js'
import { sizeMismatch } from '../../shared/units.js'

export interface UsbImportOptions {
  signal?: AbortSignal
  onProgress?: (p: { bytes: number; totalBytes: number; file: string }) => void
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
  /** The stick's name for the revision names another revision in this library: left there (an import never moves a name). */
  nameHeldBy?: { name: string; id: string }
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
  constructor(private readonly components: { library: Library; importer: Importer; log: Logger }) {
    this.log = components.log.child('usb')
  }

  async import(dir: string, opts: UsbImportOptions = {}): Promise<UsbImportResult> {
    const m = await readManifest(dir, { signal: opts.signal })
    if (m === undefined) throw new BugError('unreachable')
    const totalBytes = m.revisions.reduce((a, r) => a + r.bytes, 0)
    let bytes = 0
    const out: UsbImportedRevision[] = []
    for (const r of m.revisions) {
      if (opts.signal?.aborted === true) throw new AbortedError(`usb import from ${dir}: cancelled`)
      try {
        out.push(
          await this.importOne(dir, r, opts, n => {
            bytes += n
            opts.onProgress?.({ bytes, totalBytes, file: r.tarball })
          }),
        )
      } catch (err) {
        if (err instanceof AbortedError) throw err
        const w = toWireError(err)
        this.log('usb import of %s failed: %s', r.name, w.message)
        out.push({
          name: r.name,
          id: r.id,
          status: w.code === StickCorruptError.code ? 'corrupt' : 'failed',
          error: w,
          newObjects: [],
          newBytes: 0,
          missing: [],
          complete: false,
        })
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
  private async completeHere(dir: string, r: StickRevision, name: string | undefined): Promise<boolean> {
    const known = this.components.library.get(r.id)
    if (known === undefined || !known.complete || (name !== undefined && !known.names.includes(name))) return false
    try {
      const file = join(dir, `${r.name}.json`)
      const raw = await readSmallStickFile(file, STATE_MAX_BYTES)
      return Buffer.isBuffer(raw) && revisionId(parseState(raw, file)) === r.id
    } catch {
      return false // unreadable or not a state: take the long way, which reports it
    }
  }

  private async importOne(dir: string, r: StickRevision, opts: UsbImportOptions, onBytes: (n: number) => void): Promise<UsbImportedRevision> {
    const lib = this.components.library
    const name = r.libraryNames.find(isRevisionName)
    if (await this.completeHere(dir, r, name)) {
      onBytes(r.bytes)
      return { name: r.name, id: r.id, status: 'existed', newObjects: [], newBytes: 0, missing: [], complete: true }
    }
    // Cheap checks first: every part there, with its size.
    for (const p of r.parts) {
      const st = await inspectStickFile(join(dir, p.path), MAX_SPLIT_SIZE).catch((err: unknown) => {
        throw unreadableError(err, join(dir, p.path), 'looking it up', `export ${r.name} again`)
      })
      if (!('size' in st))
        throw new StickCorruptError(
          st.kind === 'missing'
            ? `${join(dir, p.path)}: missing from the stick; export ${r.name} again`
            : `${st.message}; nothing of ${r.name} was imported: export it again`,
          { file: p.path, problem: st.kind },
        )
      if (st.size !== p.bytes)
        throw new StickCorruptError(
          `${join(dir, p.path)}: ${sizeMismatch(st.size, p.bytes, "manifest's")}; the file was cut short or altered: export ${r.name} again`,
          { file: p.path },
        )
    }
    // Named after this process, so that a later start removes it if this one is killed (ObjectStore.start).
    const tmp = join(lib.objects.tmpDir, `usb-${process.pid}-${randomBytes(6).toString('hex')}.tgz`)
    const stickFile = join(dir, r.tarball)
    try {
      // The tarball's own state must be the revision the manifest names, before anything of it enters the library.
      const held = await joinVerified(lib, dir, r, tmp, opts.signal, onBytes)
      if ('problem' in held) throw new StickCorruptError(`${held.problem}; nothing of ${r.name} was imported: export it again`, { file: r.tarball })
      if (held.id !== r.id) {
        throw new StickCorruptError(
          `${stickFile}: holds revision ${held.id}, but the manifest says ${r.name} is ${r.id}: the stick was altered or its manifest does not belong to it; nothing of ${r.name} was imported (fieldsync usb verify shows it)`,
          { file: r.tarball, manifestId: r.id, tarballId: held.id },
        )
      }
      const before = lib.presentAmong(r.objects.map(o => o.sha256))
      const source = `usb ${stickFile}`
      // No name here: an import never moves a name (adoptName gives the stick's name only when it is free).
      const res = await this.components.importer.importPath(tmp, { source, label: stickFile, signal: opts.signal }).catch((err: unknown) => {
        throw namingStickFile(err, tmp, stickFile)
      })
      const nameHeldBy = adoptName(lib, res.id, name, source)
      if (nameHeldBy !== undefined) this.log('%s: the name %s stays on revision %s', stickFile, name, nameHeldBy.id)
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
        ...(nameHeldBy === undefined ? {} : { nameHeldBy }),
      }
    } finally {
      await rm(tmp, { force: true })
    }
  }
}

/** An error about the joined temporary file names the stick's tarball instead: that is the file the user knows. */
function namingStickFile(err: unknown, tmp: string, stickFile: string): unknown {
  if (err instanceof Error && err.message.includes(tmp)) err.message = err.message.split(tmp).join(stickFile)
  return err
}

/**
 * Give revision `id` the stick's `name` for it when no revision here holds
 * that name; a name another revision holds is left where it is (only the
 * user moves a name: fieldsync import --name). Returns that revision then.
 */
function adoptName(lib: Library, id: string, name: string | undefined, source: string): { name: string; id: string } | undefined {
  if (name === undefined) return undefined
  let holder: string | undefined
  // One transaction: another process cannot take the name between the look and the write.
  lib.db
    .transaction(() => {
      holder = nameHolder(lib, name)
      if (holder === undefined) lib.addRevision({ raw: lib.state(id).raw, name, source })
    })
    .immediate()
  return holder === undefined || holder === id ? undefined : { name, id: holder }
}

function nameHolder(lib: Library, name: string): string | undefined {
  try {
    return lib.resolve(name).id
  } catch (err) {
    if (isCode(err, ErrorCodes.UnknownRevision)) return undefined
    throw err
  }
}

/**
 * A stick file's bytes, at most `limit` of them; it must be a regular file
 * of at most `limit` bytes (stick-file.ts), else E_STICK_CORRUPT saying what
 * it is. A read the stick refuses (EIO from a failing stick, EPERM from some
 * FUSE drivers) is E_STICK_CORRUPT naming it.
 */
export async function* readStickFile(file: string, signal: AbortSignal | undefined, limit: number): AsyncGenerator<Buffer> {
  const advice = 'the stick may be failing or was pulled out; nothing of it was imported'
  const o = await openStickFile(file, limit).catch((err: unknown) => {
    throw unreadableError(err, file, 'opening it', advice)
  })
  if (!('fh' in o)) throw new StickCorruptError(`${o.message}; nothing of it was imported`, { file, problem: o.kind })
  try {
    if (limit === 0) return
    for await (const chunk of o.fh.createReadStream({ highWaterMark: 4 << 20, start: 0, end: limit - 1, autoClose: false, signal })) yield chunk as Buffer
  } catch (err) {
    throw unreadableError(err, file, 'reading it', advice)
  } finally {
    await o.fh.close()
  }
}

/**
 * Join a revision's parts into `tmp`, hashing each part against the
 * manifest; returns the revision the tarball's state is (or why it has none).
 */
async function joinVerified(
  lib: Library,
  dir: string,
  r: StickRevision,
  tmp: string,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<TarballState> {
  const whole = createHash('sha256')
  const probe = new TarballStateProbe(join(dir, r.tarball))
  const fh = await open(tmp, 'wx')
  try {
    let pos = 0
    for (const p of r.parts) {
      const h = createHash('sha256')
      let n = 0
      // One byte over the part's size: a file that grew since it was looked at fails the size check below.
      for await (const b of readStickFile(join(dir, p.path), signal, p.bytes + 1)) {
        h.update(b)
        if (r.sha256 !== null && r.parts.length > 1) whole.update(b)
        n += b.length
        const at = pos
        const writing = (async () => {
          let off = 0
          try {
            while (off < b.length) off += (await fh.write(b, off, b.length - off, at + off)).bytesWritten
          } catch (err) {
            throw lib.objects.diskError(err, join(dir, r.tarball))
          }
        })()
        await Promise.all([writing, probe.write(b)])
        pos += b.length
        onBytes(b.length)
      }
      const got = h.digest('hex')
      if (n !== p.bytes || got !== p.sha256) {
        throw new StickCorruptError(
          `${join(dir, p.path)}: sha256 ${got.slice(0, 12)}... does not match the manifest (${p.sha256.slice(0, 12)}...): the file was altered or the stick is damaged; nothing of ${r.name} was imported`,
          { file: p.path },
        )
      }
    }
    if (r.sha256 !== null && r.parts.length > 1 && whole.digest('hex') !== r.sha256) {
      throw new StickCorruptError(`${r.tarball}: the joined parts do not match the manifest's sha256; nothing of ${r.name} was imported`, { file: r.tarball })
    }
    return await probe.finish()
  } catch (err) {
    probe.destroy()
    throw err
  } finally {
    await fh.close()
  }
}
