/**
 * `fieldsync usb export`: revisions onto a stick. Plans exactly (the bytes of
 * every tarball are known before writing), checks the stick is writable and
 * roomy, writes each tarball under temporary names with read-back, then
 * renames it into place and rewrites SHA256SUMS and the manifest: each
 * revision is on the stick, complete and listed, as soon as it is read back,
 * so an export cut short keeps the revisions it finished. A revision the
 * stick already holds is not written again when its files hash to the bytes
 * this library would write (the stick's own manifest is not trusted for that).
 */
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, BugError, ERROR_TABLE, FieldsyncError, ObjectMissingError, UsageError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { objectRefs, uniqueShas } from '../../shared/state/index.js'
import { directIoFs } from '../store/appender.js'
import { planExport, planStateExport, type ExportPlan } from '../store/export.js'
import type { Library, RevisionInfo } from '../store/library.js'
import { applyPolicy, type PolicyCheck, type TrustSource } from '../trust/index.js'
import { readInventory, type Inventory } from './inventory.js'
import {
  DEFAULT_SPLIT_SIZE,
  MAX_SPLIT_SIZE,
  MANIFEST_FILE,
  SCRIPT_FILE,
  README_FILE,
  SUMS_FILE,
  ontoFile,
  partFiles,
  stickName,
  stickNames,
  tarballFile,
} from './layout.js'
import { composeForDevice } from './compose.js'
import { readManifest, sumsText, type Manifest, type StickMode, type StickOnto, type StickRevision } from './manifest.js'
import { installSh } from './install-sh.js'
import { readmeText } from './readme.js'
import { readOnThread, ReadBackThread } from './readback.js'
import { PartHasher, smallFiles, StickState } from './stick-state.js'
import { commitFiles, hashFile, PartedFileWriter, TMP_PREFIX, TMP_SUFFIX, writeSmallFile, type WrittenPart } from './sink.js'
import { assertFits, checkWritable, freeSpace, onDiskBytes, type FreeSpace } from './space.js'
import { inspectStickFile, readSmallStickFile } from './stick-file.js'
import { StoredGzipEncoder, TgzWriter, tarSize, tgzSize, type TarEntry } from './tgz.js'
import { sizeMismatch } from '../../shared/units.js'
import { syncStick, type StickSync } from './settle.js'

export interface UsbProgress {
  /** write: writing a tarball; verify: reading it back; check: reading one the stick already had. */
  phase: 'write' | 'verify' | 'check'
  /** Bytes written, read back and checked so far. */
  bytes: number
  /** Twice the bytes of the tarballs written (written, then read back), plus those checked. */
  totalBytes: number
  file: string
}

export interface UsbExportOptions {
  /** Revision refs: names, ids or id prefixes. */
  revisions: string[]
  dir: string
  /** A device's inventory (GET /objects answer): send only what it lacks. */
  forDevice?: string
  /** Another laptop's inventory: send only what it lacks, each object once. */
  forPeer?: string
  /** Largest file written (FAT32: under 4 GiB). */
  splitSize?: number
  signal?: AbortSignal
  onProgress?: (p: UsbProgress) => void
  /** Evict written files from the page cache before reading them back (default true). */
  dropCache?: boolean
}

export interface PlannedRevision {
  info: RevisionInfo
  name: string
  plan: ExportPlan
  objects: Array<{ sha256: string; size: number }>
  entries: TarEntry[]
  tgzBytes: number
  /** The files the tarball is written to (one, or parts of the split size) and their bytes. */
  parts: Array<{ path: string; bytes: number }>
  /** The stick's entry for this revision, when it looks the same (mode, bytes, files): checked before writing. */
  onStick?: StickRevision
  /** A package composed onto the state the device's inventory carries: what it was composed onto. */
  onto?: StickOnto
}

