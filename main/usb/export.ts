/**
 * `fieldsync usb export`: revisions onto a stick. Plans exactly (the bytes of
 * every tarball are known before writing), checks the stick is writable and
 * roomy, writes each tarball under temporary names with read-back, and only
 * then renames everything into place and writes SHA256SUMS and the manifest.
 */
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError, InternalError, ObjectMissingError, UsageError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { objectRefs, uniqueShas } from '../../shared/state/index.js'
import { planExport, type ExportPlan } from '../store/export.js'
import type { Library, RevisionInfo } from '../store/library.js'
import { checkPolicy, type TrustSource } from '../trust/index.js'
import { readInventory, type Inventory } from './inventory.js'
import { DEFAULT_SPLIT_SIZE, MAX_SPLIT_SIZE, MANIFEST_FILE, SCRIPT_FILE, README_FILE, SUMS_FILE, objectsFile, partFiles, stickNames, tarballFile } from './layout.js'
import { readManifest, sumsText, type Manifest, type StickFile, type StickMode, type StickRevision } from './manifest.js'
import { INSTALL_SH } from './install-sh.js'
import { readmeText } from './readme.js'
import { ReadBackThread } from './readback.js'
import { commitFiles, PartedFileWriter, TMP_PREFIX, TMP_SUFFIX, writeSmallFile, type WrittenPart } from './sink.js'
import { assertFits, checkWritable, freeSpace, onDiskBytes } from './space.js'
import { StoredGzipEncoder, TgzWriter, tarSize, tgzSize, type TarEntry } from './tgz.js'

export interface UsbProgress {
  phase: 'write' | 'verify'
  /** Bytes written plus bytes read back so far. */
  bytes: number
  /** Twice the bytes of all tarballs (written, then read back). */
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
  objects: Array<{ sha256: string, size: number }>
  entries: TarEntry[]
  tgzBytes: number
  parts: number
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
}

export interface UsbExportResult {
  dir: string
  mode: StickMode
  revisions: Array<{ name: string, id: string, tarball: string, files: string[], bytes: number, objects: number, included: number, includedBytes: number, sha256: string | null }>
  bytes: number
  neededBytes: number
  availableBytes: number | null
}

export class UsbExporter {
  private readonly log: Logger
  constructor (private readonly c: { library: Library, log: Logger, trust?: TrustSource }) {
    this.log = c.log.child('usb')
  }

  async plan (opts: UsbExportOptions): Promise<UsbPlan> {
    const lib = this.c.library
    if (opts.revisions.length === 0) throw new UsageError('usb export: name at least one revision')
    if (opts.forDevice !== undefined && opts.forPeer !== undefined) throw new UsageError('usb export: --for-device and --for-peer exclude each other')
    const splitSize = opts.splitSize ?? DEFAULT_SPLIT_SIZE
    if (!Number.isSafeInteger(splitSize) || splitSize < 1 || splitSize > MAX_SPLIT_SIZE) throw new UsageError(`--split-size ${splitSize}: give 1..${MAX_SPLIT_SIZE} bytes`)
    const infos: RevisionInfo[] = []
    for (const ref of opts.revisions) {
      const info = lib.resolve(ref)
      if (!infos.some(i => i.id === info.id)) infos.push(info)
    }
    // The signature policy: a revision the device would refuse (WONTGO) does not go onto the stick.
    const trust = this.c.trust
    if (trust !== undefined) for (const info of infos) checkPolicy(lib.state(info.id).raw, trust)
    const mode: StickMode = opts.forDevice !== undefined ? 'device' : opts.forPeer !== undefined ? 'peer' : 'full'
    let inv: Inventory | undefined
    if (opts.forDevice !== undefined) inv = await readInventory(opts.forDevice, { signal: opts.signal })
    if (opts.forPeer !== undefined) inv = await readInventory(opts.forPeer, { signal: opts.signal })
    const existing = await readManifest(opts.dir, { signal: opts.signal, optional: true }).catch((err: unknown) => {
      this.log('ignoring the unreadable manifest on %s: %s', opts.dir, (err as Error).message)
      return undefined
    })
    const ids = new Set(infos.map(i => i.id))
    const kept = (existing?.revisions ?? []).filter(r => !ids.has(r.id))
    const reuse = new Map((existing?.revisions ?? []).filter(r => ids.has(r.id)).map(r => [r.id, r.name]))
    const fresh = stickNames(infos.filter(i => !reuse.has(i.id)), new Set([...kept.map(r => r.name), ...reuse.values()]))
    const names = new Map(infos.filter(i => !reuse.has(i.id)).map((i, k) => [i.id, fresh[k]]))
    const placed = new Set<string>()
    const revisions: PlannedRevision[] = []
    for (const info of infos) {
      const shas = uniqueShas(objectRefs(lib.state(info.id)))
      let only: Set<string> | undefined
      if (inv !== undefined) {
        only = new Set(shas.filter(s => !(inv as Inventory).objects.has(s) && !placed.has(s)))
        if (mode === 'peer') for (const s of only) placed.add(s)
      }
      const plan = planExport(lib, info.id, { onlyObjects: only })
      const entries: TarEntry[] = [{ name: 'json', size: plan.json.length }]
      // pvcontrol checks that an `objects` folder exists: give it one when no object is sent.
      if (plan.objects.length === 0) entries.push({ name: 'objects/', size: 0 })
      for (const o of plan.objects) entries.push({ name: `objects/${o.sha}`, size: o.size })
      const tgzBytes = tgzSize(tarSize(entries))
      revisions.push({
        info,
        name: reuse.get(info.id) ?? names.get(info.id) as string,
        plan,
        objects: shas.map(s => ({ sha256: s, size: lib.objectSize(s) ?? 0 })),
        entries,
        tgzBytes,
        parts: Math.max(1, Math.ceil(tgzBytes / splitSize)),
      })
    }
    const free = await freeSpace(opts.dir).catch(() => ({ available: null, blockSize: 4096 }))
    const sizes: number[] = []
    for (const r of revisions) {
      for (let i = 0; i < r.parts; i++) sizes.push(Math.min(splitSize, r.tgzBytes - i * splitSize))
      sizes.push(r.objects.length * 65 + 1, r.plan.json.length)
    }
    const manifestGuess = 4096 + [...kept, ...revisions].length * 1024 + revisions.reduce((a, r) => a + r.objects.length * 120 + r.parts * 200, 0)
    sizes.push(INSTALL_SH.length, 8192, manifestGuess, manifestGuess) // install.sh, README, SHA256SUMS, manifest
    const tarballBytes = revisions.reduce((a, r) => a + r.tgzBytes, 0)
    return { mode, revisions, tarballBytes, neededBytes: onDiskBytes(sizes, free.blockSize), availableBytes: free.available, splitSize, existing }
  }

