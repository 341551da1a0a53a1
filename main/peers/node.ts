/**
 * PeerNode: the LAN node. A libp2p host (loaded lazily) that proves the team
 * secret in its Noise handshake, serves the catalog and objects protocols to
 * team peers, finds peers by mDNS or by address, and keeps a table of them.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { EventEmitter, setMaxListeners } from 'node:events'
import { hostname } from 'node:os'
import { BugError, NotInTeamError, PeerUnavailableError, UsageError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { Library } from '../store/library.js'
import { CatalogClient } from './catalog/client.js'
import { catalogVersion, helloOf, localCatalog, serveCatalog } from './catalog/handler.js'
import { CATALOG_PROTOCOL, CATALOG_VERSIONS, CatalogLimits, type RemoteRevision } from './catalog/protocol.js'
import { DEFAULT_LISTEN, NodeTuning, type PeerNodeOptions } from './config.js'
import { loadOrCreatePeerKey } from './identity.js'
import type { Libp2pLib, Stack } from './libp2p.js'
import { ObjectsClient } from './objects/client.js'
import { serveObjects } from './objects/handler.js'
import { OBJECTS_PROTOCOL, OBJECTS_VERSIONS, ObjectsLimits } from './objects/protocol.js'
import { PeerTable, type PeerInfo, type PeerTableEvents } from './peer-table.js'
import { BlockList } from './blocklist.js'
import { TeamStore, teamPrologue, type TeamInfo } from './team.js'
import { answerOlderVersion, withDeadline } from './wire.js'

export class PeerNode extends EventEmitter<PeerTableEvents> {
  readonly table = new PeerTable()
  readonly catalog: CatalogClient
  readonly objects: ObjectsClient
  readonly name: string
  readonly blocks: BlockList
  /** Bytes we served, per peer. */
  readonly served = new Map<string, number>()
  private readonly library: Library
  private readonly log: Logger
  private stack?: Stack
  private lib?: Libp2pLib
  private team?: TeamInfo
  private ac = new AbortController()
  private poll?: NodeJS.Timeout
  private lastDataVersion = -1
  private announced = ''
  private readonly helloInFlight = new Map<string, Promise<void>>()
  /** Redials planned for team peers that went away, by peer id. */
  private readonly redials = new Map<string, NodeJS.Timeout>()

  constructor(
    components: { library: Library; log: Logger },
    private readonly opts: PeerNodeOptions,
  ) {
    super()
    this.library = components.library
    this.log = components.log.child('peers')
    this.name = opts.name ?? hostname()
    this.blocks = new BlockList(components.library)
    const open = (peer: string, protocols: string[], signal: AbortSignal) => this.openStream(peer, protocols, signal)
    this.catalog = new CatalogClient(open, opts.timeouts?.catalog)
    this.objects = new ObjectsClient(open, opts.timeouts?.objects)
    this.table.on('peer', p => this.emit('peer', p))
    this.table.on('catalog', c => this.emit('catalog', c))
  }

  get started(): boolean {
    return this.stack !== undefined
  }

  get peerId(): string {
    if (this.stack === undefined) throw new BugError('PeerNode not started')
    return this.stack.peerId.toString()
  }

  get teamInfo(): TeamInfo | undefined {
    return this.team
  }

  addrs(): string[] {
    return this.stack?.getMultiaddrs().map(a => a.toString()) ?? []
  }

  async start(): Promise<void> {
    if (this.stack !== undefined) return
    this.team = await new TeamStore(this.opts.home).require()
    this.ac = new AbortController()
    setMaxListeners(0, this.ac.signal)
    this.lib = await (await import('./libp2p.js')).loadLibp2p()
    const privateKey = await loadOrCreatePeerKey(this.opts.home, this.log)
    const stack = await this.lib.createStack({
      privateKey,
      prologue: teamPrologue(this.team.secret),
      listen: this.opts.listen ?? [...DEFAULT_LISTEN],
      mdns: this.opts.mdns !== false,
      isBlocked: p => this.blocks.has(p),
      agent: 'fieldsync/1',
      log: this.log.child('inbound'),
    })
    this.stack = stack
    const stop = this.ac.signal
    await stack.handle(
      CATALOG_PROTOCOL,
      (stream: Stream, conn: Connection) => {
        void serveCatalog(
          {
            library: this.library,
            log: this.log.child('catalog'),
            name: () => this.name,
            onPeerCatalog: (peer, info) => {
              this.onPeerCatalog(peer, info)
            },
            timeouts: this.opts.timeouts?.catalog,
          },
          stream,
          conn.remotePeer.toString(),
          stop,
        )
      },
      { maxInboundStreams: CatalogLimits.inboundStreams },
    )
    await stack.handle(
      OBJECTS_PROTOCOL,
      (stream: Stream, conn: Connection) => {
        void serveObjects(
          {
            library: this.library,
            log: this.log.child('objects'),
            onSent: (peer, n) => {
              this.served.set(peer, (this.served.get(peer) ?? 0) + n)
            },
            timeouts: this.opts.timeouts?.objects,
          },
          stream,
          conn.remotePeer.toString(),
          stop,
        )
      },
      { maxInboundStreams: ObjectsLimits.inboundStreams, maxOutboundStreams: ObjectsLimits.inboundStreams },
    )
    // A peer running an older Fieldsync opens the older ids: it gets one clear error frame (E_PEER_VERSION).
    for (const versions of [CATALOG_VERSIONS, OBJECTS_VERSIONS]) {
      await stack.handle(
        [...versions.older],
        (stream: Stream) => {
          void answerOlderVersion(stream, versions, stop)
        },
        { maxInboundStreams: 4 },
      )
    }
    stack.addEventListener('connection:open', evt => {
      this.onConnection(evt.detail)
    })
    stack.addEventListener('peer:disconnect', evt => {
      this.onDisconnect(evt.detail)
    })
    stack.addEventListener('peer:discovery', evt => {
      this.onDiscovery(
        evt.detail.id,
        evt.detail.multiaddrs.map(m => m.toString()),
      )
    })
    stack.addEventListener('peer:identify', evt => {
      const id = evt.detail.peerId.toString()
      this.table.update(id, r => {
        for (const a of evt.detail.listenAddrs) r.addrs.add(a.toString())
      })
    })
    await stack.start()
    this.library.on('revision', this.onLocalChange)
    this.poll = setInterval(() => {
      this.checkLocalChange()
    }, NodeTuning.catalogPollMs)
    this.poll.unref()
    this.log('node %s listening on %s', this.peerId, this.addrs().join(' '))
    for (const a of this.opts.peers ?? []) {
      this.dial(a, stop).catch(err => {
        this.log.error('dialing %s failed: %s', a, (err as Error).message)
      })
    }
  }

  async stop(): Promise<void> {
    this.ac.abort()
    for (const t of this.redials.values()) clearTimeout(t)
    this.redials.clear()
    if (this.poll !== undefined) clearInterval(this.poll)
    this.library.off('revision', this.onLocalChange)
    const s = this.stack
    this.stack = undefined
    if (s !== undefined) await s.stop()
  }

  peers(): PeerInfo[] {
    return this.table.list()
  }

  /** Connected team peers usable for objects. */
  teamPeers(): string[] {
    return this.table.teamPeers()
  }

  /** A peer's catalog (fetched when unknown or `refresh`). */
  async catalogOf(peer: string, signal: AbortSignal, refresh = false): Promise<RemoteRevision[]> {
    const r = this.table.get(peer)
    if (!refresh && r?.catalog !== undefined) return r.catalog
    const revs = await this.catalog.list(peer, signal)
    this.table.setCatalog(peer, revs, catalogVersion(revs))
    return revs
  }

  /** Dial a multiaddr (with or without /p2p/<id>); resolves with the peer id once the team handshake passed. */
  /**
   * Connect to a peer by multiaddr and exchange catalogs, within the dial
   * timeout (options, else NodeTuning): the one deadline of every dial by
   * address (--peer, `peers add`, the app's Add peer, the control socket).
   */
  async dial(addr: string, signal: AbortSignal): Promise<string> {
    return await withDeadline(signal, this.opts.dialTimeoutMs ?? NodeTuning.dialTimeoutMs, async s => await this.dialNow(addr, s))
  }

  /**
   * Dial a peer a technician added; if it cannot be reached and `offline` is
   * set, keep its address (it must end in /p2p/<id>) and redial it with
   * backoff, as a team peer that went away: it shows as reconnecting.
   */
  async add(addr: string, o: { offline: boolean; signal: AbortSignal }): Promise<{ peerId: string; reached: boolean }> {
    try {
      return { peerId: await this.dial(addr, o.signal), reached: true }
    } catch (err) {
      const id = /\/p2p\/([^/]+)$/.exec(addr)?.[1]
      if (!o.offline || o.signal.aborted || !(err instanceof PeerUnavailableError)) throw err
      if (id === undefined)
        throw new UsageError(`peer address ${addr}: nothing answered, and a peer kept while offline needs its id: end the address with /p2p/<peer id>`)
      const stack = this.requireStack()
      const peerId = this.lib!.parsePeerId(id)
      await stack.peerStore.merge(peerId, { multiaddrs: [this.lib!.parseMultiaddr(addr.replace(/\/p2p\/[^/]+$/, ''))] })
      this.table.update(
        id,
        r => {
          r.addrs.add(addr.replace(/\/p2p\/[^/]+$/, ''))
        },
        { seen: false },
      )
      this.scheduleRedial(id, 0)
      return { peerId: id, reached: false }
    }
  }

  private async dialNow(addr: string, signal: AbortSignal): Promise<string> {
    const stack = this.requireStack()
    let ma
    try {
      ma = this.lib!.parseMultiaddr(addr)
    } catch {
      throw new UsageError(`peer address ${JSON.stringify(addr)}: not a multiaddr (e.g. /ip4/192.168.1.20/tcp/4001/p2p/12D3Koo...)`)
    }
    try {
      const conn = await stack.dial(ma, { signal })
      const id = conn.remotePeer.toString()
      this.table.update(id, r => {
        r.addrs.add(addr.replace(/\/p2p\/[^/]+$/, ''))
      })
      await this.hello(id, signal)
      return id
    } catch (err) {
      const e = this.classifyDialError(err, addr)
      const id = /\/p2p\/([^/]+)$/.exec(addr)?.[1]
      if (id !== undefined && e instanceof NotInTeamError) {
        this.table.update(id, r => {
          r.addrs.add(addr.replace(/\/p2p\/[^/]+$/, ''))
          r.lastDialFailure = Date.now()
          if (r.team !== true) r.team = false
        })
      }
      throw e
    }
  }

  /** Resolves at the next catalog a peer gives us, or when the signal ends. */
  async nextCatalog(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    await new Promise<void>(resolve => {
      const done = () => {
        this.off('catalog', done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      this.on('catalog', done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Stop talking to a peer: persist, and hang up now. */
  async block(peer: string): Promise<void> {
    this.blocks.add(peer)
    if (this.stack !== undefined) await this.stack.hangUp(this.lib!.parsePeerId(peer)).catch(() => {})
  }

  /** Mark a peer that sent bytes which did not hash; it is not used for objects again. */
  markLiar(peer: string): void {
    this.log.error('peer %s sent corrupt object data: no longer used for objects', peer)
    this.table.update(peer, r => {
      r.liar = true
    })
  }

  private requireStack(): Stack {
    if (this.stack === undefined) throw new BugError('PeerNode not started')
    return this.stack
  }

  private async openStream(peer: string, protocols: string[], signal: AbortSignal): Promise<Stream> {
    const stack = this.requireStack()
    try {
      return await stack.dialProtocol(this.lib!.parsePeerId(peer), protocols, { signal })
    } catch (err) {
      // The peer speaks none of them: the client says which version it lacks (wire.ts openCurrent).
      if (signal.aborted || (err as Error).name === 'UnsupportedProtocolError') throw err
      throw new PeerUnavailableError(`peer ${peer}: cannot open ${protocols[0]}: ${(err as Error).message}`, { peer }, { cause: err })
    }
  }

  private classifyDialError(err: unknown, addr: string): Error {
    const e = err as Error
    // Another team secret: Noise cannot decrypt the peer's handshake message (its prologue differs). Nothing else fails so.
    if (/chacha20poly1305|decrypt/i.test(e?.message ?? '')) {
      return new NotInTeamError(
        `peer ${addr}: the secure handshake failed: it holds another team secret (check that both laptops joined the same team: \`fieldsync team show\`)`,
        { addr },
        { cause: err },
      )
    }
    // Closed or reset before the team check: the peer refused us (busy with too many connections, or it blocked us), or the network dropped it.
    if (e?.name === 'EncryptionFailedError') {
      return new PeerUnavailableError(
        `peer ${addr}: the connection closed during the secure handshake, before the team check (${e.message}): the peer may be refusing connections (too many at once, or it blocked us); try again`,
        { addr },
        { cause: err },
      )
    }
    if (e !== undefined && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.startsWith('E_')) return e
    return new PeerUnavailableError(`peer ${addr}: cannot connect: ${e?.message ?? String(err)}`, { addr }, { cause: err })
  }

  private onConnection(conn: Connection): void {
    const id = conn.remotePeer.toString()
    this.cancelRedial(id)
    // Noise with our team prologue succeeded: the peer holds the team secret.
    this.table.update(id, r => {
      r.team = true
      r.connected = true
      r.nextDialAt = null
      if (conn.direction === 'outbound') r.addrs.add(conn.remoteAddr.toString())
    })
    void this.hello(id, this.ac.signal).catch(err => {
      this.log('hello to %s failed: %s', id, (err as Error).message)
    })
  }

  private onDisconnect(peerId: PeerId): void {
    const id = peerId.toString()
    if (this.table.get(id) === undefined) return
    const still = this.stack?.getConnections(peerId).length ?? 0
    if (still > 0) return
    const r = this.table.update(id, rec => {
      rec.connected = false
    })
    // A colleague's laptop that restarts, sleeps or roams comes back on its own: redial it.
    if (r.team === true && !r.liar) this.scheduleRedial(id, 0)
  }

  /** Redial team peer `id` after the attempt's backoff (1 s, 2 s, 4 s ... up to a minute, each +-20%). */
  private scheduleRedial(id: string, attempt: number): void {
    if (this.stack === undefined || this.ac.signal.aborted || this.blocks.has(id)) return
    this.cancelRedial(id)
    const base = Math.min(NodeTuning.redialMaxMs, NodeTuning.redialFirstMs * 2 ** Math.min(attempt, 16))
    const delay = Math.round(base * (0.8 + Math.random() * 0.4))
    const timer = setTimeout(() => {
      void this.redial(id, attempt)
    }, delay)
    timer.unref()
    this.redials.set(id, timer)
    this.table.update(
      id,
      r => {
        r.nextDialAt = Date.now() + delay
      },
      { seen: false },
    )
  }

  private cancelRedial(id: string): void {
    const t = this.redials.get(id)
    if (t !== undefined) clearTimeout(t)
    this.redials.delete(id)
  }

  private async redial(id: string, attempt: number): Promise<void> {
    this.redials.delete(id)
    const stack = this.stack
    if (stack === undefined || this.table.get(id)?.connected === true) return
    try {
      await withDeadline(
        this.ac.signal,
        this.opts.dialTimeoutMs ?? NodeTuning.dialTimeoutMs,
        async signal => await stack.dial(this.lib!.parsePeerId(id), { signal }),
      )
    } catch (err) {
      if (this.ac.signal.aborted) return
      const e = this.classifyDialError(err, id)
      this.log('redialing %s (attempt %d) failed: %s', id, attempt + 1, e.message)
      if (e instanceof NotInTeamError) {
        this.table.update(
          id,
          r => {
            r.team = false
            r.nextDialAt = null
          },
          { seen: false },
        )
        return
      }
      if (this.table.get(id)?.connected !== true) this.scheduleRedial(id, attempt + 1)
    }
  }

  private onDiscovery(peerId: PeerId, addrs: string[]): void {
    const id = peerId.toString()
    if (this.stack === undefined || id === this.peerId || this.blocks.has(id)) return
    const r = this.table.update(id, rec => {
      for (const a of addrs) rec.addrs.add(a)
    })
    if (r.connected || Date.now() - r.lastDialFailure < NodeTuning.redialBackoffMs) return
    const stack = this.stack
    withDeadline(this.ac.signal, this.opts.dialTimeoutMs ?? NodeTuning.dialTimeoutMs, async signal => await stack.dial(peerId, { signal })).catch(
      (err: unknown) => {
        const e = this.classifyDialError(err, id)
        this.log('dialing discovered peer %s failed: %s', id, e.message)
        this.table.update(id, rec => {
          rec.lastDialFailure = Date.now()
          if (e instanceof NotInTeamError && rec.team !== true) rec.team = false
        })
      },
    )
  }

  /** Exchange names and catalog versions; list the peer's catalog when it changed. */
  private async hello(peer: string, signal: AbortSignal): Promise<void> {
    const running = this.helloInFlight.get(peer)
    if (running !== undefined) return await running
    const p = this.doHello(peer, signal).finally(() => {
      this.helloInFlight.delete(peer)
    })
    this.helloInFlight.set(peer, p)
    return await p
  }

  private async doHello(peer: string, signal: AbortSignal): Promise<void> {
    {
      const mine = helloOf(this.library, this.name)
      const h = await this.catalog.hello(peer, { name: mine.name, catalog: mine.catalog }, signal)
      this.table.update(peer, r => {
        r.name = h.name || r.name
        r.revisions = h.revisions
      })
      const rec = this.table.get(peer)
      if (rec?.catalogVersion !== h.catalog || rec.catalog === undefined) await this.catalogOf(peer, signal, true)
    }
  }

  private onPeerCatalog(peer: string, info: { name?: string; catalog: string }): void {
    const rec = this.table.update(peer, r => {
      if (info.name !== undefined && info.name !== '') r.name = info.name
    })
    if (rec.catalogVersion !== info.catalog && this.stack !== undefined) {
      this.catalogOf(peer, this.ac.signal, true).catch(err => {
        this.log('listing %s failed: %s', peer, (err as Error).message)
      })
    }
  }

  private readonly onLocalChange = (): void => {
    this.announce()
  }

  private checkLocalChange(): void {
    try {
      const v = this.library.db.pragma('data_version', { simple: true }) as number
      if (v === this.lastDataVersion) return
      this.lastDataVersion = v
      this.announce()
    } catch (err) {
      this.log('library poll failed: %s', (err as Error).message)
    }
  }

  /** Tell connected team peers that our catalog changed. */
  private announce(): void {
    if (this.stack === undefined) return
    const version = catalogVersion(localCatalog(this.library))
    if (version === this.announced) return
    this.announced = version
    for (const p of this.teamPeers()) {
      withDeadline(this.ac.signal, 5000, async signal => {
        await this.catalog.announce(p, version, signal)
      }).catch(err => {
        this.log('announce to %s failed: %s', p, (err as Error).message)
      })
    }
  }
}
