/**
 * A hostile team member for the tests, in the test's own process: a libp2p
 * node built with the production stack and the team secret (so the handshake
 * passes), whose catalog and objects handlers are registered here, by the
 * test. Its answers come from a real library (catalog, state, true sizes and
 * bytes), except what the test overrides: the sizes it claims in `have` and
 * in range headers, and how it sends a range's bytes. Production code has no
 * hook for any of this.
 */
import '../../main/polyfills.js'
import type { Stream } from '@libp2p/interface'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger } from '../../shared/log.js'
import { helloOf, localCatalog } from '../../main/peers/catalog/handler.js'
import { CATALOG_PROTOCOL, CatalogLimits, decodeCids, encodeHave, encodeList, validateRequest } from '../../main/peers/catalog/protocol.js'
import { loadOrCreatePeerKey } from '../../main/peers/identity.js'
import { loadLibp2p, type Stack } from '../../main/peers/libp2p.js'
import { OBJECTS_PROTOCOL, ObjectsLimits, validateRangeRequest, type RangeRequest } from '../../main/peers/objects/protocol.js'
import { TeamStore, teamPrologue } from '../../main/peers/team.js'
import { decodeJson, encodeFrame, FrameKind, jsonFrame, StreamReader } from '../../main/peers/wire.js'
import { Library } from '../../main/store/library.js'
import { CID_BYTES } from '../../shared/ids.js'

const { createStack } = await loadLibp2p()

/** Reads `length` true bytes of an object at `offset` (short at the end of the file). */
export type ReadBytes = (offset: number, length: number) => Promise<Uint8Array>

export interface HostileBehaviour {
  /** The size claimed for an object held (default: the true one), in `have` and in range headers. */
  claimSize?: (sha: string, size: number) => number
  /** Send a range's bytes after its header (default: honestly, as fast as the stream takes them). */
  sendRange?: (req: RangeRequest, stream: Stream, read: ReadBytes, stop: AbortSignal) => Promise<void>
}

export interface Hostile {
  peerId: string
  addr: string
  /** `have` requests answered so far. */
  haves: number
  /** Range requests received so far. */
  ranges: number
  stop: () => Promise<void>
}

/** Honest bytes, in 1 MiB pieces, waiting for the stream to drain. */
export async function sendHonestly(req: RangeRequest, stream: Stream, read: ReadBytes, stop: AbortSignal): Promise<void> {
  for (let at = req.offset; at < req.offset + req.length;) {
    const b = await read(at, Math.min(ObjectsLimits.sendChunkBytes, req.offset + req.length - at))
    if (b.byteLength === 0) break
    if (!stream.send(b)) await stream.onDrain({ signal: stop })
    at += b.byteLength
  }
  await stream.close({ signal: stop })
}

/** True bytes, one every `everyMs` (until the stream is closed or the test stops). */
export function drip(everyMs: number) {
  return async (req: RangeRequest, stream: Stream, read: ReadBytes, stop: AbortSignal): Promise<void> => {
    for (let at = req.offset; at < req.offset + req.length && stream.writeStatus === 'writable' && !stop.aborted; at++) {
      stream.send(await read(at, 1))
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, everyMs)
        stop.addEventListener(
          'abort',
          () => {
            clearTimeout(timer)
            resolve()
          },
          { once: true },
        )
        stream.addEventListener(
          'close',
          () => {
            clearTimeout(timer)
            resolve()
          },
          { once: true },
        )
      })
    }
  }
}

export async function hostileSeeder(t: { after: (fn: () => Promise<void>) => void }, home: string, behaviour: HostileBehaviour): Promise<Hostile> {
  const log = silentLogger()
  const team = await new TeamStore(home).require()
  const library = new Library({ log }, { home })
  await library.start()
  const stop = new AbortController()
  const claim = behaviour.claimSize ?? ((_sha: string, size: number) => size)
  const sendRange = behaviour.sendRange ?? sendHonestly
  const stack: Stack = await createStack({
    privateKey: await loadOrCreatePeerKey(join(home, 'hostile-key'), log),
    prologue: teamPrologue(team.secret),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    isBlocked: () => false,
    agent: 'hostile',
  })
  const h: Hostile = {
    peerId: stack.peerId.toString(),
    addr: '',
    haves: 0,
    ranges: 0,
    stop: async () => {
      if (stop.signal.aborted) return
      stop.abort()
      await stack.stop()
      await library.stop()
    },
  }

  await stack.handle(
    CATALOG_PROTOCOL,
    async (s: Stream) => {
      try {
        const r = new StreamReader(s, 'hostile catalog', 1 << 20)
        const req = validateRequest(decodeJson((await r.readFrame(CatalogLimits.requestBytes, stop.signal)).payload, 'hostile'), 'a test peer')
        if (req.t === 'hello') s.send(jsonFrame(helloOf(library, 'hostile')))
        else if (req.t === 'announce') s.send(jsonFrame({ ok: true }))
        else if (req.t === 'list') s.send(jsonFrame(encodeList(localCatalog(library))))
        else if (req.t === 'state') s.send(encodeFrame(FrameKind.Bytes, library.state(req.id).raw))
        else {
          const shas = decodeCids((await r.readFrame(req.n * CID_BYTES, stop.signal)).payload, req.n, 'a test peer')
          s.send(
            encodeFrame(
              FrameKind.Bytes,
              encodeHave(
                shas.map(sha => {
                  const size = library.isPresent(sha) ? library.objectSize(sha) : null
                  return size === null ? undefined : claim(sha, size)
                }),
              ),
            ),
          )
          h.haves++
        }
        await s.close({ signal: stop.signal })
      } catch (err) {
        s.abort(err as Error)
      }
    },
    { maxInboundStreams: 64 },
  )

  await stack.handle(
    OBJECTS_PROTOCOL,
    async (s: Stream) => {
      try {
        const r = new StreamReader(s, 'hostile objects', 1 << 20)
        const req = validateRangeRequest(decodeJson((await r.readFrame(ObjectsLimits.requestBytes, stop.signal)).payload, 'hostile'), 'a test peer')
        h.ranges++
        const size = library.objectSize(req.sha) ?? 0
        s.send(jsonFrame({ size: claim(req.sha, size), offset: req.offset, length: req.length }))
        const fh = await open(library.objects.path(req.sha), 'r')
        try {
          const read: ReadBytes = async (offset, length) => {
            const b = Buffer.alloc(Math.max(0, Math.min(length, size - offset)))
            if (b.byteLength > 0) await fh.read(b, 0, b.byteLength, offset)
            return b
          }
          await sendRange(req, s, read, stop.signal)
        } finally {
          await fh.close()
        }
      } catch (err) {
        s.abort(err as Error)
      }
    },
    { maxInboundStreams: 64, maxOutboundStreams: 64 },
  )

  await stack.start()
  h.addr = stack.getMultiaddrs()[0].toString()
  t.after(h.stop)
  return h
}
