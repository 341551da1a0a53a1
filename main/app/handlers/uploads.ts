/**
 * Files the browser sends to the core (browser mode's file picker and drag
 * and drop give bytes, not paths): streamed to a temporary file under
 * `<home>/uploads`, then imported by id with `library.import {upload}`.
 * Never held in memory; removed once imported, on expiry, and at start (an
 * upload whose import failed stays, for a retry, until it expires).
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { NoSpaceError, NotFoundError, UploadCutShortError } from '../../../shared/errors.js'
import { formatBytes } from '../../../shared/units.js'

const EXPIRE_MS = 60 * 60 * 1000

export interface Upload {
  id: string
  path: string
  filename: string
  bytes: number
  at: number
}

function cutShort(filename: string, bytes: number, expected: number | undefined, cause?: unknown): Error {
  const of = expected === undefined ? '' : ` of ${formatBytes(expected)}`
  return new UploadCutShortError(
    `upload ${filename}: cut short after ${formatBytes(bytes)}${of} (the browser closed the connection or the network broke); nothing was kept: upload the file again`,
    { received: bytes, expected: expected ?? null },
    { cause },
  )
}

/** A request body that stopped before its end (node:http: 'aborted' / ECONNRESET; streams: premature close). */
function isCutOff(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNABORTED'
}

export class Uploads {
  readonly dir: string
  private readonly home: string
  private readonly uploads = new Map<string, Upload>()
  private timer: NodeJS.Timeout | undefined

  constructor(opts: { home: string }) {
    this.home = opts.home
    this.dir = join(opts.home, 'uploads')
  }

  async start(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
    await mkdir(this.dir, { recursive: true })
    this.timer = setInterval(() => {
      void this.expire()
    }, 60_000)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.uploads.clear()
    await rm(this.dir, { recursive: true, force: true })
  }

  /** Stream `body` to a new upload; `expected` (Content-Length) is checked when given. */
  async receive(
    body: Readable | AsyncIterable<Uint8Array>,
    opts: { filename: string; expected?: number; signal?: AbortSignal; onProgress?: (bytes: number) => void },
  ): Promise<Upload> {
    const id = randomBytes(12).toString('hex')
    const path = join(this.dir, id)
    let bytes = 0
    const counted = async function* (src: AsyncIterable<Uint8Array>) {
      for await (const chunk of src) {
        bytes += chunk.length
        opts.onProgress?.(bytes)
        yield chunk
      }
    }
    try {
      await pipeline(Readable.from(counted(body as AsyncIterable<Uint8Array>)), createWriteStream(path, { flags: 'wx', highWaterMark: 1 << 20 }), {
        signal: opts.signal,
      })
      if (opts.expected !== undefined && bytes !== opts.expected) throw cutShort(opts.filename, bytes, opts.expected)
    } catch (err) {
      await rm(path, { force: true })
      // Name the user's file and the library, not the temporary copy.
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC')
        throw new NoSpaceError(
          `upload ${opts.filename}: the library's disk is full (${this.home}); nothing of it was kept: free some space and upload it again`,
          { home: this.home },
        )
      // The body ended before it was complete: the browser closed the connection (a reload, a closed tab) or the network broke.
      if (opts.signal?.aborted !== true && isCutOff(err)) throw cutShort(opts.filename, bytes, opts.expected, err)
      throw err
    }
    const up = { id, path, filename: opts.filename, bytes, at: Date.now() }
    this.uploads.set(id, up)
    return up
  }

  /** Hand over an upload (it is no longer listed); the caller removes the file with `discard`. */
  take(id: string): Upload {
    const up = this.uploads.get(id)
    if (up === undefined) throw new NotFoundError(`upload ${id}: no such upload (it was imported already, or expired after an hour); upload the file again`)
    this.uploads.delete(id)
    return up
  }

  /** Give back an upload that was taken (its import failed): listed again, for an hour from now, so a retry can take it. */
  keep(up: Upload): void {
    this.uploads.set(up.id, { ...up, at: Date.now() })
  }

  has(id: string): boolean {
    return this.uploads.has(id)
  }

  async discard(up: Upload): Promise<void> {
    await rm(up.path, { force: true })
  }

  private async expire(): Promise<void> {
    const now = Date.now()
    for (const up of [...this.uploads.values()]) {
      if (now - up.at > EXPIRE_MS) {
        this.uploads.delete(up.id)
        await this.discard(up)
      }
    }
  }
}
