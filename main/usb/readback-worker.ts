/**
 * The read-back thread: follows files while they are written. The writer
 * says how far a file is fsynced; this thread reads those bytes from the
 * medium and hashes them (sha256 and CRC-32), so that the read-back of a big
 * file overlaps its writing instead of following it, on another core. From
 * the medium: with O_DIRECT (into page-aligned memory) where the writer used
 * it, else after dropping the file's cached pages (dd iflag=nocache).
 */
import { spawnSync } from 'node:child_process'
import { createHash, type Hash } from 'node:crypto'
import { closeSync, constants as fsc, openSync, readSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import { crc32 } from 'node:zlib'

export type ToWorker =
  | { type: 'open', id: number, file: string, dropCache: boolean, direct: boolean }
  | { type: 'synced', id: number, upTo: number }
  | { type: 'end', id: number, size: number }
  | { type: 'close', id: number }

export type FromWorker =
  | { type: 'progress', id: number, bytes: number }
  | { type: 'done', id: number, sha256: string, crc32: number, bytes: number }
  | { type: 'error', id: number, message: string, code?: string }

interface Follow { file: string, fd: number, hash: Hash, crc: number, pos: number, dropCache: boolean, direct: boolean, deferred: boolean }

// The WebAssembly global, as far as it is used here (the project's TypeScript libs do not declare it).
declare const WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } }

const files = new Map<number, Follow>()
const BUF = 4 << 20
/** Page-aligned (V8 maps WebAssembly memory with mmap), as O_DIRECT reads need. */
const buf = Buffer.from(new WebAssembly.Memory({ initial: BUF / 65536 }).buffer, 0, BUF)

/** Open for reading: O_DIRECT when the file was written so (reads come from the medium), else buffered. */
function openFollow (f: Follow): void {
  if (f.direct) {
    try { f.fd = openSync(f.file, fsc.O_RDONLY | fsc.O_DIRECT); return } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
      f.direct = false
    }
  }
  f.fd = openSync(f.file, 'r')
}

function readAt (f: Follow, len: number): number {
  try {
    return readSync(f.fd, buf, 0, len, f.pos)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || !f.direct) throw err
    // O_DIRECT refused for reads: go on through the page cache, dropped first.
    closeSync(f.fd)
    f.direct = false
    f.fd = openSync(f.file, 'r')
    if (f.dropCache) dropCache(f)
    return readSync(f.fd, buf, 0, len, f.pos)
  }
}

function dropCache (f: Follow): void {
  spawnSync('dd', [`if=${f.file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' })
}
const port = parentPort
if (port === null) throw new Error('readback-worker runs as a worker thread')

function readTo (f: Follow, id: number, upTo: number): void {
  if (f.dropCache && !f.direct) dropCache(f)
  while (f.pos < upTo) {
    const n = readAt(f, Math.min(buf.length, upTo - f.pos))
    if (n === 0) break
    const b = buf.subarray(0, n)
    f.hash.update(b)
    f.crc = crc32(b, f.crc)
    f.pos += n
    port?.postMessage({ type: 'progress', id, bytes: n } satisfies FromWorker)
  }
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'open') {
      files.set(m.id, { file: m.file, fd: -1, hash: createHash('sha256'), crc: 0, pos: 0, dropCache: m.dropCache, direct: m.direct, deferred: false })
      return
    }
    const f = files.get(m.id)
    if (f === undefined) return
    if (m.type === 'close') { if (f.fd >= 0) closeSync(f.fd); files.delete(m.id); return }
    if (m.type === 'synced') {
      if (f.deferred) return
      try {
        if (f.fd < 0) openFollow(f)
        readTo(f, m.id, m.upTo)
      } catch {
        // Some drivers (fusefat) refuse reads of a file open for writing: read it all at the end.
        f.deferred = true
      }
      return
    }
    if (f.deferred) {
      if (f.fd >= 0) closeSync(f.fd)
      Object.assign(f, { fd: -1, hash: createHash('sha256'), crc: 0, pos: 0 })
    }
    if (f.fd < 0) openFollow(f)
    readTo(f, m.id, Number.MAX_SAFE_INTEGER)
    closeSync(f.fd)
    files.delete(m.id)
    port.postMessage({ type: 'done', id: m.id, sha256: f.hash.digest('hex'), crc32: f.crc >>> 0, bytes: f.pos } satisfies FromWorker)
  } catch (err) {
    const f = files.get(m.id)
    if (f !== undefined) { try { if (f.fd >= 0) closeSync(f.fd) } catch { /* already closed */ } files.delete(m.id) }
    port.postMessage({ type: 'error', id: m.id, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } satisfies FromWorker)
  }
})
