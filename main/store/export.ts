/**
 * Export of a revision as a pvr export tarball: `json` first (the original
 * bytes, or the filtered state in canonical form with `parts`), then each
 * object once as `objects/<sha>`. Deterministic: fixed header fields and a
 * fixed order, so the same revision always gives the same bytes. Written to a
 * temporary name beside the target, fsynced, then renamed.
 */
import { createWriteStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGzip, constants as zc } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import type tar from 'tar-stream'
import { AbortedError, IncompleteRevisionError } from '../../shared/errors.js'
import { canonicalBytes, filterParts, objectRefs, uniqueShas, type StateInput } from '../../shared/state/index.js'
import type { Library } from './library.js'

export interface ExportOptions {
  parts?: string[]
  /** gzip or not; default from the file name (.tgz, .gz). */
  gzip?: boolean
  /**
   * Deflate the gzip for real (gzip's default level) instead of writing it as
   * stored blocks (level 0). Off by default: objects are squashfs images,
   * already compressed, and deflate costs far more time than it saves;
   * pvr, `pvcontrol steps install` and every gzip reader take either form.
   */
  compress?: boolean
  /** Only these objects are written (the state still names them all); for USB --for-device. */
  onlyObjects?: ReadonlySet<string>
  /**
   * Objects the target already holds (a USB --for-device inventory): the
   * library may lack them, since they are not sent; any other missing object
   * still refuses the export.
   */
  heldByTarget?: ReadonlySet<string>
  signal?: AbortSignal
  onProgress?: (p: { bytes: number; totalBytes: number }) => void
}

export interface ExportPlan {
  json: Uint8Array
  objects: Array<{ sha: string; size: number }>
  bytes: number
}

export function isGzipName(file: string): boolean {
  return /\.(tgz|gz)$/i.test(file)
}

const FIXED = { mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), type: 'file' as const, linkname: '', devmajor: 0, devminor: 0 }

/** What an export would write: the json bytes and the objects, in order. */
export function planExport(lib: Library, id: string, opts: Pick<ExportOptions, 'parts' | 'onlyObjects' | 'heldByTarget'> = {}): ExportPlan {
  const info = lib.get(id)
  const state = lib.state(id)
  if (opts.parts !== undefined && opts.parts.length > 0) {
    const filtered = filterParts(state, opts.parts)
    return planStateExport(lib, { raw: canonicalBytes(filtered), state: filtered }, info?.name ?? id, opts)
  }
  return planStateExport(lib, { raw: state.raw, state }, info?.name ?? id, opts)
}

/** The same for a state that need not be in the library (a package composed onto what a device runs). */
export function planStateExport(
  lib: Library,
  s: { raw: Uint8Array; state: StateInput },
  label: string,
  opts: Pick<ExportOptions, 'onlyObjects' | 'heldByTarget'> = {},
): ExportPlan {
  const shas = uniqueShas(objectRefs(s.state))
  const held = opts.heldByTarget
  const missing = shas.filter(sha => !lib.isPresent(sha) && held?.has(sha) !== true)
  if (missing.length > 0) {
    throw new IncompleteRevisionError(
      `revision ${label}: ${missing.length} object(s) missing from the library${held === undefined ? '' : ' and not on the device'} (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); pull them from a peer or import them first`,
      { missing },
    )
  }
  const objects = shas
    // Not in the library: held by the target (checked above), so never sent.
    .filter(sha => (opts.onlyObjects === undefined || opts.onlyObjects.has(sha)) && lib.isPresent(sha))
    .map(sha => ({ sha, size: lib.objectSize(sha) ?? 0 }))
  return { json: s.raw, objects, bytes: s.raw.length + objects.reduce((a, o) => a + o.size, 0) }
}

/** Write the tarball; returns the bytes of the finished file. */
export async function exportRevision(
  lib: Library,
  id: string,
  file: string,
  opts: ExportOptions = {},
): Promise<{ file: string; bytes: number; objects: number }> {
  const plan = planExport(lib, id, opts)
  const gzip = opts.gzip ?? isGzipName(file)
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.part`)
  // Loaded here, not at start-up: only an export needs it.
  const { default: tar } = await import('tar-stream')
  const pack = tar.pack()
  const out = createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 })
  const stages: NodeJS.ReadWriteStream[] = gzip
    ? [createGzip({ level: opts.compress === true ? zc.Z_DEFAULT_COMPRESSION : zc.Z_NO_COMPRESSION, chunkSize: 1 << 20 })]
    : []
  const piping = (pipeline as (...s: unknown[]) => Promise<void>)(pack, ...stages, out)
  let done = 0
  try {
    await entry(pack, { ...FIXED, name: 'json', size: plan.json.length }, Buffer.from(plan.json))
    done += plan.json.length
    for (const o of plan.objects) {
      if (opts.signal?.aborted === true) throw new AbortedError(`export to ${file}: cancelled`)
      const w = pack.entry({ ...FIXED, name: `objects/${o.sha}`, size: o.size })
      for await (const chunk of lib.objects.read(o.sha, { signal: opts.signal })) {
        done += (chunk as Buffer).length
        opts.onProgress?.({ bytes: done, totalBytes: plan.bytes })
        if (!w.write(chunk)) await new Promise<void>(resolve => w.once('drain', resolve))
      }
      await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err != null ? reject(err) : resolve())))
    }
    pack.finalize()
    await piping
    const fh = await open(tmp, 'r+')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
    return { file, bytes: (await stat(file)).size, objects: plan.objects.length }
  } catch (err) {
    pack.destroy()
    await piping.catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, body, err => (err != null ? reject(err) : resolve())))
}