  async export (opts: UsbExportOptions): Promise<UsbExportResult> {
    const dir = opts.dir
    await checkWritable(dir)
    const plan = await this.plan(opts)
    assertFits(dir, plan.neededBytes, { available: plan.availableBytes, blockSize: 4096 },
      plan.mode === 'full' ? 'use a bigger stick, or send only what the target lacks (--for-device/--for-peer with its inventory)' : 'use a bigger stick or fewer revisions')
    await removeLeftovers(dir)
    const total = plan.tarballBytes * 2
    let written = 0
    let readBackBytes = 0
    const writers: PartedFileWriter[] = []
    const done: Array<{ r: PlannedRevision, parts: WrittenPart[] }> = []
    // Read back on another core while writing; without a worker, each part is read back after it.
    let readBack: ReadBackThread | undefined
    try { readBack = new ReadBackThread() } catch (err) { this.log('no read-back thread (%s): reading back after writing', (err as Error).message) }
    try {
      for (const r of plan.revisions) {
        if (opts.signal?.aborted === true) throw new AbortedError(`usb export to ${dir}: cancelled`)
        const file = tarballFile(r.name)
        const w = new PartedFileWriter(dir, file, {
          splitSize: plan.splitSize,
          signal: opts.signal,
          dropCache: opts.dropCache,
          readBack,
          onWritten: n => { written += n; opts.onProgress?.({ phase: 'write', bytes: written + readBackBytes, totalBytes: total, file }) },
          onReadBack: n => { readBackBytes += n; opts.onProgress?.({ phase: 'verify', bytes: written + readBackBytes, totalBytes: total, file }) },
        })
        writers.push(w)
        const parts = await this.writeTarball(r, w, opts.signal)
        const bytes = parts.reduce((a, p) => a + p.bytes, 0)
        if (bytes !== r.tgzBytes || parts.length !== r.parts) throw new InternalError(`${file}: wrote ${bytes} bytes in ${parts.length} part(s), planned ${r.tgzBytes} in ${r.parts}`)
        done.push({ r, parts })
      }
    } catch (err) {
      for (const w of writers) await w.abort()
      throw err
    } finally {
      await readBack?.stop()
    }
    return await this.commit(dir, plan, done, opts.signal)
  }

