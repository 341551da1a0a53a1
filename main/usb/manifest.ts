/**
 * The stick's manifest: which revisions it carries, in which files, with
 * sizes and sha256. Read from removable media, so validated field by field
 * before anything uses it (house rule 5).
 */
import { join } from 'node:path'
import { BadInputError, NotFoundError } from '../../shared/errors.js'
import { isSha256Hex } from '../../shared/ids.js'
import { isSafeFileName, MANIFEST_FILE, MANIFEST_FORMAT, MAX_SPLIT_SIZE, STICK_NAME_RE } from './layout.js'
import { capText, readSmallStickFile } from './stick-file.js'

export type StickMode = 'full' | 'device' | 'peer'

export interface StickFile {
  path: string
  bytes: number
  sha256: string
}

export interface StickRevision {
  /** Name on the stick and on the device (`locals/<name>`). */
  name: string
  id: string
  /** The library's names for it where it was exported. */
  libraryNames: string[]
  spec: string
  mode: StickMode
  /** `<name>.pvrexport.tgz` (split into `parts` when there are several). */
  tarball: string
  parts: StickFile[]
  /** Exact bytes of the tarball (all parts). */
  bytes: number
  /** sha256 of the whole tarball (equal to parts[0].sha256 when unsplit). */
  sha256: string | null
  /** `<name>.objects`: every object the state names, one sha256 per line. */
  objectsFile: string
  /** Every object the state names. */
  objects: Array<{ sha256: string; size: number }>
  /** Objects inside the tarball, and their bytes. */
  included: number
  includedBytes: number
  /** A package composed on the laptop onto the state a device ran (its inventory): install.sh checks the device still runs it. */
  onto?: StickOnto
}

export interface StickOnto {
  /** The device's revision name when the inventory was taken ('' when it did not tell). */
  revision: string
  /** sha256 of that state as install.sh reads it (pvcontrol steps get current). */
  stateSha256: string
  /** Revision id of that state. */
  stateId: string
  /** The package's revision id. */
  packageId: string
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT
  createdAt: string
  tool: string
  revisions: StickRevision[]
  /** The other files the manifest vouches for (install.sh, README.txt, *.objects, SHA256SUMS). */
  files: StickFile[]
}

/** The largest manifest read. */
export const MAX_MANIFEST = 64 << 20
/** The largest file other than a tarball part the manifest may list (install.sh, README.txt, SHA256SUMS, `<name>.objects`, `<name>.json`). */
export const MAX_SMALL_FILE = 64 << 20

/** Every file the manifest vouches for: tarball parts, then the other files. */
export function manifestFiles(m: Manifest): StickFile[] {
  return [...m.revisions.flatMap(r => r.parts), ...m.files]
}

export async function readManifest(dir: string, opts: { signal?: AbortSignal; optional?: boolean } = {}): Promise<Manifest | undefined> {
  const file = join(dir, MANIFEST_FILE)
  const got = await readSmallStickFile(file, MAX_MANIFEST, opts.signal)
  if (!Buffer.isBuffer(got)) {
    if (got.kind === 'missing') {
      if (opts.optional === true) return undefined
      throw new NotFoundError(`${dir}: no ${MANIFEST_FILE}; not a Fieldsync stick (or the export did not finish)`)
    }
    throw new BadInputError(
      `${got.message}${got.kind === 'too-large' ? ' (too large for a manifest)' : ''}; the stick is damaged or was altered: export again`,
      { file, problem: got.kind },
    )
  }
  const text = got.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new BadInputError(`${file}: not valid JSON (${(err as Error).message}); the stick may be damaged: run fieldsync usb verify`)
  }
  return validateManifest(json, file)
}