export interface UsbPlan {
  mode: StickMode
  revisions: PlannedRevision[]
  tarballBytes: number
  /** Bytes the export takes on the stick, per the file system's block size. */
  neededBytes: number
  availableBytes: number | null
  splitSize: number
  existing: Manifest | undefined
  free: FreeSpace | null
}

export interface UsbExportResult {
  dir: string
  mode: StickMode
  /** `written: false`: the stick already held exactly these bytes (hashed to make sure); left as they were. */
  revisions: Array<{
    name: string
    id: string
    tarball: string
    files: string[]
    bytes: number
    objects: number
    included: number
    includedBytes: number
    sha256: string | null
    written: boolean
    onto?: StickOnto
  }>
  bytes: number
  neededBytes: number
  availableBytes: number | null
  /** After the write: the data is on the medium (the stick can be removed), or why that is not confirmed. */
  sync: StickSync
}

export class UsbExporter {
  private readonly log: Logger
  constructor(private readonly components: { library: Library; log: Logger; trust?: TrustSource; policy?: PolicyCheck }) {
    this.log = components.log.child('usb')
  }

  async plan(opts: UsbExportOptions): Promise<UsbPlan> {
    const lib = this.components.library
    if (opts.revisions.length === 0) throw new UsageError('usb export: name at least one revision')
    if (opts.forDevice !== undefined && opts.forPeer !== undefined) throw new UsageError('usb export: --for-device and --for-peer exclude each other')
    const splitSize = opts.splitSize ?? DEFAULT_SPLIT_SIZE
    if (!Number.isSafeInteger(splitSize) || splitSize < 1 || splitSize > MAX_SPLIT_SIZE)
      throw new UsageError(`--split-size ${splitSize}: give 1..${MAX_SPLIT_SIZE} bytes`)
    const infos: RevisionInfo[] = []
    for (const ref of opts.revisions) {
      const info = lib.resolve(ref)
      if (!infos.some(i => i.id === info.id)) infos.push(info)
    }
    const mode: StickMode = opts.forDevice !== undefined ? 'device' : opts.forPeer !== undefined ? 'peer' : 'full'
    let inv: Inventory | undefined
    if (opts.forDevice !== undefined) inv = await readInventory(opts.forDevice, { signal: opts.signal })
    if (opts.forPeer !== undefined) inv = await readInventory(opts.forPeer, { signal: opts.signal })
    // A package for a device whose inventory carries its running state is composed onto it here.
    const composed = new Map(infos.map(info => [info.id, mode === 'device' ? composeForDevice(lib, info, inv) : null]))
    // The signature policy: what the device would refuse (WONTGO) does not go onto the stick; it judges the composed state, not the package.
    for (const info of infos) await applyPolicy(composed.get(info.id)?.raw ?? lib.state(info.id).raw, this.components)
    const composedNames = new Set([...composed.values()].filter(c => c !== null).map(c => stickName(c.info.name)))
    for (const c of composed.values()) if (c !== null) infos[infos.findIndex(i => i.id === c.onto.packageId)] = c.info
    const existing = await readManifest(opts.dir, { signal: opts.signal, optional: true }).catch((err: unknown) => {
      this.log('ignoring the unreadable manifest on %s: %s', opts.dir, (err as Error).message)
      return undefined
    })
    const ids = new Set(infos.map(i => i.id))
    // A composed package takes its package's name: it replaces what the stick had under that name.
    const kept = (existing?.revisions ?? []).filter(r => !ids.has(r.id) && !composedNames.has(r.name))
    const reuse = new Map((existing?.revisions ?? []).filter(r => ids.has(r.id)).map(r => [r.id, r.name]))
    const fresh = stickNames(
      infos.filter(i => !reuse.has(i.id)),
      new Set([...kept.map(r => r.name), ...reuse.values()]),
    )
    const names = new Map(infos.filter(i => !reuse.has(i.id)).map((i, k) => [i.id, fresh[k]]))
    const placed = new Set<string>()
    const revisions: PlannedRevision[] = []
    const held = mode === 'device' && inv !== undefined ? new Set(inv.objects.keys()) : undefined
    for (const info of infos) {
      const made = [...composed.values()].find(c => c?.info.id === info.id) ?? null
      const state = made?.state ?? lib.state(info.id)
      const shas = uniqueShas(objectRefs(state))
      let only: Set<string> | undefined
      if (inv !== undefined) {
        only = new Set(shas.filter(s => !(inv as Inventory).objects.has(s) && !placed.has(s)))
        if (mode === 'peer') for (const s of only) placed.add(s)
      }
      const plan =
        made !== null
          ? planStateExport(lib, { raw: made.raw, state: made.state }, info.name, { onlyObjects: only, heldByTarget: held })
          : planExport(lib, info.id, { onlyObjects: only, heldByTarget: held })
      const entries: TarEntry[] = [{ name: 'json', size: plan.json.length }]
      // pvcontrol checks that an `objects` folder exists: give it one when no object is sent.
      if (plan.objects.length === 0) entries.push({ name: 'objects/', size: 0 })
      for (const o of plan.objects) entries.push({ name: `objects/${o.sha}`, size: o.size })
      const tgzBytes = tgzSize(tarSize(entries))
      const name = reuse.get(info.id) ?? (names.get(info.id) as string)
      const paths = partFiles(name, Math.max(1, Math.ceil(tgzBytes / splitSize)))
      const parts = paths.map((path, i) => ({ path, bytes: Math.min(splitSize, tgzBytes - i * splitSize) }))
      const old = existing?.revisions.find(e => e.id === info.id)
      const looksSame =
        old !== undefined &&
        old.mode === mode &&
        old.bytes === tgzBytes &&
        old.parts.length === parts.length &&
        old.parts.every((p, i) => p.path === parts[i].path && p.bytes === parts[i].bytes)
      revisions.push({
        info,
        name,
        plan,
        objects: shas.map(s => ({ sha256: s, size: lib.objectSize(s) ?? inv?.objects.get(s) ?? 0 })),
        entries,
        tgzBytes,
        parts,
        onStick: looksSame ? old : undefined,
        ...(made === null ? {} : { onto: made.onto }),
      })
    }
    const free = await freeSpace(opts.dir).catch(() => null)
    const tarballBytes = revisions.reduce((a, r) => a + r.tgzBytes, 0)
    const neededBytes = neededOnStick(revisions, kept.length, free?.blockSize ?? 4096)
    return { mode, revisions, tarballBytes, neededBytes, availableBytes: free?.available ?? null, splitSize, existing, free }
  }

