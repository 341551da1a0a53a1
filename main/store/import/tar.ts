/**
 * Reading pvr export tarballs (plain or gzip, detected by content) as a
 * stream: the `json` entry first (as pvr writes it), then the
 * `objects/<sha256>` entries the state names are hashed into the store as
 * they pass, duplicates tolerated. Every entry is checked before anything is
 * written (house rule 5), and an object the state does not name is skipped
 * without writing a byte. An archive whose json comes after objects is read
 * twice: once to find the state, once for the objects.
 *
 * Limits (ImportLimits): a gzip archive may not expand to more than
 * `maxExpansion` times the bytes read of it once `freeBytes` have come out
 * (a decompression bomb is refused within a second, before it fills the
 * disk); exactly one `json` entry.
 */
import { createReadStream } from 'node:fs'
import { Transform, type Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import type tar from 'tar-stream'
import { AbortedError, BadArchiveError, BadObjectNameError, StateTooLargeError, UnsafeEntryError } from '../../../shared/errors.js'
import { isSha256Hex } from '../../../shared/hex.js'
import { STATE_MAX_BYTES } from '../../../shared/state/parse.js'
import type { ObjectStore } from '../objects.js'
import { archiveError } from './archive-error.js'

export interface TarReadResult {
  json: Uint8Array
  /** Objects of the state met in the archive (verified), with sizes. */
  objects: Map<string, number>
  /** Objects this read wrote into the store (were not there before). */
  written: Set<string>
  /** Object entries the state does not name: skipped, never written. */
  skipped: { entries: number; bytes: number }
}

export interface TarReadOptions {
  /** How messages name the archive (the user's file, not a temporary copy). */
  label: string
  signal?: AbortSignal
  onProgress?: ProgressFn
  totalBytes: number
  /** The gzip expansion limit (default ImportLimits.maxExpansion; 0: no limit; EnvSettings.maxExpansion). */
  maxExpansion?: number
  /**
   * The json entry's bytes, as soon as they are read and before any object:
   * returns the shas the state names (and takes them, leases.ts); throws to
   * refuse the archive.
   */
  onState: (json: Uint8Array) => ReadonlySet<string>
  /** After a failure: remove the objects this read put into the store. */
  discard: (shas: ReadonlySet<string>) => void | Promise<void>
}

/** Limits on what an archive may make an import do. */
export const ImportLimits = {
  /** Decompressed bytes may reach this many times the compressed bytes read by default (TarReadOptions.maxExpansion; 0: no limit)... */
  maxExpansion: 100,
  /** ...once this many bytes have come out (smaller archives are never refused for it). */
  freeBytes: 64 << 20,
}

export interface ProgressFn {
  (p: { bytes: number; totalBytes: number }): void
}

/** Normalise and check an entry name; throws for anything that could escape. */
export function safeEntryName(name: string, archive: string): string {
  let n = name
  while (n.startsWith('./')) n = n.slice(2)
  if (n.startsWith('/') || /^[A-Za-z]:[\\/]/.test(n))
    throw new UnsafeEntryError(`${archive}: entry ${JSON.stringify(name)} has an absolute path`, { entry: name })
  if (n.split(/[\\/]/).some(p => p === '..'))
    throw new UnsafeEntryError(`${archive}: entry ${JSON.stringify(name)} escapes the archive with '..'`, { entry: name })
  if (n.includes('\0')) throw new UnsafeEntryError(`${archive}: entry name contains a NUL byte`, { entry: name })
  return n
}

async function peek(file: string): Promise<Buffer> {
  const s = createReadStream(file, { start: 0, end: 511 })
  const chunks: Buffer[] = []
  for await (const c of s) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export type FileKind = 'gzip' | 'bzip2' | 'tar' | 'json' | 'unknown'

export async function sniffFile(file: string): Promise<FileKind> {
  const head = await peek(file)
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2'
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar'
  const text = head
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
  if (text.startsWith('{')) return 'json'
  // An old-style (v7) tar header: a name, then octal fields; accept when the checksum holds.
  if (head.length === 512 && tarChecksumOk(head)) return 'tar'
  return 'unknown'
}

function tarChecksumOk(h: Buffer): boolean {
  const stored = parseInt(
    h
      .subarray(148, 156)
      .toString('latin1')
      .replace(/[\0 ]+$/, '')
      .trim(),
    8,
  )
  if (!Number.isFinite(stored)) return false
  let sum = 0
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]
  return sum === stored && sum !== 256
}

export async function readExportTarball(file: string, store: ObjectStore, opts: TarReadOptions): Promise<TarReadResult> {
  const kind = await sniffFile(file)
  const label = opts.label
  if (kind === 'bzip2')
    throw new BadArchiveError(`${label}: bzip2-compressed tarballs are not supported; recompress it with gzip (bunzip2 then gzip) and import again`)
  if (kind !== 'gzip' && kind !== 'tar') throw new BadArchiveError(`${label}: not a tar or gzip tar archive (nor a state JSON)`)
  const first = await readObjects(file, kind, store, opts, undefined)
  if (first !== 'json-late') return first
  // Objects came before the json: find the state first, so that nothing it does not name is written.
  const json = await findJson(file, kind, opts)
  return (await readObjects(file, kind, store, opts, { json, named: opts.onState(json) })) as TarReadResult
}

/** One entry of the archive as tar-stream gives it. */
type Entry = tar.Extract extends AsyncIterable<infer T> ? T : never

type Visit = (entry: Entry, name: string, h: tar.Header) => Promise<'stop' | undefined>

/** Stream the archive's entries through `visit` (checked names and types); true when `visit` stopped early. */
async function walk(file: string, kind: 'gzip' | 'tar', opts: TarReadOptions, visit: Visit): Promise<boolean> {
  const label = opts.label
  let read = 0
  let out = 0
  let bomb: Error | undefined
  const maxExpansion = opts.maxExpansion ?? ImportLimits.maxExpansion
  const counter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length
      opts.onProgress?.({ bytes: read, totalBytes: opts.totalBytes })
      cb(null, chunk)
    },
  })
  const guard = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      out += chunk.length
      // What gunzip has consumed, not what was read ahead of it into buffers.
      const used = gunzip?.bytesWritten ?? read
      if (maxExpansion > 0 && out > ImportLimits.freeBytes && out > maxExpansion * used) {
        cb(
          (bomb = new BadArchiveError(
            `${label}: expands to ${formatMiB(out)} from ${formatMiB(used)} of gzip data so far, more than ${maxExpansion} times: refused as a decompression bomb (a pvr export of squashfs images barely shrinks; FIELDSYNC_MAX_EXPANSION changes the limit)`,
            { limit: maxExpansion, bytesIn: used, bytesOut: out },
          )),
        )
        return
      }
      cb(null, chunk)
    },
  })
  const gunzip = kind === 'gzip' ? createGunzip({ chunkSize: 1 << 20 }) : undefined
  // Loaded here, not at start-up: only a tarball import needs it.
  const { default: tarStream } = await import('tar-stream')
  const extract = tarStream.extract()
  const src = createReadStream(file, { highWaterMark: 1 << 20, signal: opts.signal })
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [src, counter]
  if (gunzip !== undefined) stages.push(gunzip, guard)
  let stopped = false
  const piping = pipeline([...stages, extract] as unknown as [Readable, ...NodeJS.WritableStream[]]).catch((err: unknown) => {
    if (stopped) return
    throw wrapArchiveError(err, label)
  })
  // Observed below; when an entry's consumer fails (a full disk), the pipeline
  // rejects while the loop is still unwinding, before that await is reached.
  piping.catch(() => {})
  try {
    for await (const entry of extract) {
      if (opts.signal?.aborted === true) throw new AbortedError(`${label}: import cancelled`)
      const h = entry.header
      const name = safeEntryName(h.name, label)
      if (h.type === 'directory') {
        entry.resume()
        continue
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        throw new UnsafeEntryError(`${label}: entry ${JSON.stringify(h.name)} is a ${h.type ?? 'special file'}; an export tarball holds only regular files`, {
          entry: h.name,
          type: h.type,
        })
      }
      if ((await visit(entry, name, h)) === 'stop') {
        stopped = true
        break
      }
    }
    if (stopped) {
      extract.destroy()
      await piping.catch(() => {})
      return true
    }
    await piping
    return false
  } catch (err) {
    extract.destroy()
    let pipeErr: unknown
    await piping.catch((e: unknown) => {
      pipeErr = e
    })
    // When the expansion guard refused, it is the cause; the loop may only have seen the stream end early.
    // When the pipeline failed first (gzip cut short), the loop sees only its own stream destroyed: the
    // pipeline's error is the one that says what happened.
    const destroyed = /destroyed|premature close/i.test((err as Error | undefined)?.message ?? '')
    throw wrapArchiveError(bomb ?? (destroyed && pipeErr !== undefined ? pipeErr : err), label)
  }
}

