/**
 * Framing shared by the peer protocols: frames are `[u32 BE length][u8 kind]
 * [payload]`, every read is capped by the caller and bounded by an
 * AbortSignal; raw data after a header frame is read with backpressure (the
 * stream is paused while our buffer is above its high-water mark, so yamux
 * stops granting window and the sender stops).
 *
 * Only types are imported from libp2p: this module loads without it.
 */
import type { Stream } from '@libp2p/interface'
import { AbortedError, ErrorCodes, errorFromWire, FieldsyncError, PeerVersionError, ProtocolError, TimeoutError } from '../../shared/errors.js'
import { cidToSha } from '../../shared/ids.js'
import { withDeadline } from '../../shared/deadline.js'

export const FrameKind = { Json: 1, Bytes: 2, Error: 3 } as const
export type FrameKindValue = (typeof FrameKind)[keyof typeof FrameKind]

export const FRAME_HEADER = 5

export interface Frame {
  kind: FrameKindValue
  payload: Uint8Array
}

export function encodeFrame(kind: FrameKindValue, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + payload.byteLength)
  new DataView(out.buffer).setUint32(0, payload.byteLength)
  out[4] = kind
  out.set(payload, FRAME_HEADER)
  return out
}

export function jsonFrame(value: unknown): Uint8Array {
  return encodeFrame(FrameKind.Json, new TextEncoder().encode(JSON.stringify(value)))
}

export function errorFrame(code: string, message: string): Uint8Array {
  return encodeFrame(FrameKind.Error, new TextEncoder().encode(JSON.stringify({ code, message: message.slice(0, 1000) })))
}

/** Send, waiting for 'drain' when the stream's buffer is full (backpressure). */
export async function send(stream: Stream, data: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!stream.send(data)) await stream.onDrain({ signal })
}

export { deadline, withDeadline } from '../../shared/deadline.js'

/** Turn a raced abort into our typed errors. */
export function abortReason(signal: AbortSignal, what: string): Error {
  const r: unknown = signal.reason
  if (r instanceof Error && r.name === 'TimeoutError') return new TimeoutError(`${what}: no answer in time`)
  if (r instanceof Error && 'code' in r) return r
  return new AbortedError(`${what}: cancelled`)
}

interface Waiter {
  resolve: () => void
}

/**
 * Reads a libp2p stream through its 'message' events into a bounded queue.
 * When more than `highWater` bytes wait unread the stream is paused.
 */
export class StreamReader {
  private readonly chunks: Uint8Array[] = []
  private head = 0
  private queued = 0
  /** The remote finished writing (or the stream closed); libp2p may still hold bytes it buffered while we were paused. */
  private remoteDone = false
  private error: Error | undefined
  private waiter: Waiter | undefined
  private paused = false
  /** Bytes received so far (payload of this stream). */
  received = 0

  constructor(
    private readonly stream: Stream,
    private readonly what: string,
    private readonly highWater = 4 << 20,
  ) {
    // Paused streams still receive up to one yamux window: leave room for it.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, 32 << 20)
    stream.addEventListener('message', evt => {
      const d = evt.data
      if (d instanceof Uint8Array) this.push(d)
      else for (const b of d) this.push(b)
      if (!this.paused && this.queued > this.highWater && stream.readStatus === 'readable') {
        this.paused = true
        try {
          stream.pause()
        } catch {
          this.paused = false
        }
      }
      this.wake()
    })
    const done = () => {
      this.remoteDone = true
      this.wake()
    }
    stream.addEventListener('remoteCloseWrite', done)
    stream.addEventListener('end', done)
    stream.addEventListener('close', evt => {
      if (evt.error !== undefined) this.error = evt.error
      done()
    })
  }

  /** Let libp2p deliver what it holds (after a pause). */
  private resumeStream(): void {
    this.paused = false
    if (this.stream.readStatus === 'paused') {
      try {
        this.stream.resume()
      } catch {
        /* its readable end closed meanwhile */
      }
    }
  }

