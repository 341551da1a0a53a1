/**
 * Shared reads for a rollout wave: the devices of a wave that upload the same
 * object at about the same time share one read of it from the library, not
 * one read per device (issue #18).
 *
 * Each object being uploaded has one feed: a single library stream whose
 * chunks are kept in a window of at most `windowBytes` and handed, as the same
 * Buffer, to every reader of that object. A reader takes chunks at its own
 * pace (each upload keeps its own flow control); chunks leave the window once
 * the window is full and no reader still needs them. A device never waits for
 * another: a reader that falls more than the window behind, or that starts
 * after the object's first chunk has left the window, reads the rest of the
 * object on its own from the library (counted as such). Memory is therefore
 * bounded by `windowBytes` per object in flight, whatever the number of
 * devices.
 */
import { Readable } from 'node:stream'

/** The library's object reader: `sha` from byte `start` on. */
export type OpenObject = (sha: string, start: number, signal: AbortSignal) => Readable

export interface SharedReadStats {
  /** Bytes read from the library (one shared read, plus every reader on its own). */
  libraryBytes: number
  /** Bytes handed to readers (what the uploads consumed). */
  servedBytes: number
  /** Readers that read (part of) an object on their own: late starters and laggards. */
  ownReads: number
}

/** Per object being read: default 16 MiB, so that K devices in flight hold at most K x 16 MiB. */
export const DEFAULT_WINDOW_BYTES = 16 << 20

interface Reader {
  pos: number
  off: number
  wake: (() => void) | null
}

class Feed {
  /** Chunks [base, base + chunks.length) of the object. */
  private readonly chunks: Buffer[] = []
  private base = 0
  private held = 0
  private done = false
  private error: Error | null = null
  private filling = false
  private readonly readers = new Set<Reader>()
  private readonly source: AsyncIterator<Buffer>
  private readonly stop = new AbortController()

  constructor(
    readonly sha: string,
    open: OpenObject,
    private readonly windowBytes: number,
    private readonly stats: SharedReadStats,
    private readonly onIdle: (f: Feed) => void,
  ) {
    this.source = (open(sha, 0, this.stop.signal) as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  }

  /** The bytes it holds now. */
  get bytes(): number {
    return this.held
  }

  /** Every byte of the object read and still held: a new reader can be served from memory alone. */
  get whole(): boolean {
    return this.done && this.base === 0 && this.error === null
  }

  /** A new reader from the start, or null when the start has already left the window. */
  join(): Reader | null {
    if (this.base > 0 || this.error !== null) return null
    const r: Reader = { pos: 0, off: 0, wake: null }
    this.readers.add(r)
    return r
  }

  leave(r: Reader): void {
    if (!this.readers.delete(r)) return
    if (this.readers.size > 0) return
    if (!this.done) this.stop.abort()
    this.onIdle(this)
  }

  /**
   * The reader's next chunk: a Buffer, null at the end, or a number: the byte
   * offset from which the reader goes on by itself (its next chunk left the window).
   */
  async next(r: Reader): Promise<Buffer | null | number> {
    for (;;) {
      if (r.pos < this.base) return r.off
      const i = r.pos - this.base
      if (i < this.chunks.length) {
        const c = this.chunks[i]
        r.pos++
        r.off += c.length
        this.stats.servedBytes += c.length
        return c
      }
      if (this.error !== null) throw this.error
      if (this.done) return null
      if (!this.filling) await this.fill()
      else
        await new Promise<void>(resolve => {
          r.wake = resolve
        })
    }
  }

  private async fill(): Promise<void> {
    this.filling = true
    try {
      const n = await this.source.next()
      if (n.done === true) this.done = true
      else {
        this.chunks.push(n.value)
        this.held += n.value.length
        this.stats.libraryBytes += n.value.length
        this.trim()
      }
    } catch (err) {
      this.error = err instanceof Error ? err : new Error(String(err))
    } finally {
      this.filling = false
      for (const r of this.readers) {
        const w = r.wake
        r.wake = null
        w?.()
      }
    }
  }

  /** Over the window: drop chunks from the front (a reader that still needed one goes on by itself). */
  private trim(): void {
    while (this.chunks.length > 1 && this.held > this.windowBytes) {
      this.held -= (this.chunks.shift() as Buffer).length
      this.base++
    }
  }
}

/** The shared reads of one wave. */
export class SharedReads {
  readonly stats: SharedReadStats = { libraryBytes: 0, servedBytes: 0, ownReads: 0 }
  private readonly feeds = new Map<string, Feed>()
  /** Objects read whole and small enough to keep after their readers left, oldest first. */
  private readonly kept = new Map<string, Feed>()
  private keptBytes = 0

  /**
   * `windowBytes`: per object being read; `keepBytes`: objects no one reads
   * any more but read whole (configs, kernels) kept for the devices that come
   * to them later in the wave.
   */
  constructor(
    private readonly open: OpenObject,
    private readonly windowBytes = DEFAULT_WINDOW_BYTES,
    private readonly keepBytes = DEFAULT_WINDOW_BYTES,
  ) {}

  /** A stream of the object `sha`, sharing the library read with the other readers of it. */
  read(sha: string, signal: AbortSignal): Readable {
    let feed = this.feeds.get(sha)
    if (feed === undefined) {
      feed = this.kept.get(sha)
      if (feed !== undefined) this.unkeep(feed)
      else
        feed = new Feed(sha, this.open, this.windowBytes, this.stats, f => {
          this.idle(f)
        })
      this.feeds.set(sha, feed)
    }
    const r = feed.join()
    return r === null ? this.own(sha, 0, signal) : this.stream(feed, r, signal)
  }

  private stream(f: Feed, r: Reader, signal: AbortSignal): Readable {
    let rest: AsyncIterator<Buffer> | null = null
    let left = false
    const leave = (): void => {
      if (!left) {
        left = true
        f.leave(r)
      }
    }
    const counted = (start: number): AsyncIterator<Buffer> => this.counted(f.sha, start, signal)[Symbol.asyncIterator]()
    const stats = this.stats
    return new Readable({
      signal,
      async read() {
        try {
          if (rest === null) {
            const c = await f.next(r)
            if (typeof c !== 'number') {
              if (c === null) leave()
              this.push(c)
              return
            }
            leave()
            stats.ownReads++
            rest = counted(c)
          }
          const n = await rest.next()
          this.push(n.done === true ? null : n.value)
        } catch (err) {
          leave()
          this.destroy(err as Error)
        }
      },
      destroy(err, cb) {
        leave()
        cb(err)
      },
    })
  }

  /** A feed whose readers all left: kept when whole and small, else dropped. */
  private idle(f: Feed): void {
    if (this.feeds.get(f.sha) === f) this.feeds.delete(f.sha)
    if (!f.whole || f.bytes > this.keepBytes) return
    this.kept.set(f.sha, f)
    this.keptBytes += f.bytes
    for (const [, old] of this.kept) {
      if (this.keptBytes <= this.keepBytes) break
      this.unkeep(old)
    }
  }

  private unkeep(f: Feed): void {
    if (this.kept.delete(f.sha)) this.keptBytes -= f.bytes
  }

  private own(sha: string, start: number, signal: AbortSignal): Readable {
    this.stats.ownReads++
    return Readable.from(this.counted(sha, start, signal), { objectMode: false })
  }

  private async *counted(sha: string, start: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    for await (const c of this.open(sha, start, signal) as AsyncIterable<Buffer>) {
      this.stats.libraryBytes += c.length
      this.stats.servedBytes += c.length
      yield c
    }
  }
}