  async export(opts: UsbExportOptions): Promise<UsbExportResult> {
    const dir = opts.dir
    await checkWritable(dir)
    const plan = await this.plan(opts)
    await removeLeftovers(dir)
    // Reads back on another core: what is written (while writing goes on), and what the stick already has.
    let readBack: ReadBackThread | undefined
    try {
      readBack = new ReadBackThread()
    } catch (err) {
      this.log('no read-back thread (%s): reading back after writing', (err as Error).message)
    }
    let res: Omit<UsbExportResult, 'sync'>
    try {
      res = await this.run(opts, plan, readBack)
    } finally {
      await readBack?.stop()
    }
    // Every file and folder is fsynced by now; "safe to remove" waits for the file system itself to be written back.
    return { ...res, sync: await syncStick(dir, { log: this.log, signal: opts.signal }) }
  }

  private async run(opts: UsbExportOptions, plan: UsbPlan, readBack: ReadBackThread | undefined): Promise<Omit<UsbExportResult, 'sync'>> {
    const dir = opts.dir
    let bytes = 0
    let total = plan.revisions.reduce((a, r) => a + (r.onStick !== undefined ? r.tgzBytes : 0) + 2 * r.tgzBytes, 0)
    const progress = (phase: UsbProgress['phase'], file: string) => (n: number) => {
      bytes += n
      opts.onProgress?.({ phase, bytes, totalBytes: total, file })
    }
    // Revisions the stick seems to hold already: hash what is there against what would be written.
    const direct = await directIoFs(dir, this.components.library.objects.directIo)
    const already = new Map<PlannedRevision, string[]>()
    for (const r of plan.revisions) {
      if (r.onStick === undefined) continue
      if (opts.signal?.aborted === true) throw new AbortedError(`usb export to ${dir}: cancelled`)
      let read = 0
      const counted = progress('check', tarballFile(r.name))
      const hashes = await this.sameOnStick(
        dir,
        r,
        plan.splitSize,
        {
          readBack,
          direct,
          dropCache: opts.dropCache !== false,
          onBytes: n => {
            read += n
            counted(n)
          },
        },
        opts.signal,
      )
      if (hashes !== null) {
        already.set(r, hashes)
        total -= 2 * r.tgzBytes
        this.log('%s: already on %s with the same bytes; not written again', r.name, dir)
      } else {
        total -= r.tgzBytes - read
        this.log('%s: on %s but not with the same bytes; writing it again', r.name, dir)
      }
    }
    const todo = plan.revisions.filter(r => !already.has(r))
    const stick = new StickState(dir, plan)
    const needed = neededOnStick(todo, stick.others.length + already.size, plan.free?.blockSize ?? 4096)
    assertFits(dir, needed, plan.free ?? { available: null, blockSize: 4096 }, plan.mode === 'full' ? null : 'use a bigger stick or fewer revisions')
    for (const [r, hashes] of already) stick.keep(r, hashes)
    try {
      await this.writeAll(opts, plan, todo, stick, readBack, progress)
    } catch (err) {
      // Say what the stick holds complete all the same: a rerun of the same command finishes the rest.
      const done = plan.revisions.filter(r => stick.has(r)).map(r => r.name)
      if (done.length === 0 || !(err instanceof FieldsyncError)) throw err
      throw new ERROR_TABLE[err.code].cls(
        `${err.message} (on the stick and complete: ${done.join(', ')}; the same command again writes the rest)`,
        { ...err.details, complete: done },
        { cause: err },
      )
    }
    // Nothing written (all there already): still bring install.sh, README, SHA256SUMS and the manifest up to date.
    if (todo.length === 0) await this.writeMeta(stick, opts.signal)
    this.log('exported %d revision(s) to %s (%d already there)', plan.revisions.length, dir, already.size)
    return {
      dir,
      mode: plan.mode,
      revisions: plan.revisions.map(p => {
        const r = stick.entry(p)
        return {
          name: r.name,
          id: r.id,
          tarball: r.tarball,
          files: r.parts.map(x => x.path),
          bytes: r.bytes,
          objects: r.objects.length,
          included: r.included,
          includedBytes: r.includedBytes,
          sha256: r.sha256,
          written: !already.has(p),
          ...(r.onto === undefined ? {} : { onto: r.onto }),
        }
      }),
      bytes: plan.tarballBytes,
      neededBytes: needed,
      availableBytes: plan.availableBytes,
    }
  }

