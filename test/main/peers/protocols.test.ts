/**
 * The catalog and objects protocols against a hostile team member (it holds
 * the team secret, so the handshake passes): garbage, oversized frames and
 * stalls are refused or dropped by deadline, and the node keeps serving; a
 * peer answering garbage is a typed error for our clients. In-process libp2p
 * on 127.0.0.1, no mDNS, protocol deadlines shortened for the test.
 */
import '../../../main/polyfills.js'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { ErrorCodes } from '../../../shared/errors.js'
import { cidOf } from '../../../shared/ids.js'
import { silentLogger } from '../../../shared/log.js'
import { App } from '../../../main/app/index.js'
import { CatalogClient } from '../../../main/peers/catalog/client.js'
import { ObjectsClient } from '../../../main/peers/objects/client.js'
import { CATALOG_PROTOCOL, CATALOG_VERSIONS } from '../../../main/peers/catalog/protocol.js'
import { loadOrCreatePeerKey } from '../../../main/peers/identity.js'
import { loadLibp2p, type Stack } from '../../../main/peers/libp2p.js'
import type { PeerNode } from '../../../main/peers/node.js'
import { createPeerServices } from '../../../main/peers/index.js'
import { OBJECTS_PROTOCOL, OBJECTS_VERSIONS } from '../../../main/peers/objects/protocol.js'
import { TeamStore, teamPrologue } from '../../../main/peers/team.js'
import { decodeErrorFrame, FrameKind, jsonFrame, StreamReader } from '../../../main/peers/wire.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { buildState, smallObject, writeTarball } from '../../helpers/revisions.js'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const { createStack, parseMultiaddr, parsePeerId } = await loadLibp2p()

// idleMs: long enough that a busy machine starving the slow consumer below does not look like a stalled peer; the stalled-reader case still ends well inside its 8 s.
const FAST = { catalog: { requestMs: 1500 }, objects: { headerMs: 1000, idleMs: 3000 } }

let dir: string
let app: App
let node: PeerNode
let hostile: Stack
let mode = 'ok'
let revId: string
let objects: Array<{ sha: string; size: number | null }>
let bigObject: { sha: string; size: number }

/** Open a stream from the hostile peer to the node. */
async function open(protocol: string): Promise<Stream> {
  return await hostile.dialProtocol(parseMultiaddr(node.addrs()[0]), protocol)
}

function closed(s: Stream): Promise<void> {
  return new Promise(resolve => {
    if (s.status !== 'open') resolve()
    else
      s.addEventListener(
        'close',
        () => {
          resolve()
        },
        { once: true },
      )
  })
}

async function answer(s: Stream): Promise<{ kind: number; text: string } | 'closed'> {
  const r = new StreamReader(s, 'test', 1 << 20)
  try {
    const f = await r.readFrame(1 << 20, AbortSignal.timeout(3000))
    return { kind: f.kind, text: new TextDecoder().decode(f.payload) }
  } catch {
    return 'closed'
  }
}