function fail(file: string, what: string): never {
  throw new BadInputError(`${file}: ${what}`)
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function checkFile(f: unknown, file: string, where: string, max: number): StickFile {
  const o = f as Record<string, unknown>
  if (typeof o !== 'object' || o === null) fail(file, `${where}: not an object`)
  if (typeof o.path !== 'string' || !isSafeFileName(o.path)) fail(file, `${where}.path: must be a plain file name`)
  if (!isCount(o.bytes)) fail(file, `${where}.bytes: must be a non-negative integer`)
  if (o.bytes > max) fail(file, `${where}.bytes: ${o.bytes} is over the ${capText(max)} cap for such a file`)
  if (typeof o.sha256 !== 'string' || !isSha256Hex(o.sha256)) fail(file, `${where}.sha256: must be 64 lowercase hex characters`)
  return { path: o.path, bytes: o.bytes, sha256: o.sha256 }
}

export function validateManifest(json: unknown, file: string): Manifest {
  const m = json as Record<string, unknown>
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail(file, 'not a JSON object')
  if (m.format !== MANIFEST_FORMAT) fail(file, `format ${JSON.stringify(m.format)}: this Fieldsync reads ${MANIFEST_FORMAT}`)
  if (!Array.isArray(m.revisions)) fail(file, 'revisions: must be an array')
  if (!Array.isArray(m.files)) fail(file, 'files: must be an array')
  const names = new Set<string>()
  const paths = new Set<string>()
  const seePath = (p: string, where: string) => {
    if (paths.has(p)) fail(file, `${where}: ${p} is listed twice`)
    paths.add(p)
  }
  const revisions = m.revisions.map((r0, i): StickRevision => {
    const r = r0 as Record<string, unknown>
    const w = `revisions[${i}]`
    if (typeof r !== 'object' || r === null) fail(file, `${w}: not an object`)
    if (typeof r.name !== 'string' || !STICK_NAME_RE.test(r.name)) fail(file, `${w}.name: letters, digits, . _ - only, at most 64`)
    if (names.has(r.name)) fail(file, `${w}.name: ${r.name} is listed twice`)
    names.add(r.name)
    if (typeof r.id !== 'string' || !isSha256Hex(r.id)) fail(file, `${w}.id: must be a revision id (64 hex)`)
    if (r.mode !== 'full' && r.mode !== 'device' && r.mode !== 'peer') fail(file, `${w}.mode: full, device or peer`)
    if (typeof r.tarball !== 'string' || !isSafeFileName(r.tarball)) fail(file, `${w}.tarball: must be a plain file name`)
    if (typeof r.objectsFile !== 'string' || !isSafeFileName(r.objectsFile)) fail(file, `${w}.objectsFile: must be a plain file name`)
    if (!Array.isArray(r.parts) || r.parts.length === 0) fail(file, `${w}.parts: at least one file`)
    const parts = r.parts.map((p, j) => checkFile(p, file, `${w}.parts[${j}]`, MAX_SPLIT_SIZE))
    for (const p of parts) seePath(p.path, `${w}.parts`)
    if (!isCount(r.bytes) || r.bytes !== parts.reduce((a, p) => a + p.bytes, 0)) fail(file, `${w}.bytes: must be the sum of the parts' bytes`)
    if (r.sha256 !== null && (typeof r.sha256 !== 'string' || !isSha256Hex(r.sha256))) fail(file, `${w}.sha256: 64 hex or null`)
    if (!Array.isArray(r.objects)) fail(file, `${w}.objects: must be an array`)
    const objects = r.objects.map((o0, j) => {
      const o = o0 as Record<string, unknown>
      if (typeof o !== 'object' || o === null || typeof o.sha256 !== 'string' || !isSha256Hex(o.sha256) || !isCount(o.size))
        fail(file, `${w}.objects[${j}]: {sha256, size}`)
      return { sha256: o.sha256, size: o.size }
    })
    if (!isCount(r.included) || !isCount(r.includedBytes)) fail(file, `${w}.included: counts`)
    let onto: StickOnto | undefined
    if (r.onto !== undefined) {
      const o = r.onto as Record<string, unknown>
      if (
        typeof o !== 'object' ||
        o === null ||
        typeof o.revision !== 'string' ||
        o.revision.length > 128 ||
        [o.stateSha256, o.stateId, o.packageId].some(v => typeof v !== 'string' || !isSha256Hex(v))
      ) {
        fail(file, `${w}.onto: {revision, stateSha256, stateId, packageId}`)
      }
      onto = { revision: o.revision, stateSha256: o.stateSha256 as string, stateId: o.stateId as string, packageId: o.packageId as string }
    }
    const libraryNames = Array.isArray(r.libraryNames) ? r.libraryNames.filter((x): x is string => typeof x === 'string') : []
    return {
      name: r.name,
      id: r.id,
      libraryNames,
      spec: typeof r.spec === 'string' ? r.spec : '',
      mode: r.mode,
      tarball: r.tarball,
      parts,
      bytes: r.bytes,
      sha256: r.sha256 as string | null,
      objectsFile: r.objectsFile,
      objects,
      included: r.included,
      includedBytes: r.includedBytes,
      ...(onto === undefined ? {} : { onto }),
    }
  })
  const files = m.files.map((f, i) => checkFile(f, file, `files[${i}]`, MAX_SMALL_FILE))
  for (const f of files) seePath(f.path, 'files')
  return {
    format: MANIFEST_FORMAT,
    createdAt: typeof m.createdAt === 'string' ? m.createdAt : '',
    tool: typeof m.tool === 'string' ? m.tool : '',
    revisions,
    files,
  }
}

/** The `sha256sum -c` text for these files (two spaces: text mode, as sha256sum writes). */
export function sumsText(files: readonly StickFile[]): string {
  return files.map(f => `${f.sha256}  ${f.path}\n`).join('')
}