  /** Write, read back and commit each revision in turn. */
  private async writeAll(
    opts: UsbExportOptions,
    plan: UsbPlan,
    todo: PlannedRevision[],
    stick: StickState,
    readBack: ReadBackThread | undefined,
    progress: (phase: UsbProgress['phase'], file: string) => (n: number) => void,
  ): Promise<void> {
    const dir = opts.dir
    for (const r of todo) {
      if (opts.signal?.aborted === true) throw new AbortedError(`usb export to ${dir}: cancelled`)
      const file = tarballFile(r.name)
      const w = new PartedFileWriter(dir, file, {
        splitSize: plan.splitSize,
        signal: opts.signal,
        dropCache: opts.dropCache,
        readBack,
        directIo: this.components.library.objects.directIo,
        onWritten: progress('write', file),
        onReadBack: progress('verify', file),
      })
      let parts: WrittenPart[]
      try {
        await this.streamTarball(
          r,
          async (b, crc) => {
            await w.write(b, crc)
          },
          opts.signal,
        )
        parts = await w.finish()
        const written = parts.reduce((a, p) => a + p.bytes, 0)
        if (written !== r.tgzBytes || parts.length !== r.parts.length)
          throw new BugError(`${file}: wrote ${written} bytes in ${parts.length} part(s), planned ${r.tgzBytes} in ${r.parts.length}`)
      } catch (err) {
        await w.abort()
        throw err
      }
      // Not cancellable: a few small files, and the stick lists the revision once they are written.
      await this.commit(stick, r, parts)
    }
  }

