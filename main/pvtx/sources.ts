/**
 * Where the states and objects of a pvtx verb come from and go to: a file or
 * folder on disk, stdin, a library revision (a Fieldsync addition: `begin
 * <rev>`, `add <rev>` when no such file exists), an objects folder (local
 * transaction) or the device's pv-ctrl (remote transaction).
 */
import { readFile, stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { basename, join } from 'node:path'
import { BadArchiveError, BadInputError, IncompleteRevisionError } from '../../shared/errors.js'
import { readStateDoc } from '../../shared/state/compose.js'
import type { PvtxCtrl } from './ctrl.js'
import { ObjectsDir } from './objects.js'
import { readPackageFile, readPackageStream, sniffFile, type ObjectSink } from './package.js'

export interface LibraryRevision {
  name: string
  /** The stored state bytes. */
  raw: Uint8Array
  /** Its objects: the file holding each one in the library, or null when the library lacks it. */
  objects: Array<{ sha: string; size: number | null; file: string | null }>
}

/** The library as pvtx uses it (opened only when a name is not a file). */
export interface LibrarySource {
  find: (ref: string) => Promise<LibraryRevision | null>
}

export interface LoadedPackage {
  label: string
  json: Uint8Array
  objects: number
}

async function kindOf(path: string): Promise<'file' | 'dir' | null> {
  try {
    const st = await stat(path)
    return st.isDirectory() ? 'dir' : 'file'
  } catch {
    return null
  }
}

/** A state file, or a folder holding `json` or `.pvr/json` (upstream find_json); null when there is none. */
export async function stateFileAt(path: string): Promise<string | null> {
  const k = await kindOf(path)
  if (k === 'file') return path
  if (k === 'dir') {
    for (const f of ['json', '.pvr/json']) if ((await kindOf(join(path, f))) === 'file') return join(path, f)
  }
  return null
}

/**
 * A sink that uploads objects to the device (what the device holds already
 * is not sent again); it connects on the first object, so a package without
 * objects needs no device.
 */
export function ctrlSink(connect: () => Promise<PvtxCtrl>, signal?: AbortSignal): ObjectSink & { uploaded: number } {
  let have: Promise<Set<string>> | undefined
  const sink = {
    uploaded: 0,
    async put(sha: string, size: number, body: AsyncIterable<Uint8Array>) {
      const ctrl = await connect()
      have ??= ctrl.listObjects(signal)
      if ((await have).has(sha)) {
        for await (const _ of body) {
          /* already there */
        }
        return
      }
      await ctrl.putObject(sha, size, body, signal)
      ;(await have).add(sha)
      sink.uploaded++
    },
  }
  return sink
}

/** Read a package from a path (tar of any kind, or a bare state JSON), stdin (`-`), or a library revision. */
export async function loadPackage(
  what: string,
  opts: {
    sink: ObjectSink
    stdin: () => AsyncIterable<Uint8Array>
    library: () => Promise<LibrarySource | null>
    local: ObjectsDir | null
    signal?: AbortSignal
  },
): Promise<LoadedPackage> {
  if (what.startsWith('-')) {
    const r = await readPackageStream(opts.stdin(), 'auto', opts.sink, { source: 'stdin', signal: opts.signal })
    if (r.json === null) throw new BadArchiveError("stdin: the archive has no 'json' entry: not a package (a pvr export)")
    return { label: 'stdin', json: r.json, objects: r.objects.length }
  }
  const k = await kindOf(what)
  if (k === 'file') {
    const fmt = await sniffFile(what)
    if (fmt === null) {
      const json = new Uint8Array(await readFile(what))
      readStateDoc(json, what)
      return { label: basename(what), json, objects: 0 }
    }
    const r = await readPackageFile(what, fmt, opts.sink, { signal: opts.signal })
    if (r.json === null) throw new BadArchiveError(`${what}: the archive has no 'json' entry: not a package (a pvr export)`)
    return { label: basename(what), json: r.json, objects: r.objects.length }
  }
  if (k === 'dir') {
    const f = await stateFileAt(what)
    if (f === null) throw new BadInputError(`${what}: a folder without a 'json' or '.pvr/json' file`)
    return { label: basename(what), json: new Uint8Array(await readFile(f)), objects: 0 }
  }
  const lib = await opts.library()
  const rev = lib === null ? null : await lib.find(what)
  if (rev === null) throw new BadInputError(`${what}: no such file, and no library revision of that name or id`)
  const missing = rev.objects.filter(o => o.file === null)
  if (missing.length > 0) {
    throw new IncompleteRevisionError(`revision ${rev.name} is incomplete: ${missing.length} object(s) missing from the library (pull or import them first)`, {
      missing: missing.map(o => o.sha),
    })
  }
  for (const o of rev.objects) {
    const file = o.file as string
    if (opts.local !== null) await opts.local.putFile(o.sha, file)
    else {
      const size = o.size ?? (await stat(file)).size
      await opts.sink.put(o.sha, size, createReadStream(file, { highWaterMark: 1 << 20 }), `library object ${o.sha}`)
    }
  }
  return { label: rev.name, json: rev.raw, objects: rev.objects.length }
}
