/**
 * InboundGuard: bounds the inbound connections that have not yet proved the
 * team secret (issue #15, item 7). Until the Noise handshake with our team
 * prologue completes, a connection is only a socket that costs us memory and
 * a slot; libp2p's own cap on such connections is one number for everyone
 * (10 by default), so an outsider holding 10 half-open connections locked
 * every colleague out. Here:
 *
 * - an address holds at most `pendingPerAddress` connections in their
 *   handshake; more from it are refused at once;
 * - all addresses together hold at most `pendingTotal`; at the cap, the
 *   oldest connection of the address holding the most is closed to admit the
 *   newcomer (a colleague's handshake takes milliseconds, an outsider's
 *   never ends, so the outsider's are the old ones);
 * - a handshake must finish within `handshakeMs` (libp2p's inbound upgrade
 *   timeout, 10 s by default).
 *
 * A connection leaves the count when its handshake proved the secret (the
 * gater's denyInboundEncryptedConnection) or when it closes. Addresses are
 * IPs: the node listens on IPv4 only (DEFAULT_LISTEN).
 */
import type { MultiaddrConnection } from '@libp2p/interface'

export const InboundLimits = {
  /** Connections still in their handshake from one address. */
  pendingPerAddress: 4,
  /** ... from all addresses together. */
  pendingTotal: 32,
  /** The whole inbound handshake (multistream-select, Noise, yamux) must finish within this. */
  handshakeMs: 4000,
  /** Connections one address may open per second (libp2p's inboundConnectionThreshold; the default, stated). */
  perAddressPerSecond: 5,
} as const

export type InboundLimitsT = { -readonly [K in keyof typeof InboundLimits]: number }

interface Pending {
  conn: MultiaddrConnection
  addr: string
  since: number
}

export class InboundGuard {
  /** Connections refused because their address held too many handshakes. */
  refused = 0
  /** Connections closed to make room for a newcomer. */
  evicted = 0
  private readonly pending = new Map<MultiaddrConnection, Pending>()

  constructor(
    private readonly limits: InboundLimitsT = InboundLimits,
    private readonly log: (f: string, ...a: unknown[]) => void = () => {},
  ) {}

  /** How many connections are in their handshake now. */
  get size(): number {
    return this.pending.size
  }

  /** For ConnectionGater.denyInboundConnection: true refuses `conn`. */
  deny(conn: MultiaddrConnection, now = Date.now()): boolean {
    this.forgetStale(now)
    const addr = addressOf(conn)
    let fromAddr = 0
    for (const p of this.pending.values()) if (p.addr === addr) fromAddr++
    if (fromAddr >= this.limits.pendingPerAddress) {
      this.refused++
      this.log('refusing a connection from %s: %d handshakes from it already', addr, fromAddr)
      return true
    }
    if (this.pending.size >= this.limits.pendingTotal) this.evictOne()
    this.pending.set(conn, { conn, addr, since: now })
    conn.addEventListener(
      'close',
      () => {
        this.pending.delete(conn)
      },
      { once: true },
    )
    return false
  }

  /** For ConnectionGater.denyInboundEncryptedConnection: `conn` proved the team secret. */
  authenticated(conn: MultiaddrConnection): void {
    this.pending.delete(conn)
  }

  /** Close the oldest handshake of the address that holds the most. */
  private evictOne(): void {
    const count = new Map<string, number>()
    for (const p of this.pending.values()) count.set(p.addr, (count.get(p.addr) ?? 0) + 1)
    let victim: Pending | undefined
    for (const p of this.pending.values()) {
      // Insertion order is age order: the first found of an address is its oldest.
      if (victim === undefined || count.get(p.addr)! > count.get(victim.addr)!) victim = p
    }
    if (victim === undefined) return
    this.pending.delete(victim.conn)
    this.evicted++
    this.log('closing a handshake from %s (%d ms old): %d handshakes pending', victim.addr, Date.now() - victim.since, this.pending.size + 1)
    victim.conn.abort(new Error('too many connections in their handshake'))
  }

  /** Entries whose close we missed: libp2p's timeout has ended them anyway. */
  private forgetStale(now: number): void {
    for (const p of this.pending.values()) {
      if (now - p.since <= 2 * this.limits.handshakeMs) break
      this.pending.delete(p.conn)
    }
  }
}

function addressOf(conn: MultiaddrConnection): string {
  const c = conn.remoteAddr.getComponents().find(x => x.name === 'ip4' || x.name === 'ip6')
  return c?.value ?? conn.remoteAddr.toString()
}