async function readJsonEntry(entry: Entry, h: tar.Header, label: string): Promise<Uint8Array> {
  if ((h.size ?? 0) > STATE_MAX_BYTES) throw new StateTooLargeError(`${label}: json entry is ${h.size} bytes, over the ${STATE_MAX_BYTES}-byte cap for a state`)
  const chunks: Buffer[] = []
  for await (const c of entry) chunks.push(c as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

function twoJson(label: string): Error {
  return new BadArchiveError(`${label}: two 'json' entries: which state is meant is not clear, so the archive is refused (a pvr export has one)`)
}

/** The one json entry of an archive whose objects come first (nothing is written). */
async function findJson(file: string, kind: 'gzip' | 'tar', opts: TarReadOptions): Promise<Uint8Array> {
  let json: Uint8Array | undefined
  await walk(file, kind, opts, async (entry, name, h) => {
    if (name === 'json') {
      if (json !== undefined) throw twoJson(opts.label)
      json = await readJsonEntry(entry, h, opts.label)
    } else {
      if (name.startsWith('objects/')) checkObjectName(name, h, opts.label)
      entry.resume()
    }
    return undefined
  })
  if (json === undefined) throw new BadArchiveError(`${opts.label}: no 'json' entry: not a pvr export tarball`)
  return json
}

function checkObjectName(name: string, h: tar.Header, label: string): string {
  const sha = name.slice('objects/'.length)
  if (!isSha256Hex(sha))
    throw new BadObjectNameError(`${label}: entry ${JSON.stringify(h.name)}: an object's name must be its sha256 (64 lowercase hex characters)`, {
      entry: h.name,
    })
  return sha
}

/**
 * Take the objects the state names into the store. Without `known`, the
 * json entry must come before any object ('json-late' otherwise, with
 * nothing written); with it (the second read), the json met must be the same.
 */
async function readObjects(
  file: string,
  kind: 'gzip' | 'tar',
  store: ObjectStore,
  opts: TarReadOptions,
  known: { json: Uint8Array; named: ReadonlySet<string> } | undefined,
): Promise<TarReadResult | 'json-late'> {
  const label = opts.label
  const result: TarReadResult = { json: known?.json ?? new Uint8Array(0), objects: new Map(), written: new Set(), skipped: { entries: 0, bytes: 0 } }
  let named = known?.named
  let sawJson = false
  let late = false
  const persisting = new Map<string, Promise<unknown>>()
  try {
    await walk(file, kind, opts, async (entry, name, h) => {
      if (name === 'json') {
        if (sawJson) throw twoJson(label)
        sawJson = true
        const json = await readJsonEntry(entry, h, label)
        if (known !== undefined) {
          if (!Buffer.from(json).equals(Buffer.from(known.json)))
            throw new BadArchiveError(`${label}: the json entry changed between two reads of the archive (is it being written?)`)
        } else {
          result.json = json
          named = opts.onState(json)
        }
        return undefined
      }
      if (name.startsWith('objects/')) {
        const sha = checkObjectName(name, h, label)
        if (named === undefined) {
          late = true
          return 'stop'
        }
        if (!named.has(sha)) {
          // Not an object of this revision: not ours to write.
          result.skipped.entries++
          result.skipped.bytes += h.size ?? 0
          entry.resume()
          return undefined
        }
        if (persisting.has(sha)) await persisting.get(sha) // a duplicate entry: let the first copy land
        const put = await store.putVerified(sha, entry as unknown as AsyncIterable<Uint8Array>, {
          source: `${label}: entry ${h.name}`,
          signal: opts.signal,
          size: h.size,
        })
        result.objects.set(sha, put.size)
        if (!put.existed) {
          result.written.add(sha)
          // fsync + rename while the next entry streams in
          const p = put.persist()
          p.catch(() => {})
          persisting.set(sha, p)
        }
        return undefined
      }
      entry.resume() // another regular file (e.g. a README): not ours, skip it
      return undefined
    })
    await Promise.all(persisting.values())
    if (late) return 'json-late'
    if (!sawJson) throw new BadArchiveError(`${label}: no 'json' entry: not a pvr export tarball`)
  } catch (err) {
    await Promise.allSettled(persisting.values())
    // Leave the store as it was: drop what this read added.
    await opts.discard(result.written)
    throw err
  }
  return result
}

function formatMiB(n: number): string {
  return `${(n / (1 << 20)).toFixed(0)} MiB`
}

function wrapArchiveError(err: unknown, file: string): unknown {
  if ((err as Error | undefined)?.name === 'AbortError') return new AbortedError(`${file}: import cancelled`)
  return archiveError(err, file)
}