describe('peers: protocols against a hostile team member', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldsync-proto-'))
    const home = join(dir, 'node')
    const { team } = await new TeamStore(home).create()
    app = new App({ home, log: silentLogger() })
    await app.start()
    revId = (await app.importer.importPath(join(vendoredUpstreamDir, 'pvwificonnect.tgz'), { name: 'wifi' })).id
    objects = app.library.objectsOf(revId)
    // An object larger than any yamux window, for the backpressure test.
    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    const big = await smallObject(src, 'big', randomBytes(24 << 20).toString('base64'))
    const tiny = await smallObject(src, 'tiny', 'x')
    const state = buildState({
      kernel: { ...tiny, key: 'bsp/kernel.img' },
      initrd: { ...tiny, key: 'bsp/pantavisor' },
      containers: [{ name: 'app', root: { ...big, key: 'app/root.squashfs' }, config: { ...tiny, key: 'app/lxc.container.conf' } }],
    })
    await writeTarball(join(src, 'big.tar'), JSON.stringify(state), [big, tiny])
    await app.importer.importPath(join(src, 'big.tar'), { name: 'big' })
    bigObject = { sha: big.sha, size: big.size }
    node = (
      await app.add(
        'peers',
        createPeerServices({ library: app.library, log: silentLogger() }, { home, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, timeouts: FAST }),
      )
    ).node
    hostile = await createStack({
      privateKey: await loadOrCreatePeerKey(join(dir, 'hostile'), silentLogger()),
      prologue: teamPrologue(team.secret),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      isBlocked: () => false,
      agent: 'hostile',
    })
    await hostile.handle(CATALOG_PROTOCOL, async (s: Stream) => {
      if (mode === 'garbage') s.send(Uint8Array.from([0, 0, 0, 9, 1, 1, 2, 3]))
      else if (mode === 'huge') s.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1]))
      else if (mode === 'badlist') s.send(jsonFrame({ revisions: [{ id: 'nope' }] }))
      else if (mode === 'stall') return
      await s.close().catch(() => {})
    })
    await hostile.handle(OBJECTS_PROTOCOL, async (s: Stream) => {
      const req = { sha: objects[0].sha, offset: 0, length: 1000 }
      if (mode === 'short') {
        s.send(jsonFrame({ size: 5000, offset: 0, length: 1000 }))
        s.send(new Uint8Array(10))
      } else if (mode === 'wrongrange') {
        s.send(jsonFrame({ size: 5000, offset: 7, length: req.length }))
      } else if (mode === 'stall') {
        s.send(jsonFrame({ size: 5000, offset: 0, length: 1000 }))
        return
      }
      await s.close().catch(() => {})
    })
    await hostile.start()
  })

  after(async () => {
    await hostile?.stop()
    await app?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('garbage and oversized frames are refused; the node keeps serving', async () => {
    let s = await open(CATALOG_PROTOCOL)
    s.send(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'))
    const a1 = await answer(s)
    assert.ok(a1 === 'closed' || a1.kind === FrameKind.Error)
    s = await open(CATALOG_PROTOCOL)
    s.send(Uint8Array.from([0x7f, 0xff, 0xff, 0xff, 1]))
    const a2 = await answer(s)
    assert.ok(a2 !== 'closed' && a2.kind === FrameKind.Error && JSON.parse(a2.text).code === ErrorCodes.Protocol)
    s = await open(OBJECTS_PROTOCOL)
    s.send(jsonFrame({ cid: cidOf(objects[0].sha), offset: 0, length: 1e12 }))
    const a3 = await answer(s)
    assert.ok(a3 !== 'closed' && a3.kind === FrameKind.Error)
    s = await open(OBJECTS_PROTOCOL)
    s.send(jsonFrame({ cid: cidOf(createHash('sha256').update('absent').digest('hex')), offset: 0, length: 10 }))
    const a4 = await answer(s)
    assert.ok(a4 !== 'closed' && a4.kind === FrameKind.Error && JSON.parse(a4.text).code === ErrorCodes.ObjectMissing)
    // Still serving properly.
    const client = new CatalogClient((peer, proto, signal) => hostile.dialProtocol(parseMultiaddr(node.addrs()[0]), proto, { signal }))
    const list = await client.list(node.peerId, AbortSignal.timeout(3000))
    assert.ok(list.some(r => r.id === revId))
    const shas = [...Array.from({ length: 3000 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')), ...objects.map(o => o.sha)]
    const have = await client.have(node.peerId, shas, AbortSignal.timeout(3000))
    assert.deepEqual([...have.entries()].sort(), objects.map(o => [o.sha, o.size]).sort())
  })

  it('versions: a 1.0.0 peer gets E_PEER_VERSION from the node; the node, dialing a peer that speaks only 1.0.0, says so', async () => {
    for (const older of [CATALOG_VERSIONS.older[0], OBJECTS_VERSIONS.older[0]]) {
      const s = await open(older)
      s.send(jsonFrame({ t: 'list' }))
      const a = await answer(s)
      assert.ok(a !== 'closed' && a.kind === FrameKind.Error, older)
      assert.equal(decodeErrorFrame(new TextEncoder().encode(a.text), older).code, ErrorCodes.PeerVersion)
    }
    const old = await createStack({
      privateKey: await loadOrCreatePeerKey(join(dir, 'old'), silentLogger()),
      prologue: teamPrologue((await new TeamStore(join(dir, 'node')).require()).secret),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      isBlocked: () => false,
      agent: 'fieldsync 1.0.0',
    })
    try {
      await old.handle([...CATALOG_VERSIONS.older, ...OBJECTS_VERSIONS.older], (s: Stream) => {
        s.abort(new Error('not used by this test'))
      })
      await old.start()
      await assert.rejects(
        node.dial(old.getMultiaddrs()[0].toString(), AbortSignal.timeout(5000)),
        (e: { code?: string; details?: Record<string, unknown> }) => e.code === ErrorCodes.PeerVersion && e.details?.peer === old.peerId.toString(),
      )
    } finally {
      await old.stop()
    }
  })

  it('a slow consumer gets every byte: backpressure pauses the stream, and the end arrives while paused', async () => {
    const client = new ObjectsClient((_p, proto, signal) => hostile.dialProtocol(parseMultiaddr(node.addrs()[0]), proto, { signal }))
    for (const delayEvery of [1, 7]) {
      const h = createHash('sha256')
      let n = 0
      let chunks = 0
      await client.fetch(
        node.peerId,
        { sha: bigObject.sha, offset: 0, length: bigObject.size },
        {
          write: async c => {
            h.update(c)
            n += c.byteLength
            if (++chunks % delayEvery === 0) await new Promise(resolve => setTimeout(resolve, 2))
          },
        },
        AbortSignal.timeout(20_000),
        bigObject.size,
      )
      assert.equal(n, bigObject.size)
      assert.equal(h.digest('hex'), bigObject.sha)
    }
  })

  it('a stalled requester is dropped by the deadline', async () => {
    const s = await open(OBJECTS_PROTOCOL)
    const t0 = Date.now()
    const a = await answer(s)
    const ms = Date.now() - t0
    assert.ok(a !== 'closed' && a.kind === FrameKind.Error && JSON.parse(a.text).code === ErrorCodes.Timeout, JSON.stringify(a))
    assert.ok(ms >= 900 && ms < 5000, `dropped after ${ms} ms`)
    // One that asks, then never reads: the sender stops on backpressure and drops it when idle.
    const big = bigObject
    const s2 = await open(OBJECTS_PROTOCOL)
    s2.maxReadBufferLength = 64 << 20
    s2.pause()
    s2.send(jsonFrame({ cid: cidOf(big.sha), offset: 0, length: big.size }))
    await Promise.race([closed(s2), new Promise(resolve => setTimeout(resolve, 8000))])
    assert.ok(
      s2.status === 'reset' || s2.status === 'aborted' || s2.status === 'closed',
      `stream ${s2.status} read ${s2.readStatus} buffered ${s2.readBufferLength}`,
    )
    assert.ok(s2.readBufferLength < big.size, 'the sender did not push the whole object into a paused stream')
  })

  it('a peer that answers garbage or stalls is a typed error for our clients', async () => {
    const peer = await node.dial(hostile.getMultiaddrs()[0].toString(), AbortSignal.timeout(5000)).catch(() => hostile.peerId.toString())
    assert.equal(peer, hostile.peerId.toString())
    const expect = async (m: string, fn: () => Promise<unknown>, code: string) => {
      mode = m
      await assert.rejects(fn(), (e: { code?: string }) => e.code === code, `${m} -> ${code}`)
    }
    const sig = () => AbortSignal.timeout(5000)
    await expect('garbage', () => node.catalog.list(peer, sig()), ErrorCodes.Protocol)
    await expect('huge', () => node.catalog.list(peer, sig()), ErrorCodes.Protocol)
    await expect('badlist', () => node.catalog.list(peer, sig()), ErrorCodes.Protocol)
    await expect('stall', () => node.catalog.list(peer, sig()), ErrorCodes.Timeout)
    const req = { sha: objects[0].sha, offset: 0, length: 1000 }
    const sink = { write: () => {} }
    await expect('short', () => node.objects.fetch(peer, req, sink, sig()), ErrorCodes.Protocol)
    await expect('wrongrange', () => node.objects.fetch(peer, req, sink, sig()), ErrorCodes.Protocol)
    await expect('stall', () => node.objects.fetch(peer, req, sink, sig()), ErrorCodes.Timeout)
    // And the node is fine: it still answers its own team.
    mode = 'ok'
    const client = new CatalogClient((_p, proto, signal) => hostile.dialProtocol(parsePeerId(node.peerId), proto, { signal }))
    assert.equal((await client.hello(node.peerId, { name: 'h', catalog: '' }, sig())).revisions, 2)
  })
})
