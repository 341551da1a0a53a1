/** Serving the catalog protocol: what this library holds, to team peers only. */
import type { Stream } from '@libp2p/interface'
import { createHash } from 'node:crypto'
import { BadInputError, toWireError, UnknownRevisionError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { Library } from '../../store/library.js'
import { deadline, decodeJson, errorFrame, encodeFrame, FrameKind, jsonFrame, send, StreamReader, withDeadline } from '../wire.js'
import { CID_BYTES } from '../../../shared/ids.js'
import {
  CatalogLimits,
  CatalogTimeouts,
  decodeCids,
  encodeHave,
  encodeList,
  validateRequest,
  type CatalogTimeoutsT,
  type Hello,
  type RemoteRevision,
} from './protocol.js'

export interface CatalogServerDeps {
  library: Library
  log: Logger
  /** Our display name. */
  name: () => string
  /** A peer said hello or announced a changed catalog. */
  onPeerCatalog: (peer: string, info: { name?: string; catalog: string }) => void
  /** Defaults: CatalogTimeouts (tests shorten them). */
  timeouts?: CatalogTimeoutsT
}

/** Our revisions as peers see them. */
export function localCatalog(library: Library): RemoteRevision[] {
  return library.list().map(r => ({ id: r.id, names: r.names, bytes: r.bytes, objects: r.objects, complete: r.complete }))
}

/** A short fingerprint of the catalog: peers re-list when it changes. */
export function catalogVersion(revs: RemoteRevision[]): string {
  const h = createHash('sha256')
  for (const r of [...revs].sort((a, b) => (a.id < b.id ? -1 : 1))) h.update(`${r.id}:${r.complete ? 1 : 0}:${r.names.join(',')}\n`)
  return h.digest('hex').slice(0, 16)
}

export function helloOf(library: Library, name: string): Hello {
  const revs = localCatalog(library)
  return { name, revisions: revs.length, catalog: catalogVersion(revs) }
}

export async function serveCatalog(deps: CatalogServerDeps, stream: Stream, peer: string, stop: AbortSignal): Promise<void> {
  const what = `catalog request from ${peer.slice(-8)}`
  const d = deadline(stop, (deps.timeouts ?? CatalogTimeouts).requestMs)
  const signal = d.signal
  const reader = new StreamReader(stream, what, 1 << 20)
  try {
    const f = await reader.readFrame(CatalogLimits.requestBytes, signal)
    if (f.kind !== FrameKind.Json) throw new BadInputError(`${what}: the request is not a JSON frame`)
    const req = validateRequest(decodeJson(f.payload, what), peer)
    const lib = deps.library
    switch (req.t) {
      case 'hello':
        deps.onPeerCatalog(peer, { name: req.name, catalog: req.catalog })
        await send(stream, jsonFrame(helloOf(lib, deps.name())), signal)
        break
      case 'announce':
        deps.onPeerCatalog(peer, { catalog: req.catalog })
        await send(stream, jsonFrame({ ok: true }), signal)
        break
      case 'list':
        await send(stream, jsonFrame(encodeList(localCatalog(lib))), signal)
        break
      case 'state': {
        const info = lib.get(req.id)
        if (info === undefined) throw new UnknownRevisionError(`revision ${req.id}: not in this library`)
        await send(stream, encodeFrame(FrameKind.Bytes, lib.state(req.id).raw), signal)
        break
      }
      case 'have': {
        const b = await reader.readFrame(req.n * CID_BYTES, signal)
        if (b.kind !== FrameKind.Bytes) throw new BadInputError(`${what}: the CID list is not a bytes frame`)
        const shas = decodeCids(b.payload, req.n, peer)
        const sizes = shas.map(s => (lib.isPresent(s) ? (lib.objectSize(s) ?? undefined) : undefined))
        await send(stream, encodeFrame(FrameKind.Bytes, encodeHave(sizes)), signal)
        break
      }
    }
    await stream.close({ signal })
  } catch (err) {
    const w = toWireError(err)
    deps.log('%s failed: %s', what, w.message)
    try {
      if (stream.writeStatus === 'writable') {
        stream.send(errorFrame(w.code, w.message))
        await withDeadline(stop, 1000, async signal => {
          await stream.close({ signal })
        })
      }
    } catch {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  } finally {
    d.done()
  }
}