  /** Nothing more can arrive: the remote is done and libp2p holds nothing for us. */
  private get exhausted(): boolean {
    return this.queued === 0 && (this.error !== undefined || (this.remoteDone && this.stream.readBufferLength === 0))
  }

  /** Our queue is empty: wait for more, or fail if the stream is over. */
  private async refill(need: number, signal: AbortSignal, idleMs?: number): Promise<void> {
    if (this.exhausted) this.failIfEnded(need)
    if (this.remoteDone && this.stream.readBufferLength > 0) this.resumeStream()
    await this.wait(signal, idleMs)
  }

  private push(b: Uint8Array): void {
    if (b.byteLength === 0) return
    this.chunks.push(b)
    this.queued += b.byteLength
    this.received += b.byteLength
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.resolve()
  }

  /** Wait for data or the end; `idleMs` bounds the wait (a plain timer: cheaper than a signal per chunk). */
  private async wait(signal: AbortSignal, idleMs?: number): Promise<void> {
    if (signal.aborted) throw abortReason(signal, this.what)
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => {
        this.waiter = undefined
        clearTimeout(timer)
        reject(abortReason(signal, this.what))
      }
      if (idleMs !== undefined) {
        timer = setTimeout(() => {
          this.waiter = undefined
          signal.removeEventListener('abort', onAbort)
          reject(new TimeoutError(`${this.what}: the peer sent nothing for ${idleMs} ms`))
        }, idleMs)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiter = {
        resolve: () => {
          clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
      }
    })
  }

  private take(max: number): Uint8Array {
    const c = this.chunks[this.head]
    let out: Uint8Array
    if (c.byteLength <= max) {
      out = c
      this.chunks[this.head++] = undefined as unknown as Uint8Array
      if (this.head > 1024) {
        this.chunks.splice(0, this.head)
        this.head = 0
      }
    } else {
      out = c.subarray(0, max)
      this.chunks[this.head] = c.subarray(max)
    }
    this.queued -= out.byteLength
    if (this.paused && this.queued <= this.highWater / 2) this.resumeStream()
    return out
  }

  private failIfEnded(need: number): never {
    if (this.error !== undefined) throw new ProtocolError(`${this.what}: the stream failed: ${this.error.message}`, undefined, { cause: this.error })
    throw new ProtocolError(`${this.what}: the stream ended ${need} byte(s) early`)
  }

  /** Exactly `n` bytes, copied into one buffer (for small headers and frames). */
  async readExactly(n: number, signal: AbortSignal): Promise<Uint8Array> {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      if (this.queued === 0) {
        await this.refill(n - got, signal)
        continue
      }
      const c = this.take(n - got)
      out.set(c, got)
      got += c.byteLength
    }
    return out
  }

  /** One frame whose payload is at most `max` bytes; anything larger is a protocol error. */
  async readFrame(max: number, signal: AbortSignal): Promise<Frame> {
    const h = await this.readExactly(FRAME_HEADER, signal)
    const len = new DataView(h.buffer, h.byteOffset, FRAME_HEADER).getUint32(0)
    const kind = h[4]
    if (kind !== FrameKind.Json && kind !== FrameKind.Bytes && kind !== FrameKind.Error) {
      throw new ProtocolError(`${this.what}: unknown frame kind ${kind}`)
    }
    if (len > max) throw new ProtocolError(`${this.what}: a frame of ${len} bytes is over the limit of ${max}`)
    return { kind: kind as FrameKindValue, payload: await this.readExactly(len, signal) }
  }

  /**
   * Exactly `n` raw bytes, yielded as they arrive without copying. `idleMs`
   * bounds the wait for each chunk (a stalled peer is dropped).
   */
  async *data(n: number, signal: AbortSignal, idleMs: number): AsyncGenerator<Uint8Array> {
    let left = n
    while (left > 0) {
      if (this.queued === 0) {
        await this.refill(left, signal, idleMs)
        continue
      }
      const c = this.take(left)
      left -= c.byteLength
      yield c
    }
  }

  /** True when the remote closed its end and nothing is left to read. */
  get atEnd(): boolean {
    return this.exhausted
  }
}