  /**
   * Does the stick hold exactly the bytes this export would write for `r`?
   * The tarball is made again in memory and hashed part by part, the stick's
   * files are read and hashed, and the small files compared byte for byte.
   * Returns the parts' sha256 when it does.
   */
  private async sameOnStick(
    dir: string,
    r: PlannedRevision,
    splitSize: number,
    how: { readBack?: ReadBackThread; direct: boolean; dropCache: boolean; onBytes: (n: number) => void },
    signal?: AbortSignal,
  ): Promise<string[] | null> {
    // Regular files of the size expected, read no further than that (stick-file.ts): anything else is written again.
    const sizeIs = async (file: string, size: number) =>
      await inspectStickFile(join(dir, file), size).then(
        st => 'size' in st && st.size === size,
        () => false,
      )
    const sameBytes = async (file: string, want: Uint8Array) => {
      const got = await readSmallStickFile(join(dir, file), want.length, signal)
      return Buffer.isBuffer(got) && Buffer.from(want).equals(got)
    }
    const cheap = await Promise.all([
      ...smallFiles(r).map(async ([file, bytes]) => await sameBytes(file, bytes).catch(() => false)),
      ...r.parts.map(async p => await sizeIs(p.path, p.bytes)),
    ])
    if (cheap.includes(false)) return null
    const expected = new PartHasher(splitSize)
    const [, onStick] = await Promise.all([
      this.streamTarball(
        r,
        async b => {
          expected.write(b)
        },
        signal,
      ),
      (async () => {
        const out: string[] = []
        for (const { path: p, bytes: size } of r.parts) {
          const file = join(dir, p)
          // From the medium, on the read-back thread where there is one (the tarball is made again on this one meanwhile).
          const h = await (
            how.readBack !== undefined
              ? readOnThread(how.readBack, file, how, size, signal)
              : hashFile(file, { signal, onBytes: how.onBytes, dropCache: how.dropCache })
          ).catch(() => null)
          if (signal?.aborted === true) throw new AbortedError(`checking ${p}: cancelled`)
          if (h === null || h.bytes !== size) return null
          out.push(h.sha256)
        }
        return out
      })(),
    ])
    const want = expected.finish()
    return onStick !== null && onStick.length === want.length && onStick.every((h, i) => h === want[i]) ? want : null
  }

