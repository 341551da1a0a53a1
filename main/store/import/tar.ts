/**
 * Reading pvr export tarballs (plain or gzip, detected by content) as a
 * stream: `json` anywhere in the archive, `objects/<sha256>` entries hashed
 * into the store as they pass, duplicates tolerated. Every entry is checked
 * before anything is written (house rule 5).
 */
import { createReadStream } from 'node:fs'
import { Transform, type Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import { AbortedError, BadArchiveError, BadObjectNameError, StateTooLargeError, UnsafeEntryError } from '../../../shared/errors.js'
import { isSha256Hex } from '../../../shared/ids.js'
import { STATE_MAX_BYTES } from '../../../shared/state/index.js'
import type { ObjectStore } from '../objects.js'

export interface TarReadResult {
  json: Uint8Array
  /** Objects met in the archive (verified), with sizes. */
  objects: Map<string, number>
  /** Objects this read wrote into the store (were not there before). */
  written: Set<string>
}

export interface ProgressFn { (p: { bytes: number, totalBytes: number }): void }

/** Normalise and check an entry name; throws for anything that could escape. */
export function safeEntryName (name: string, archive: string): string {
  let n = name
  while (n.startsWith('./')) n = n.slice(2)
  if (n.startsWith('/') || /^[A-Za-z]:[\\/]/.test(n)) throw new UnsafeEntryError(`${archive}: entry ${JSON.stringify(name)} has an absolute path`, { entry: name })
  if (n.split(/[\\/]/).some(p => p === '..')) throw new UnsafeEntryError(`${archive}: entry ${JSON.stringify(name)} escapes the archive with '..'`, { entry: name })
  if (n.includes('\0')) throw new UnsafeEntryError(`${archive}: entry name contains a NUL byte`, { entry: name })
  return n
}

async function peek (file: string): Promise<Buffer> {
  const s = createReadStream(file, { start: 0, end: 511 })
  const chunks: Buffer[] = []
  for await (const c of s) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export type FileKind = 'gzip' | 'bzip2' | 'tar' | 'json' | 'unknown'

export async function sniffFile (file: string): Promise<FileKind> {
  const head = await peek(file)
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2'
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar'
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart()
  if (text.startsWith('{')) return 'json'
  // An old-style (v7) tar header: a name, then octal fields; accept when the checksum holds.
  if (head.length === 512 && tarChecksumOk(head)) return 'tar'
  return 'unknown'
}

function tarChecksumOk (h: Buffer): boolean {
  const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim(), 8)
  if (!Number.isFinite(stored)) return false
  let sum = 0
  for (let i = 0; i < 512; i++) sum += (i >= 148 && i < 156) ? 32 : h[i]
  return sum === stored && sum !== 256
}

export interface TarReadOptions {
  signal?: AbortSignal
  onProgress?: ProgressFn
  totalBytes: number
  /** The json entry's bytes, as soon as they are read (the importer holds the objects it names, leases.ts). */
  onState?: (json: Uint8Array) => void
  /** After a failure: remove the objects this read put into the store (default: remove them all). */
  discard?: (shas: ReadonlySet<string>) => void | Promise<void>
}

export async function readExportTarball (file: string, store: ObjectStore, opts: TarReadOptions): Promise<TarReadResult> {
  const discard = opts.discard ?? (async (shas: ReadonlySet<string>) => { for (const sha of shas) await store.remove(sha) })
  const kind = await sniffFile(file)
  if (kind === 'bzip2') throw new BadArchiveError(`${file}: bzip2-compressed tarballs are not supported; recompress it with gzip (bunzip2 then gzip) and import again`)
  if (kind !== 'gzip' && kind !== 'tar') throw new BadArchiveError(`${file}: not a tar or gzip tar archive (nor a state JSON)`)
  const result: TarReadResult = { json: new Uint8Array(0), objects: new Map(), written: new Set() }
  let sawJson = false
  let read = 0
  const persisting = new Map<string, Promise<unknown>>()
  const counter = new Transform({
    highWaterMark: 1 << 20,
    transform (chunk: Buffer, _enc, cb) {
      read += chunk.length
      opts.onProgress?.({ bytes: read, totalBytes: opts.totalBytes })
      cb(null, chunk)
    },
  })
  const extract = tar.extract()
  const src = createReadStream(file, { highWaterMark: 1 << 20, signal: opts.signal })
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [src, counter]
  if (kind === 'gzip') stages.push(createGunzip({ chunkSize: 1 << 20 }))
  const piping = pipeline([...stages, extract] as unknown as [Readable, ...NodeJS.WritableStream[]]).catch((err: unknown) => { throw wrapArchiveError(err, file) })
  // Observed below; when an entry's consumer fails (a full disk), the pipeline
  // rejects while the loop is still unwinding, before that await is reached.
  piping.catch(() => {})
  try {
    for await (const entry of extract) {
      if (opts.signal?.aborted === true) throw new AbortedError(`${file}: import cancelled`)
      const h = entry.header
      const name = safeEntryName(h.name, file)
      if (h.type === 'directory') { entry.resume(); continue }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        throw new UnsafeEntryError(`${file}: entry ${JSON.stringify(h.name)} is a ${h.type ?? 'special file'}; an export tarball holds only regular files`, { entry: h.name, type: h.type })
      }
      if (name === 'json') {
        if ((h.size ?? 0) > STATE_MAX_BYTES) throw new StateTooLargeError(`${file}: json entry is ${h.size} bytes, over the ${STATE_MAX_BYTES}-byte cap for a state`)
        const chunks: Buffer[] = []
        for await (const c of entry) chunks.push(c as Buffer)
        result.json = new Uint8Array(Buffer.concat(chunks))
        sawJson = true
        opts.onState?.(result.json)
        continue
      }
      if (name.startsWith('objects/')) {
        const sha = name.slice('objects/'.length)
        if (!isSha256Hex(sha)) throw new BadObjectNameError(`${file}: entry ${JSON.stringify(h.name)}: an object's name must be its sha256 (64 lowercase hex characters)`, { entry: h.name })
        if (persisting.has(sha)) await persisting.get(sha) // a duplicate entry: let the first copy land
        const put = await store.putVerified(sha, entry as unknown as AsyncIterable<Uint8Array>, { source: `${file}: entry ${h.name}`, signal: opts.signal, size: h.size })
        result.objects.set(sha, put.size)
        if (!put.existed) {
          result.written.add(sha)
          // fsync + rename while the next entry streams in
          const p = put.persist()
          p.catch(() => {})
          persisting.set(sha, p)
        }
        continue
      }
      entry.resume() // another regular file (e.g. a README): not ours, skip it
    }
    await piping
    await Promise.all(persisting.values())
  } catch (err) {
    extract.destroy()
    await piping.catch(() => {})
    await Promise.allSettled(persisting.values())
    // Leave the store as it was: drop what this read added.
    await discard(result.written)
    throw wrapArchiveError(err, file)
  }
  if (!sawJson) {
    await discard(result.written)
    throw new BadArchiveError(`${file}: no 'json' entry: not a pvr export tarball`)
  }
  return result
}

function wrapArchiveError (err: unknown, file: string): unknown {
  if (err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string' && (err as { code: string }).code.startsWith('E_')) return err
  const e = err as NodeJS.ErrnoException
  if (e?.name === 'AbortError') return new AbortedError(`${file}: import cancelled`)
  if (e?.code === 'Z_DATA_ERROR' || e?.code === 'Z_BUF_ERROR' || e?.code === 'Z_STREAM_ERROR') return new BadArchiveError(`${file}: corrupt gzip data (${e.message})`)
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') return err
  if (e?.code === 'ENOSPC') return err
  if (e instanceof Error && /unexpected end|truncated|Invalid tar header|premature/i.test(e.message)) return new BadArchiveError(`${file}: truncated or corrupt tar archive (${e.message})`)
  if (e instanceof Error && /tar/i.test(e.message)) return new BadArchiveError(`${file}: corrupt tar archive (${e.message})`)
  return err
}