export function decodeJson(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload))
  } catch {
    throw new ProtocolError(`${what}: a message is not valid JSON`)
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function isSafeUint(v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max
}

/**
 * The hex sha256 named by a CID a peer sent (a string, or CID_BYTES bytes):
 * CIDv1, raw codec, sha2-256, 32-byte digest, nothing else (house rule 5). A
 * malformed one is a ProtocolError that names the peer and says what is wrong.
 */
export function shaOfPeerCid(v: unknown, where: string, peer: string): string {
  if (typeof v !== 'string' && !(v instanceof Uint8Array))
    throw new ProtocolError(`${where} from peer ${peer}: an object is named by ${typeof v}, not a CID`, { peer })
  try {
    return cidToSha(v)
  } catch (err) {
    throw new ProtocolError(`${where} from peer ${peer}: ${(err as Error).message}`, { peer }, { cause: err })
  }
}

/** Rebuild the error a peer sent (codes are checked; messages are capped and marked as the peer's). */
export function decodeErrorFrame(payload: Uint8Array, what: string): FieldsyncError {
  const v = decodeJson(payload, what)
  if (!isObject(v) || typeof v.code !== 'string' || !/^E_[A-Z_]{1,40}$/.test(v.code) || typeof v.message !== 'string') {
    return new ProtocolError(`${what}: the peer sent a malformed error`)
  }
  return errorFromWire({ code: v.code, message: `${what}: the peer answered: ${v.message.replace(/[\p{C}]/gu, ' ').slice(0, 500)}` })
}

/**
 * Opens a stream to a peer for the first of `protocols` it speaks, as
 * multistream-select negotiates it, and sets `stream.protocol` to the one
 * chosen (the node provides it; tests may too). When the peer speaks none it
 * throws libp2p's UnsupportedProtocolError.
 */
export type StreamOpener = (peer: string, protocols: string[], signal: AbortSignal) => Promise<Stream>

/**
 * A peer protocol's id and the older ids of it that we still accept on
 * inbound streams, only to answer them with E_PEER_VERSION (CONTRIBUTING.md,
 * "A wire protocol": an old peer gets a clear error, not a hang).
 */
export interface ProtocolVersions {
  id: string
  older: readonly string[]
}

/**
 * Open a stream for `protocol.id`. The peer is offered the older ids too, so
 * that one running an older Fieldsync is told apart from one that is not
 * reachable: both it and a peer that speaks no version we know are a
 * PeerVersionError naming the peer.
 */
export async function openCurrent(open: StreamOpener, peer: string, protocol: ProtocolVersions, signal: AbortSignal): Promise<Stream> {
  let stream: Stream
  try {
    stream = await open(peer, [protocol.id, ...protocol.older], signal)
  } catch (err) {
    if ((err as Error | undefined)?.name !== 'UnsupportedProtocolError') throw err
    throw new PeerVersionError(
      `peer ${peer} does not speak ${protocol.id} nor an older version of it: it runs another version of Fieldsync (install the same release on both laptops)`,
      { peer, protocol: protocol.id },
      { cause: err },
    )
  }
  if (stream.protocol !== protocol.id) {
    const theirs = stream.protocol
    stream.abort(new Error(`the peer speaks ${theirs}, not ${protocol.id}`))
    throw new PeerVersionError(`peer ${peer} runs an older Fieldsync: it speaks ${theirs}, not ${protocol.id}; update Fieldsync on that laptop`, {
      peer,
      protocol: theirs,
    })
  }
  return stream
}

/**
 * Serve an inbound stream of an older protocol id: one error frame,
 * E_PEER_VERSION (a code older peers rebuild as a ProtocolError that keeps
 * this message), then the end. The request is not read.
 */
export async function answerOlderVersion(stream: Stream, protocol: ProtocolVersions, stop: AbortSignal): Promise<void> {
  const message = `this peer runs a newer Fieldsync: it speaks ${protocol.id}, not ${stream.protocol}; update Fieldsync on this laptop`
  try {
    stream.send(errorFrame(ErrorCodes.PeerVersion, message))
    await withDeadline(stop, 1000, async signal => {
      await stream.close({ signal })
    })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}
