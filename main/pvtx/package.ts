/**
 * Reading a package as pvtx does: a tar (plain, gzip or bzip2, told apart by
 * content) whose `json` entry is the package's state and whose
 * `objects/<sha256>` entries are its objects, in any order. Objects go to a
 * sink as they stream past (an objects folder, a device's pv-ctrl); other
 * entries are skipped. Every entry name is checked before anything is
 * written (upstream writes `objects/<name>` wherever the name points).
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BadArchiveError, BadObjectNameError, StateTooLargeError } from '../../shared/errors.js'
import { STATE_MAX_BYTES } from '../../shared/state/parse.js'
import { archiveError } from '../store/import/archive-error.js'

const SHA256_HEX = /^[0-9a-f]{64}$/

export type PackageFormat = 'gzip' | 'bzip2' | 'tar'

export interface ObjectSink {
  /** Take one object's bytes (`size` of them); resolve once they are safely stored. */
  put: (sha: string, size: number, body: AsyncIterable<Uint8Array>, source: string) => Promise<void>
}

export interface PackageRead {
  /** The `json` entry, or null when the package has none. */
  json: Uint8Array | null
  /** Objects the package carried (each once). */
  objects: string[]
}

/** What the first bytes say: a compressed or plain tar, or (anything else) a state JSON. */
export function sniffFormat(head: Uint8Array): PackageFormat | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') return 'tar'
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2'
  return null
}

export async function sniffFile(path: string): Promise<PackageFormat | null> {
  const fh = await open(path, 'r')
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(512), 0, 512, 0)
    return sniffFormat(buffer.subarray(0, bytesRead))
  } finally {
    await fh.close()
  }
}

/** A stream of unknown format (stdin): its first bytes decide, then they go on with the rest. */
async function sniffStream(input: AsyncIterable<Uint8Array>): Promise<{ format: PackageFormat | null; stream: Readable }> {
  const it = input[Symbol.asyncIterator]()
  const head: Buffer[] = []
  let len = 0
  let done = false
  while (len < 262) {
    const r = await it.next()
    if (r.done === true) {
      done = true
      break
    }
    head.push(Buffer.from(r.value))
    len += r.value.length
  }
  const first = Buffer.concat(head)
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first
    if (done) return
    for (;;) {
      const r = await it.next()
      if (r.done === true) return
      yield Buffer.from(r.value)
    }
  }
  return { format: sniffFormat(first), stream: Readable.from(rest(), { objectMode: false }) }
}

/** Walk a package tar: `json` kept, objects handed to `sink`. */
export async function readPackageStream(
  input: AsyncIterable<Uint8Array>,
  format: PackageFormat | 'auto',
  sink: ObjectSink,
  opts: { source: string; signal?: AbortSignal },
): Promise<PackageRead> {
  let fmt: PackageFormat | null
  let stream: Readable
  if (format === 'auto') ({ format: fmt, stream } = await sniffStream(input))
  else {
    fmt = format
    stream = input instanceof Readable ? input : Readable.from(input)
  }
  if (fmt === null) throw new BadArchiveError(`${opts.source}: not a tar, gzip tar or bzip2 tar archive`)
  // loaded here, not at start-up: most pvtx verbs read no archive
  const [{ default: tar }, { safeEntryName }] = await Promise.all([import('tar-stream'), import('../store/import/tar.js')])
  const stages: NodeJS.ReadWriteStream[] = []
  if (fmt === 'gzip') stages.push((await import('node:zlib')).createGunzip({ chunkSize: 1 << 20 }))
  if (fmt === 'bzip2') stages.push((await import('./bzip2.js')).createBunzip2())
  const extract = tar.extract()
  const piping = pipeline([stream, ...stages, extract] as unknown as [Readable, NodeJS.WritableStream], { signal: opts.signal })
  piping.catch(() => {})
  let json: Uint8Array | null = null
  const objects = new Set<string>()
  try {
    for await (const entry of extract) {
      const h = entry.header
      const name = safeEntryName(h.name, opts.source)
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume()
        continue
      }
      if (name === 'json') {
        if ((h.size ?? 0) > STATE_MAX_BYTES)
          throw new StateTooLargeError(`${opts.source}: json entry is ${h.size} bytes, over the ${STATE_MAX_BYTES}-byte cap for a state`)
        const chunks: Buffer[] = []
        for await (const c of entry) chunks.push(c as Buffer)
        json = new Uint8Array(Buffer.concat(chunks))
        continue
      }
      if (name.startsWith('objects/')) {
        const sha = name.slice('objects/'.length)
        if (!SHA256_HEX.test(sha))
          throw new BadObjectNameError(`${opts.source}: entry ${JSON.stringify(h.name)}: an object's name must be its sha256 (64 lowercase hex characters)`, {
            entry: h.name,
          })
        await sink.put(sha, h.size ?? 0, entry as unknown as AsyncIterable<Uint8Array>, `${opts.source}: ${h.name}`)
        objects.add(sha)
        continue
      }
      entry.resume()
    }
    await piping
  } catch (err) {
    extract.destroy()
    await piping.catch(() => {})
    throw archiveError(err, opts.source)
  }
  return { json, objects: [...objects] }
}

export async function readPackageFile(path: string, format: PackageFormat, sink: ObjectSink, opts: { signal?: AbortSignal } = {}): Promise<PackageRead> {
  return await readPackageStream(createReadStream(path, { highWaterMark: 1 << 20 }), format, sink, { source: path, signal: opts.signal })
}
