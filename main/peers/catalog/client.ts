/** Asking a team peer about its catalog; every answer is validated before use. */
import { ProtocolError } from '../../../shared/errors.js'
import { cidOf } from '../../../shared/ids.js'
import {
  deadline,
  decodeErrorFrame,
  decodeJson,
  encodeFrame,
  FrameKind,
  jsonFrame,
  openCurrent,
  send,
  StreamReader,
  type Frame,
  type StreamOpener,
} from '../wire.js'
import {
  CATALOG_VERSIONS,
  CatalogLimits,
  CatalogTimeouts,
  type CatalogTimeoutsT,
  decodeHave,
  encodeCids,
  haveAnswerMax,
  validateHello,
  validateList,
  type CatalogRequest,
  type Hello,
  type RemoteRevision,
} from './protocol.js'

export class CatalogClient {
  constructor(
    private readonly open: StreamOpener,
    private readonly timeouts: CatalogTimeoutsT = CatalogTimeouts,
  ) {}

  private async request(peer: string, req: CatalogRequest, extra: Uint8Array | undefined, answerMax: number, signal: AbortSignal): Promise<Frame> {
    const what = `catalog ${req.t} to ${peer.slice(-8)}`
    const d = deadline(signal, this.timeouts.requestMs)
    const sig = d.signal
    let stream
    try {
      stream = await openCurrent(this.open, peer, CATALOG_VERSIONS, sig)
    } catch (err) {
      d.done()
      throw err
    }
    try {
      const reader = new StreamReader(stream, what, 1 << 20)
      await send(stream, jsonFrame(req), sig)
      if (extra !== undefined) await send(stream, encodeFrame(FrameKind.Bytes, extra), sig)
      await stream.close({ signal: sig })
      const f = await reader.readFrame(Math.max(answerMax, CatalogLimits.errorBytes), sig)
      if (f.kind === FrameKind.Error) throw decodeErrorFrame(f.payload, what)
      return f
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    } finally {
      d.done()
    }
  }

  async hello(peer: string, mine: { name: string; catalog: string }, signal: AbortSignal): Promise<Hello> {
    const f = await this.request(peer, { t: 'hello', name: mine.name, catalog: mine.catalog }, undefined, CatalogLimits.helloBytes, signal)
    if (f.kind !== FrameKind.Json) throw new ProtocolError(`catalog hello to ${peer}: expected a JSON answer`)
    return validateHello(decodeJson(f.payload, 'catalog hello'))
  }

  async announce(peer: string, catalog: string, signal: AbortSignal): Promise<void> {
    await this.request(peer, { t: 'announce', catalog }, undefined, CatalogLimits.helloBytes, signal)
  }

  async list(peer: string, signal: AbortSignal): Promise<RemoteRevision[]> {
    const f = await this.request(peer, { t: 'list' }, undefined, CatalogLimits.listBytes, signal)
    if (f.kind !== FrameKind.Json) throw new ProtocolError(`catalog list to ${peer}: expected a JSON answer`)
    return validateList(decodeJson(f.payload, 'catalog list'), peer)
  }

  /** The original bytes of a revision's state JSON (the caller checks its id). */
  async state(peer: string, id: string, signal: AbortSignal): Promise<Uint8Array> {
    const f = await this.request(peer, { t: 'state', cid: cidOf(id) }, undefined, CatalogLimits.stateBytes, signal)
    if (f.kind !== FrameKind.Bytes) throw new ProtocolError(`catalog state to ${peer}: expected bytes`)
    return f.payload
  }

  /** Which of `shas` the peer holds, with their sizes (batched). */
  async have(peer: string, shas: readonly string[], signal: AbortSignal): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for (let i = 0; i < shas.length; i += CatalogLimits.haveShas) {
      const batch = shas.slice(i, i + CatalogLimits.haveShas)
      const f = await this.request(peer, { t: 'have', n: batch.length }, encodeCids(batch), haveAnswerMax(batch.length), signal)
      if (f.kind !== FrameKind.Bytes) throw new ProtocolError(`catalog have to ${peer}: expected bytes`)
      for (const [s, n] of decodeHave(f.payload, batch)) out.set(s, n)
    }
    return out
  }
}
