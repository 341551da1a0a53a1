/**
 * The read-back thread: follows files while they are written. The writer
 * says how far a file is fsynced; this thread reads those bytes from the
 * medium and hashes them (sha256 and CRC-32), so that the read-back of a big
 * file overlaps its writing instead of following it, on another core. From
 * the medium: with O_DIRECT (into page-aligned memory) where the writer used
 * it, else after dropping the file's cached pages (dd iflag=nocache). Two
 * buffers per file: the next read runs while the last one is hashed.
 */
import { spawnSync } from 'node:child_process'
import { createHash, type Hash } from 'node:crypto'
import { constants as fsc } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { parentPort } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { alignedBuffer } from '../store/slots.js'

export type ToWorker =
  | { type: 'open'; id: number; file: string; dropCache: boolean; direct: boolean }
  | { type: 'synced'; id: number; upTo: number }
  | { type: 'end'; id: number; size: number }
  | { type: 'close'; id: number }

export type FromWorker =
  | { type: 'progress'; id: number; bytes: number }
  | { type: 'done'; id: number; sha256: string; crc32: number; bytes: number }
  | { type: 'error'; id: number; message: string; code?: string }

interface Follow {
  file: string
  /** The handle reads go through (the buffered one after a fallback). */
  fh?: FileHandle
  /** The O_DIRECT handle, kept open until the end (a read may be in flight on it). */
  directFh?: FileHandle
  hash: Hash
  crc: number
  pos: number
  dropCache: boolean
  direct: boolean
  deferred: boolean
  /** Messages of one file are handled in order. */
  chain: Promise<void>
  bufs?: [Buffer, Buffer]
}

const files = new Map<number, Follow>()
const BUF = 4 << 20
/** Page-aligned buffers, as O_DIRECT reads need; reused. */
const pool: Buffer[] = []
function takeBuf(): Buffer {
  return pool.pop() ?? alignedBuffer(BUF)
}

const port = parentPort
if (port === null) throw new Error('readback-worker runs as a worker thread')

/** Open for reading: O_DIRECT when the file was written so (reads come from the medium), else buffered. */
async function openFollow(f: Follow): Promise<void> {
  if (f.fh !== undefined) return
  if (f.direct) {
    try {
      f.fh = f.directFh = await open(f.file, fsc.O_RDONLY | fsc.O_DIRECT)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
      f.direct = false
    }
  }
  f.fh = await open(f.file, 'r')
}

async function readAt(f: Follow, buf: Buffer, len: number, at: number): Promise<number> {
  const fh = f.fh as FileHandle
  try {
    return (await fh.read(buf, 0, len, at)).bytesRead
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || fh !== f.directFh) throw err
    if (f.fh === f.directFh) {
      // O_DIRECT refused for reads: go on through the page cache, dropped first.
      f.direct = false
      f.fh = await open(f.file, 'r')
      if (f.dropCache) dropCache(f)
    }
    return (await (f.fh as FileHandle).read(buf, 0, len, at)).bytesRead
  }
}

function dropCache(f: Follow): void {
  spawnSync('dd', [`if=${f.file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' })
}

async function readTo(f: Follow, id: number, upTo: number): Promise<void> {
  if (f.dropCache && !f.direct) dropCache(f)
  const bufs = (f.bufs ??= [takeBuf(), takeBuf()])
  let i = 0
  let pending: Promise<number> | undefined = f.pos < upTo ? readAt(f, bufs[0], Math.min(BUF, upTo - f.pos), f.pos) : undefined
  try {
    while (pending !== undefined) {
      const n = await pending
      pending = undefined
      if (n === 0 || files.get(id) !== f) break // the end, or closed: the writer gave the file up
      const b = bufs[i].subarray(0, n)
      const at = f.pos + n
      i ^= 1
      if (at < upTo) pending = readAt(f, bufs[i], Math.min(BUF, upTo - at), at)
      f.hash.update(b)
      f.crc = crc32(b, f.crc)
      f.pos = at
      port?.postMessage({ type: 'progress', id, bytes: n } satisfies FromWorker)
    }
  } finally {
    await pending?.catch(() => {})
  }
}

async function closeFollow(f: Follow): Promise<void> {
  const handles = new Set([f.fh, f.directFh])
  f.fh = f.directFh = undefined
  for (const h of handles) await h?.close().catch(() => {})
  if (f.bufs !== undefined) pool.push(...f.bufs)
  f.bufs = undefined
}

function fail(id: number, f: Follow | undefined, err: unknown): void {
  files.delete(id)
  if (f !== undefined) void closeFollow(f)
  port?.postMessage({ type: 'error', id, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } satisfies FromWorker)
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'open') {
    files.set(m.id, {
      file: m.file,
      hash: createHash('sha256'),
      crc: 0,
      pos: 0,
      dropCache: m.dropCache,
      direct: m.direct,
      deferred: false,
      chain: Promise.resolve(),
    })
    return
  }
  const f = files.get(m.id)
  if (f === undefined) return
  if (m.type === 'close') {
    files.delete(m.id)
    f.chain = f.chain.then(async () => {
      await closeFollow(f)
    })
    return
  }
  if (m.type === 'synced') {
    f.chain = f.chain.then(async () => {
      if (f.deferred) return
      try {
        await openFollow(f)
        await readTo(f, m.id, m.upTo)
      } catch {
        // A driver that refuses reads of a file still open for writing: read it all at the end.
        // (The writer follows only O_DIRECT files now; this stays as the safety net.)
        f.deferred = true
      }
    })
    return
  }
  f.chain = f.chain
    .then(async () => {
      if (f.deferred) {
        await closeFollow(f)
        Object.assign(f, { hash: createHash('sha256'), crc: 0, pos: 0 })
      }
      await openFollow(f)
      await readTo(f, m.id, Number.MAX_SAFE_INTEGER)
      await closeFollow(f)
      files.delete(m.id)
      port.postMessage({ type: 'done', id: m.id, sha256: f.hash.digest('hex'), crc32: f.crc >>> 0, bytes: f.pos } satisfies FromWorker)
    })
    .catch((err: unknown) => {
      fail(m.id, f, err)
    })
})
