/**
 * Import of a revision from a path: export tarball (plain or gzip), pvr
 * checkout, `json` + `objects/` directory, or a bare state JSON. All or
 * nothing: on any error no revision is recorded and objects this import added
 * are removed again, unless another writer relies on them.
 *
 * An import runs under a shared lease on the home (leases.ts): a gc waits
 * for it. Every object of the state is held before the import looks whether
 * the pool has it, so that another import's rollback cannot take it away.
 */
import { readFile, stat } from 'node:fs/promises'
import { AbortedError, BadInputError, BugError, ObjectHashMismatchError, StateTooLargeError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { objectRefs } from '../../../shared/state/objects.js'
import { parseState, STATE_MAX_BYTES } from '../../../shared/state/parse.js'
import type { ParsedState } from '../../../shared/state/types.js'
import type { Library } from '../library.js'
import type { Lease, LeaseHolder } from '../leases.js'
import type { ProgressFn } from './tar.js'
import { directorySource, findObjectFile, type StateSource } from './sources.js'

export interface ImportOptions {
  name?: string
  /** Without `name`: a name for the revision if it has none yet and no other revision holds it (see nameFromFileName). */
  suggestedName?: string
  /** Extra directory of `<sha>` files (for a bare state JSON or to override). */
  objectsDir?: string
  /** Recorded as the revision's source (default: the path). */
  source?: string
  /**
   * How messages name the input when `path` is a temporary copy (a stick's
   * joined parts, a browser upload): the user's file. Default: the path.
   */
  label?: string
  signal?: AbortSignal
  onProgress?: ProgressFn
  /** Called once if the import has to wait for a gc or verify --repair in another process. */
  onWait?: (holder: LeaseHolder, waitMs: number) => void
}

export interface ImportResult {
  id: string
  name: string | undefined
  /** Unique objects the revision references. */
  objects: number
  /** Shas still missing (revision incomplete when non-empty). */
  missing: string[]
  /** Sum of the sizes of its objects that are present. */
  bytes: number
  /** True when the revision was already in the library (nothing changed but maybe a name). */
  existed: boolean
  /** Bytes of objects newly written to the store. */
  newBytes: number
}

export interface ImporterOptions {
  /** The gzip expansion limit (EnvSettings.maxExpansion; default ImportLimits.maxExpansion). */
  maxExpansion?: number
  /** Where pvr keeps objects outside a checkout (EnvSettings.pvrObjectDirs; default none). */
  pvrObjectDirs?: readonly string[]
}

export class Importer {
  private readonly log: Logger
  private loading: Promise<typeof import('./tar.js') & typeof import('../../../shared/state/validate.js')> | undefined

  constructor(
    private readonly components: { library: Library; log: Logger },
    private readonly opts: ImporterOptions = {},
  ) {
    this.log = components.log.child('import')
  }

  /** The tar reader and the state rules, loaded by the first import: a command that imports nothing (`ls`) starts without them. */
  private async tools(): Promise<typeof import('./tar.js') & typeof import('../../../shared/state/validate.js')> {
    this.loading ??= Promise.all([import('./tar.js'), import('../../../shared/state/validate.js')]).then(([tar, validate]) => ({ ...tar, ...validate }))
    return await this.loading
  }

  async importPath(path: string, opts: ImportOptions = {}): Promise<ImportResult> {
    const label = opts.label ?? path
    let st
    try {
      st = await stat(path)
    } catch (err) {
      throw new BadInputError(`${label}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`)
    }
    if (!st.isDirectory() && !st.isFile()) throw new BadInputError(`${label}: not a file or directory`)
    const lease = await this.components.library.lease('shared', `import ${label}`, { signal: opts.signal, onWait: opts.onWait })
    try {
      if (st.isDirectory()) return await this.importFromSource(await directorySource(path, opts.objectsDir, this.opts.pvrObjectDirs ?? []), opts, label, lease)
      const kind = await (await this.tools()).sniffFile(path)
      if (kind === 'json')
        return await this.importFromSource(
          { kind: 'json', stateFile: path, objectDirs: opts.objectsDir === undefined ? [] : [opts.objectsDir] },
          opts,
          label,
          lease,
        )
      return await this.importTarball(path, st.size, opts, label, lease)
    } finally {
      lease.release()
    }
  }

  private async importTarball(file: string, size: number, opts: ImportOptions, label: string, lease: Lease): Promise<ImportResult> {
    const lib = this.components.library
    let parsed: ParsedState | undefined
    const { readExportTarball, assertValidState } = await this.tools()
    const read = await readExportTarball(file, lib.objects, {
      label,
      signal: opts.signal,
      onProgress: opts.onProgress,
      totalBytes: size,
      maxExpansion: this.opts.maxExpansion,
      onState: json => {
        parsed = parseState(json, `${label}: json entry`)
        assertValidState(parsed, `${label}: json entry`)
        const named = new Set(objectRefs(parsed).map(r => r.sha))
        lease.hold(named)
        return named
      },
      discard: shas => {
        lib.discardWritten(lease, shas)
      },
    })
    try {
      if (parsed === undefined) throw new BugError('the state was not read')
      const refs = objectRefs(parsed)
      const present = new Map<string, number>()
      for (const r of refs) {
        const inTar = read.objects.get(r.sha)
        if (inTar !== undefined) present.set(r.sha, inTar)
        else if (!lib.isPresent(r.sha)) {
          const onDisk = await lib.objects.size(r.sha)
          if (onDisk !== undefined) present.set(r.sha, onDisk)
        }
      }
      if (opts.signal?.aborted === true) throw new AbortedError(`${label}: import cancelled`)
      const res = lib.addRevision({ raw: parsed.raw, parsed, name: opts.name, suggestedName: opts.suggestedName, source: opts.source ?? label, present })
      this.log('imported %s from %s (%d objects written, %d entries the state does not name skipped)', res.id, label, read.written.size, read.skipped.entries)
      let newBytes = 0
      for (const sha of read.written) newBytes += read.objects.get(sha) ?? 0
      return this.result(res.id, res.name, res.existed, newBytes)
    } catch (err) {
      lib.discardWritten(lease, read.written)
      throw err
    }
  }

  private async importFromSource(src: StateSource, opts: ImportOptions, label: string, lease: Lease): Promise<ImportResult> {
    const lib = this.components.library
    const st = await stat(src.stateFile)
    if (st.size > STATE_MAX_BYTES) throw new StateTooLargeError(`${src.stateFile}: ${st.size} bytes, over the ${STATE_MAX_BYTES}-byte cap for a state`)
    const raw = new Uint8Array(await readFile(src.stateFile))
    const parsed = parseState(raw, src.stateFile)
    const { assertValidState } = await this.tools()
    assertValidState(parsed, src.stateFile)
    const refs = objectRefs(parsed)
    const keysBySha = new Map<string, string[]>()
    for (const r of refs) keysBySha.set(r.sha, [...(keysBySha.get(r.sha) ?? []), r.key])
    lease.hold(keysBySha.keys())
    const present = new Map<string, number>()
    const written: string[] = []
    let newBytes = 0
    const total = [...keysBySha.keys()].length
    let done = 0
    try {
      for (const [sha, keys] of keysBySha) {
        if (opts.signal?.aborted === true) throw new AbortedError(`${label}: import cancelled`)
        done++
        opts.onProgress?.({ bytes: done, totalBytes: total })
        if (lib.isPresent(sha)) continue
        const onDisk = await lib.objects.size(sha)
        if (onDisk !== undefined) {
          present.set(sha, onDisk)
          continue
        }
        const candidates = await findObjectFile(src, sha, keys)
        let lastErr: unknown
        for (const file of candidates) {
          try {
            const put = await lib.objects.putFile(sha, file, { source: file, signal: opts.signal })
            present.set(sha, put.size)
            if (!put.existed) {
              written.push(sha)
              newBytes += put.size
            }
            lastErr = undefined
            break
          } catch (err) {
            lastErr = err
            if (!(err instanceof ObjectHashMismatchError)) throw err
          }
        }
        if (lastErr !== undefined) throw lastErr
      }
      const res = lib.addRevision({ raw, parsed, name: opts.name, suggestedName: opts.suggestedName, source: opts.source ?? label, present })
      this.log('imported %s from %s (%d objects written)', res.id, label, written.length)
      return this.result(res.id, res.name, res.existed, newBytes)
    } catch (err) {
      lib.discardWritten(lease, written)
      throw err
    }
  }

  private result(id: string, name: string | undefined, existed: boolean, newBytes: number): ImportResult {
    const info = this.components.library.get(id)
    if (info === undefined) throw new BugError(`revision ${id} vanished`)
    return { id, name: name ?? info.names[0], objects: info.objects, missing: this.components.library.missing(id), bytes: info.bytes, existed, newBytes }
  }
}
