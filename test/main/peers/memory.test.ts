/**
 * The catalog and objects protocols in memory, as js-libp2p tests its own:
 * the real clients and handlers over a stream pair (@libp2p/utils's
 * streamPair, a mock muxer), the protocol negotiated by multistream-select
 * as a connection does it. No sockets, no libp2p node: versions, CIDs and
 * frames only. Real networks are the integration lane's
 * (test/integration/peers-*.test.ts) and protocols.test.ts's.
 */
import '../../../main/polyfills.js'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { handle, select } from '@libp2p/multistream-select'
import { streamPair } from '@libp2p/utils'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { App } from '../../../main/app/index.js'
import { CatalogClient } from '../../../main/peers/catalog/client.js'
import { serveCatalog } from '../../../main/peers/catalog/handler.js'
import { CATALOG_PROTOCOL, CATALOG_VERSIONS } from '../../../main/peers/catalog/protocol.js'
import { ObjectsClient } from '../../../main/peers/objects/client.js'
import { serveObjects } from '../../../main/peers/objects/handler.js'
import { OBJECTS_PROTOCOL, OBJECTS_VERSIONS } from '../../../main/peers/objects/protocol.js'
import { answerOlderVersion, decodeErrorFrame, encodeFrame, FrameKind, jsonFrame, StreamReader, type StreamOpener } from '../../../main/peers/wire.js'
import { ErrorCodes } from '../../../shared/errors.js'
import { CID_BYTES, cidOf, shaToCid } from '../../../shared/ids.js'
import { silentLogger } from '../../../shared/log.js'
import { canonicalBytes } from '../../../shared/state/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

/** The peer id the handlers and clients see. */
const PEER = '12D3KooWMemoryPeer'
const V1_CATALOG = CATALOG_VERSIONS.older[0]
const V1_OBJECTS = OBJECTS_VERSIONS.older[0]

type Serve = (stream: Stream) => void

/**
 * A peer in memory that serves `protocols`: each stream the opener makes is
 * one side of a fresh stream pair, negotiated with multistream-select as a
 * libp2p connection's newStream does (select on our side, handle on theirs).
 */
function memoryPeer(protocols: Record<string, Serve>): StreamOpener {
  return async (_peer, wanted, signal) => {
    const [ours, theirs] = await streamPair()
    const served = handle(theirs, Object.keys(protocols), { signal })
    try {
      ours.protocol = await select(ours, wanted, { signal })
    } catch (err) {
      ours.abort(err as Error)
      theirs.abort(err as Error)
      await served.catch(() => {})
      throw err
    }
    theirs.protocol = await served
    protocols[theirs.protocol](theirs)
    return ours
  }
}

/** A library with one real revision (an upstream export, vendored). */
async function library(t: TestContext) {
  const app = new App({ home: join(await tempDir(t, 'fieldsync-memory-'), 'home'), log: silentLogger() })
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  const id = (await app.importer.importPath(join(vendoredUpstreamDir, 'watchdog_pinger.tar'), { name: 'pinger' })).id
  const objects = app.library.objectsOf(id).filter(o => o.present && o.size !== null) as Array<{ sha: string; size: number }>
  const stop = new AbortController()
  t.after(() => {
    stop.abort()
  })
  const log = silentLogger()
  const serve: Record<string, Serve> = {
    [CATALOG_PROTOCOL]: s => {
      void serveCatalog({ library: app.library, log, name: () => 'memory', onPeerCatalog: () => {} }, s, PEER, stop.signal)
    },
    [OBJECTS_PROTOCOL]: s => {
      void serveObjects({ library: app.library, log }, s, PEER, stop.signal)
    },
  }
  for (const versions of [CATALOG_VERSIONS, OBJECTS_VERSIONS]) {
    for (const older of versions.older)
      serve[older] = s => {
        void answerOlderVersion(s, versions, stop.signal)
      }
  }
  return { app, id, objects, serve, stop: stop.signal }
}