  private async writeTarball (r: PlannedRevision, w: PartedFileWriter, signal?: AbortSignal): Promise<WrittenPart[]> {
    const gz = new StoredGzipEncoder(async (b, crc) => { await w.write(b, crc) })
    const tw = new TgzWriter(gz)
    const objs = this.c.library.objects
    for (const e of r.entries) {
      if (e.name === 'json') {
        await tw.header(e)
        await tw.data(r.plan.json)
        await tw.padTo(e.size)
        continue
      }
      if (e.name === 'objects/') { await tw.header({ ...e, type: 'directory' }); continue }
      const sha = e.name.slice('objects/'.length)
      await tw.header(e)
      let n = 0
      for await (const chunk of objs.chunks(sha, signal)) {
        n += chunk.length
        if (n > e.size) break
        await tw.data(chunk)
      }
      if (n !== e.size) throw new ObjectMissingError(`object ${sha}: the library file has ${n > e.size ? 'more' : 'fewer'} bytes than the ${e.size} recorded; run fieldsync verify --repair`, { sha })
      await tw.padTo(e.size)
    }
    await tw.finish()
    return await w.finish()
  }

  private async commit (dir: string, plan: UsbPlan, done: Array<{ r: PlannedRevision, parts: WrittenPart[] }>, signal?: AbortSignal): Promise<UsbExportResult> {
    const moves: Array<{ tmp: string, final: string }> = []
    const revisions: StickRevision[] = []
    for (const { r, parts } of done) {
      const names = partFiles(r.name, parts.length)
      parts.forEach((p, i) => moves.push({ tmp: p.tmp, final: names[i] }))
      revisions.push({
        name: r.name,
        id: r.info.id,
        libraryNames: r.info.names,
        spec: r.info.spec,
        mode: plan.mode,
        tarball: tarballFile(r.name),
        parts: parts.map((p, i) => ({ path: names[i], bytes: p.bytes, sha256: p.sha256 })),
        bytes: r.tgzBytes,
        sha256: parts.length === 1 ? parts[0].sha256 : null,
        objectsFile: objectsFile(r.name),
        objects: r.objects,
        included: r.plan.objects.length,
        includedBytes: r.plan.objects.reduce((a, o) => a + o.size, 0),
      })
    }
    await commitFiles(dir, moves)
    // Files of revisions this export replaced that no longer belong (e.g. old parts).
    const replaced = (plan.existing?.revisions ?? []).filter(o => revisions.some(n => n.id === o.id || n.name === o.name))
    const now = new Set(revisions.flatMap(r => r.parts.map(p => p.path)))
    for (const old of replaced) for (const p of old.parts) if (!now.has(p.path)) await rm(join(dir, p.path), { force: true })
    const kept = (plan.existing?.revisions ?? []).filter(o => !replaced.includes(o))
    const all = [...kept, ...revisions]
    const files: StickFile[] = []
    for (const r of revisions) {
      const list = r.objects.map(o => o.sha256 + '\n').join('')
      files.push({ path: r.objectsFile, ...await writeSmallFile(dir, r.objectsFile, list, { signal }) })
      const json = done.find(d => d.r.name === r.name)?.r.plan.json as Uint8Array
      files.push({ path: `${r.name}.json`, ...await writeSmallFile(dir, `${r.name}.json`, json, { signal }) })
    }
    const keptFiles = (plan.existing?.files ?? []).filter(f => kept.some(k => f.path === k.objectsFile || f.path === `${k.name}.json`))
    const manifest: Manifest = { format: 'fieldsync-usb@1', createdAt: new Date().toISOString(), tool: 'fieldsync', revisions: all, files: [...keptFiles, ...files] }
    manifest.files.push({ path: SCRIPT_FILE, ...await writeSmallFile(dir, SCRIPT_FILE, INSTALL_SH, { signal, mode: 0o755 }) })
    manifest.files.push({ path: README_FILE, ...await writeSmallFile(dir, README_FILE, readmeText(manifest).replace(/\n/g, '\r\n'), { signal }) })
    const sums = await writeSmallFile(dir, SUMS_FILE, sumsText([...all.flatMap(r => r.parts), ...manifest.files]), { signal })
    manifest.files.push({ path: SUMS_FILE, ...sums })
    await writeSmallFile(dir, MANIFEST_FILE, JSON.stringify(manifest, null, 1) + '\n', { signal })
    this.log('exported %d revision(s) to %s', revisions.length, dir)
    return {
      dir,
      mode: plan.mode,
      revisions: revisions.map(r => ({ name: r.name, id: r.id, tarball: r.tarball, files: r.parts.map(p => p.path), bytes: r.bytes, objects: r.objects.length, included: r.included, includedBytes: r.includedBytes, sha256: r.sha256 })),
      bytes: plan.tarballBytes,
      neededBytes: plan.neededBytes,
      availableBytes: plan.availableBytes,
    }
  }
}

/** Remove temporary files an interrupted export left behind. */
export async function removeLeftovers (dir: string): Promise<string[]> {
  const gone: string[] = []
  for (const name of await readdir(dir)) {
    if (name.startsWith(TMP_PREFIX) && name.endsWith(TMP_SUFFIX)) {
      await rm(join(dir, name), { force: true })
      gone.push(name)
    }
  }
  return gone
}
