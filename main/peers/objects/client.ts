/** Fetching one range of an object from a team peer. */
import { ProtocolError } from '../../../shared/errors.js'
import { deadline, decodeErrorFrame, decodeJson, FrameKind, jsonFrame, openCurrent, send, StreamReader, type StreamOpener } from '../wire.js'
import {
  encodeRangeRequest,
  OBJECTS_VERSIONS,
  ObjectsLimits,
  ObjectsTimeouts,
  validateRangeHeader,
  type ObjectsTimeoutsT,
  type RangeHeader,
  type RangeRequest,
} from './protocol.js'

export interface RangeSink {
  /** Called with the bytes in order; may await (backpressure reaches the sender). */
  write: (chunk: Uint8Array) => Promise<void> | void
}

export class ObjectsClient {
  constructor(
    private readonly open: StreamOpener,
    private readonly timeouts: ObjectsTimeoutsT = ObjectsTimeouts,
  ) {}

  /**
   * Fetch `req` into `sink`. Resolves with the header when every byte arrived;
   * throws (typed) on a peer error, a short or stalled stream, or `signal`.
   * `onBytes` sees every chunk's size as it arrives (progress).
   */
  async fetch(peer: string, req: RangeRequest, sink: RangeSink, signal: AbortSignal, expectSize?: number): Promise<RangeHeader> {
    const what = `object ${req.sha.slice(0, 12)} range ${req.offset}+${req.length} from ${peer.slice(-8)}`
    const d = deadline(signal, this.timeouts.headerMs)
    const head = d.signal
    let stream
    try {
      stream = await openCurrent(this.open, peer, OBJECTS_VERSIONS, head)
    } catch (err) {
      d.done()
      throw err
    }
    try {
      const reader = new StreamReader(stream, what, ObjectsLimits.receiveHighWater)
      await send(stream, jsonFrame(encodeRangeRequest(req)), head)
      await stream.close({ signal: head })
      const f = await reader.readFrame(Math.max(ObjectsLimits.headerBytes, ObjectsLimits.errorBytes), head)
      if (f.kind === FrameKind.Error) throw decodeErrorFrame(f.payload, what)
      if (f.kind !== FrameKind.Json) throw new ProtocolError(`${what}: expected a JSON header`)
      const h = validateRangeHeader(decodeJson(f.payload, what), req)
      d.done()
      if (expectSize !== undefined && h.size !== expectSize)
        throw new ProtocolError(`${what}: the peer now says the object has ${h.size} bytes, not ${expectSize}`)
      for await (const chunk of reader.data(req.length, signal, this.timeouts.idleMs)) {
        const p = sink.write(chunk)
        if (p !== undefined) await p
      }
      return h
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    } finally {
      d.done()
    }
  }
}
