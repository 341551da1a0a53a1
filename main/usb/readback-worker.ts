/**
 * The read-back thread: follows files while they are written. The writer
 * says how far a file is fsynced; this thread drops those pages from the
 * cache, reads them from the medium and hashes them (sha256 and CRC-32), so
 * that the read-back of a big file overlaps its writing instead of following
 * it, on another core.
 */
import { spawnSync } from 'node:child_process'
import { createHash, type Hash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import { crc32 } from 'node:zlib'

export type ToWorker =
  | { type: 'open', id: number, file: string, dropCache: boolean }
  | { type: 'synced', id: number, upTo: number }
  | { type: 'end', id: number, size: number }
  | { type: 'close', id: number }

export type FromWorker =
  | { type: 'progress', id: number, bytes: number }
  | { type: 'done', id: number, sha256: string, crc32: number, bytes: number }
  | { type: 'error', id: number, message: string, code?: string }

interface Follow { file: string, fd: number, hash: Hash, crc: number, pos: number, dropCache: boolean, deferred: boolean }

const files = new Map<number, Follow>()
const buf = Buffer.allocUnsafe(4 << 20)
const port = parentPort
if (port === null) throw new Error('readback-worker runs as a worker thread')

function readTo (f: Follow, id: number, upTo: number): void {
  if (f.dropCache) spawnSync('dd', [`if=${f.file}`, 'iflag=nocache', 'count=0', 'status=none'], { stdio: 'ignore' })
  while (f.pos < upTo) {
    const n = readSync(f.fd, buf, 0, Math.min(buf.length, upTo - f.pos), f.pos)
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
      files.set(m.id, { file: m.file, fd: -1, hash: createHash('sha256'), crc: 0, pos: 0, dropCache: m.dropCache, deferred: false })
      return
    }
    const f = files.get(m.id)
    if (f === undefined) return
    if (m.type === 'close') { if (f.fd >= 0) closeSync(f.fd); files.delete(m.id); return }
    if (m.type === 'synced') {
      if (f.deferred) return
      try {
        if (f.fd < 0) f.fd = openSync(f.file, 'r')
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
    if (f.fd < 0) f.fd = openSync(f.file, 'r')
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