/** Send raw frames on a protocol, as a peer of any version would, and read the one answer frame. */
async function exchange(opener: StreamOpener, protocol: string, frames: Uint8Array[]): Promise<{ kind: number; payload: Uint8Array }> {
  const signal = AbortSignal.timeout(5000)
  const s = await opener(PEER, [protocol], signal)
  const reader = new StreamReader(s, 'test', 1 << 20)
  for (const f of frames) s.send(f)
  await s.close({ signal })
  return await reader.readFrame(1 << 20, signal)
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const digest = (n: number) => new Uint8Array(n).fill(7)

/** CIDs no Fieldsync makes, each wrong in one way (v0, another codec, another hash, a short digest, another spelling). */
const BAD_CIDS: Record<string, string> = {
  CIDv0: CID.createV0(Digest.create(0x12, digest(32))).toString(),
  'dag-pb codec': CID.createV1(0x70, Digest.create(0x12, digest(32))).toString(),
  'sha2-512': CID.createV1(0x55, Digest.create(0x13, digest(64))).toString(),
  'identity hash': CID.createV1(0x55, Digest.create(0x00, digest(32))).toString(),
  '20-byte sha2-256 digest': CID.createV1(0x55, Digest.create(0x12, digest(20))).toString(),
  'base36 spelling': shaToCid(sha('a')).toString(base36),
  'hex sha (version 1.0.0)': sha('a'),
  'not a CID': 'bafkrei-not-a-cid',
}

describe('peers in memory: normal requests', () => {
  it('hello, list, state and have go over a stream pair, revisions and objects named by CID on the wire', async t => {
    const { app, id, objects, serve } = await library(t)
    const client = new CatalogClient(memoryPeer(serve))
    const sig = () => AbortSignal.timeout(5000)
    const hello = await client.hello(PEER, { name: 'me', catalog: '' }, sig())
    assert.equal(hello.revisions, 1)
    const list = await client.list(PEER, sig())
    assert.deepEqual(
      list.map(r => r.id),
      [id],
    )
    assert.deepEqual(list[0].names, ['pinger'])
    const raw = await client.state(PEER, id, sig())
    assert.equal(
      createHash('sha256')
        .update(canonicalBytes(app.library.state(id)))
        .digest('hex'),
      id,
    )
    assert.deepEqual(raw, app.library.state(id).raw)
    const absent = [sha('absent 1'), sha('absent 2')]
    const have = await client.have(PEER, [absent[0], ...objects.map(o => o.sha), absent[1]], sig())
    assert.deepEqual([...have.entries()].sort(), objects.map(o => [o.sha, o.size]).sort())
    // The list answer itself carries CIDs, not hex ids.
    const a = await exchange(memoryPeer(serve), CATALOG_PROTOCOL, [jsonFrame({ t: 'list' })])
    const wire = JSON.parse(new TextDecoder().decode(a.payload)) as { revisions: Array<Record<string, unknown>> }
    assert.equal(wire.revisions[0].cid, cidOf(id))
    assert.equal(wire.revisions[0].id, undefined)
  })

  it('an object range arrives whole, asked for by its CID', async t => {
    const { objects, serve } = await library(t)
    const client = new ObjectsClient(memoryPeer(serve))
    const o = objects.reduce((a, b) => (a.size >= b.size ? a : b))
    const h = createHash('sha256')
    const half = Math.floor(o.size / 2)
    for (const [offset, length] of [
      [0, half],
      [half, o.size - half],
    ]) {
      const header = await client.fetch(
        PEER,
        { sha: o.sha, offset, length },
        {
          write: c => {
            h.update(c)
          },
        },
        AbortSignal.timeout(5000),
        o.size,
      )
      assert.deepEqual(header, { size: o.size, offset, length })
    }
    assert.equal(h.digest('hex'), o.sha)
  })
})

describe('peers in memory: versions', () => {
  it('a peer of version 1.0.0 asking us anything gets one E_PEER_VERSION error frame, not a hang', async t => {
    const { objects, serve } = await library(t)
    const opener = memoryPeer(serve)
    // Requests exactly as Fieldsync 1.0.0 sent them (hex shas).
    const asks: Array<[string, Uint8Array[]]> = [
      [V1_CATALOG, [jsonFrame({ t: 'hello', name: 'old', catalog: '' })]],
      [V1_CATALOG, [jsonFrame({ t: 'have', n: 1 }), encodeFrame(FrameKind.Bytes, new Uint8Array(32))]],
      [V1_OBJECTS, [jsonFrame({ sha: objects[0].sha, offset: 0, length: 1 })]],
    ]
    for (const [protocol, frames] of asks) {
      const a = await exchange(opener, protocol, frames)
      assert.equal(a.kind, FrameKind.Error, protocol)
      const err = decodeErrorFrame(a.payload, protocol)
      assert.equal(err.code, ErrorCodes.PeerVersion, protocol)
    }
  })

  it('our clients say that a peer runs an older Fieldsync (it speaks only 1.0.0), naming the peer', async () => {
    const old = memoryPeer({
      [V1_CATALOG]: s => {
        s.abort(new Error('unused'))
      },
      [V1_OBJECTS]: s => {
        s.abort(new Error('unused'))
      },
    })
    const isOlderPeer = (protocol: string) => (e: { code?: string; details?: Record<string, unknown> }) =>
      e.code === ErrorCodes.PeerVersion && e.details?.peer === PEER && e.details?.protocol === protocol
    await assert.rejects(new CatalogClient(old).hello(PEER, { name: 'me', catalog: '' }, AbortSignal.timeout(5000)), isOlderPeer(V1_CATALOG))
    await assert.rejects(new CatalogClient(old).list(PEER, AbortSignal.timeout(5000)), isOlderPeer(V1_CATALOG))
    await assert.rejects(
      new ObjectsClient(old).fetch(PEER, { sha: sha('o'), offset: 0, length: 1 }, { write: () => {} }, AbortSignal.timeout(5000)),
      isOlderPeer(V1_OBJECTS),
    )
  })

  it('a peer that speaks no version we know is E_PEER_VERSION too, not a protocol mismatch', async () => {
    const other = memoryPeer({
      '/fieldsync/catalog/9.0.0': s => {
        s.abort(new Error('unused'))
      },
    })
    await assert.rejects(
      new CatalogClient(other).list(PEER, AbortSignal.timeout(5000)),
      (e: { code?: string; details?: Record<string, unknown> }) => e.code === ErrorCodes.PeerVersion && e.details?.peer === PEER,
    )
  })
})

describe('peers in memory: malformed CIDs', () => {
  it('a request naming a revision or an object by anything but a raw sha2-256 CIDv1 is refused with E_PROTOCOL', async t => {
    const { serve } = await library(t)
    const opener = memoryPeer(serve)
    for (const [what, bad] of Object.entries(BAD_CIDS)) {
      for (const [protocol, frame] of [
        [CATALOG_PROTOCOL, jsonFrame({ t: 'state', cid: bad })],
        [OBJECTS_PROTOCOL, jsonFrame({ cid: bad, offset: 0, length: 1 })],
      ] as const) {
        const a = await exchange(opener, protocol, [frame])
        assert.equal(a.kind, FrameKind.Error, `${what} on ${protocol}`)
        assert.equal(decodeErrorFrame(a.payload, what).code, ErrorCodes.Protocol, `${what} on ${protocol}`)
      }
    }
  })

  it('a have list with one binary CID of another codec, hash or length is refused', async t => {
    const { objects, serve } = await library(t)
    const opener = memoryPeer(serve)
    const good = shaToCid(objects[0].sha).bytes
    const wrong: Record<string, Uint8Array> = {
      'dag-pb codec': Uint8Array.from([1, 0x70, ...good.subarray(2)]),
      'another hash': Uint8Array.from([1, 0x55, 0x13, ...good.subarray(3)]),
      'a 31-byte digest': Uint8Array.from([1, 0x55, 0x12, 31, ...good.subarray(4, 35), 0]),
      'version 0': Uint8Array.from([0, ...good.subarray(1)]),
    }
    for (const [what, b] of Object.entries(wrong)) {
      assert.equal(b.byteLength, CID_BYTES)
      const a = await exchange(opener, CATALOG_PROTOCOL, [jsonFrame({ t: 'have', n: 2 }), encodeFrame(FrameKind.Bytes, Uint8Array.from([...good, ...b]))])
      assert.equal(a.kind, FrameKind.Error, what)
      assert.equal(decodeErrorFrame(a.payload, what).code, ErrorCodes.Protocol, what)
    }
    // The same list with two good CIDs is answered: the refusals above are the bad CID's.
    const ok = await exchange(opener, CATALOG_PROTOCOL, [jsonFrame({ t: 'have', n: 2 }), encodeFrame(FrameKind.Bytes, Uint8Array.from([...good, ...good]))])
    assert.equal(ok.kind, FrameKind.Bytes)
  })

  it('a peer listing a revision under a malformed CID is a ProtocolError naming that peer', async () => {
    for (const [what, bad] of Object.entries(BAD_CIDS)) {
      const liar = memoryPeer({
        [CATALOG_PROTOCOL]: s => {
          s.send(jsonFrame({ revisions: [{ cid: bad, names: ['x'], bytes: 1, objects: 1, complete: true }] }))
          void s.close()
        },
      })
      await assert.rejects(
        new CatalogClient(liar).list(PEER, AbortSignal.timeout(5000)),
        (e: { code?: string; details?: Record<string, unknown> }) => e.code === ErrorCodes.Protocol && e.details?.peer === PEER,
        what,
      )
    }
  })
})