  /** The tarball's bytes, in order, to `sink` (with the CRC-32 of each buffer). */
  private async streamTarball(r: PlannedRevision, sink: (b: Uint8Array, crc: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
    const gz = new StoredGzipEncoder(sink)
    const tw = new TgzWriter(gz)
    const objs = this.components.library.objects
    for (const e of r.entries) {
      if (e.name === 'json') {
        await tw.header(e)
        await tw.data(r.plan.json)
        await tw.padTo(e.size)
        continue
      }
      if (e.name === 'objects/') {
        await tw.header({ ...e, type: 'directory' })
        continue
      }
      const sha = e.name.slice('objects/'.length)
      await tw.header(e)
      let n = 0
      for await (const chunk of objs.chunks(sha, signal)) {
        n += chunk.length
        if (n > e.size) break
        await tw.data(chunk)
      }
      if (n !== e.size)
        throw new ObjectMissingError(`object ${sha}: the library file is ${sizeMismatch(n, e.size, 'recorded')}; run fieldsync verify --repair`, { sha })
      await tw.padTo(e.size)
    }
    await tw.finish()
  }

  /** Put one revision's files in place, then the stick's own files: from now on the stick lists it. */
  private async commit(stick: StickState, r: PlannedRevision, parts: WrittenPart[], signal?: AbortSignal): Promise<void> {
    const dir = stick.dir
    const names = r.parts.map(p => p.path)
    await commitFiles(
      dir,
      parts.map((p, i) => ({ tmp: p.tmp, final: names[i] })),
    )
    const entry = stick.add(
      r,
      parts.map((p, i) => ({ path: names[i], bytes: p.bytes, sha256: p.sha256 })),
    )
    // Files of the revision this one replaced that no longer belong (e.g. old parts).
    for (const old of stick.replaced(entry)) for (const p of old.parts) if (!names.includes(p.path)) await rm(join(dir, p.path), { force: true })
    for (const [file, bytes] of smallFiles(r)) stick.files.set(file, { path: file, ...(await writeSmallFile(dir, file, bytes, { signal })) })
    // A revision that was composed before and is not now leaves no .onto behind (install.sh would check it).
    if (r.onto === undefined) await rm(join(dir, ontoFile(r.name)), { force: true })
    await this.writeMeta(stick, signal)
  }

  /** install.sh, README.txt, SHA256SUMS and the manifest, for what the stick holds now. */
  private async writeMeta(stick: StickState, signal?: AbortSignal): Promise<void> {
    const dir = stick.dir
    const all = stick.revisions()
    const ours = new Set(all.flatMap(r => [r.objectsFile, `${r.name}.json`, ...(r.onto === undefined ? [] : [ontoFile(r.name)])]))
    const manifest: Manifest = {
      format: 'fieldsync-usb@1',
      createdAt: new Date().toISOString(),
      tool: 'fieldsync',
      revisions: all,
      files: [...stick.files.values()].filter(f => ours.has(f.path)),
    }
    manifest.files.push({ path: SCRIPT_FILE, ...(await writeSmallFile(dir, SCRIPT_FILE, installSh(), { signal, mode: 0o755 })) })
    manifest.files.push({ path: README_FILE, ...(await writeSmallFile(dir, README_FILE, readmeText(manifest).replace(/\n/g, '\r\n'), { signal })) })
    const sums = await writeSmallFile(dir, SUMS_FILE, sumsText([...all.flatMap(r => r.parts), ...manifest.files]), { signal })
    manifest.files.push({ path: SUMS_FILE, ...sums })
    await writeSmallFile(dir, MANIFEST_FILE, JSON.stringify(manifest, null, 1) + '\n', { signal })
  }
}

/** Bytes the stick needs for `revisions` (tarballs, small files) plus its own files, per its block size. */
function neededOnStick(revisions: readonly PlannedRevision[], otherRevisions: number, blockSize: number): number {
  const sizes: number[] = []
  for (const r of revisions) sizes.push(...r.parts.map(p => p.bytes), r.objects.length * 86 + 1, r.plan.json.length)
  const manifestGuess = 4096 + (otherRevisions + revisions.length) * 1024 + revisions.reduce((a, r) => a + r.objects.length * 120 + r.parts.length * 200, 0)
  sizes.push(Buffer.byteLength(installSh()), 8192, manifestGuess, manifestGuess) // install.sh, README, SHA256SUMS, manifest
  return onDiskBytes(sizes, blockSize)
}

/** Remove temporary files an interrupted export left behind. */
export async function removeLeftovers(dir: string): Promise<string[]> {
  const gone: string[] = []
  for (const name of await readdir(dir)) {
    if (name.startsWith(TMP_PREFIX) && name.endsWith(TMP_SUFFIX)) {
      await rm(join(dir, name), { force: true })
      gone.push(name)
    }
  }
  return gone
}
