/** Serving object ranges from the store, with backpressure, to team peers only. */
import type { Stream } from '@libp2p/interface'
import { open } from 'node:fs/promises'
import { BadInputError, ObjectMissingError, toWireError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { Library } from '../../store/library.js'
import { decodeJson, errorFrame, FrameKind, jsonFrame, send, StreamReader, withDeadline } from '../wire.js'
import { ObjectsLimits, ObjectsTimeouts, validateRangeRequest, type ObjectsTimeoutsT } from './protocol.js'

export interface ObjectsServerDeps {
  library: Library
  log: Logger
  /** Bytes sent to each peer (for stats and tests). */
  onSent?: (peer: string, bytes: number) => void
  /** Defaults: ObjectsTimeouts (tests shorten them). */
  timeouts?: ObjectsTimeoutsT
}

export async function serveObjects(deps: ObjectsServerDeps, stream: Stream, peer: string, stop: AbortSignal): Promise<void> {
  const what = `objects request from ${peer.slice(-8)}`
  const reader = new StreamReader(stream, what, 64 << 10)
  let fh: Awaited<ReturnType<typeof open>> | undefined
  let headerSent = false
  const to = deps.timeouts ?? ObjectsTimeouts
  try {
    const f = await withDeadline(stop, to.headerMs, async head => await reader.readFrame(ObjectsLimits.requestBytes, head))
    if (f.kind !== FrameKind.Json) throw new BadInputError(`${what}: the request is not a JSON frame`)
    const req = validateRangeRequest(decodeJson(f.payload, what), peer)
    if (!deps.library.isPresent(req.sha)) throw new ObjectMissingError(`object ${req.sha}: not in this library`, { sha: req.sha })
    try {
      fh = await open(deps.library.objects.path(req.sha), 'r')
    } catch {
      throw new ObjectMissingError(`object ${req.sha}: not readable in this library`, { sha: req.sha })
    }
    const size = (await fh.stat()).size
    if (req.offset + req.length > size) throw new BadInputError(`${what}: ${req.length} bytes at ${req.offset} lie beyond the object's ${size} bytes`)
    headerSent = true
    await withDeadline(stop, to.headerMs, async head => {
      await send(stream, jsonFrame({ size, offset: req.offset, length: req.length }), head)
    })
    let pos = req.offset
    const end = req.offset + req.length
    while (pos < end) {
      const n = Math.min(ObjectsLimits.sendChunkBytes, end - pos)
      const buf = Buffer.allocUnsafe(n)
      const { bytesRead } = await fh.read(buf, 0, n, pos)
      if (bytesRead !== n) throw new ObjectMissingError(`object ${req.sha}: the file shrank while being sent`)
      // A stalled reader is dropped after the idle timeout.
      if (!stream.send(buf))
        await withDeadline(stop, to.idleMs, async sig => {
          await stream.onDrain({ signal: sig })
        })
      pos += n
      deps.onSent?.(peer, n)
    }
    await withDeadline(stop, to.idleMs, async sig => {
      await stream.close({ signal: sig })
    })
  } catch (err) {
    const w = toWireError(err)
    deps.log('%s failed: %s', what, w.message)
    try {
      if (!headerSent && stream.writeStatus === 'writable') {
        stream.send(errorFrame(w.code, w.message))
        await withDeadline(stop, 1000, async sig => {
          await stream.close({ signal: sig })
        })
      } else {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    } catch {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  } finally {
    await fh?.close().catch(() => {})
  }
}
