/** InboundGuard's policy (issue #15, item 7) on stand-in connections; the flood itself is test/integration/peers-flood.test.ts. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MultiaddrConnection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { InboundGuard } from '../../../main/peers/inbound.js'

interface Fake {
  conn: MultiaddrConnection
  aborted: boolean
  close: () => void
}

function conn(ip: string): Fake {
  const target = new EventTarget()
  const f: Fake = {
    aborted: false,
    close: () => {
      target.dispatchEvent(new Event('close'))
    },
    conn: {
      remoteAddr: multiaddr(`/ip4/${ip}/tcp/4001`),
      addEventListener: target.addEventListener.bind(target),
      abort: () => {
        f.aborted = true
        f.close()
      },
    } as unknown as MultiaddrConnection,
  }
  return f
}

const LIMITS = { pendingPerAddress: 2, pendingTotal: 4, handshakeMs: 1000, perAddressPerSecond: 5 }

describe('peers: inbound connections before the team check', () => {
  it('an address holds at most its share of handshakes; others are not affected', () => {
    const g = new InboundGuard(LIMITS)
    const a = [conn('10.0.0.9'), conn('10.0.0.9'), conn('10.0.0.9')]
    assert.deepEqual(
      a.map(c => g.deny(c.conn, 0)),
      [false, false, true],
    )
    assert.equal(g.deny(conn('10.0.0.2').conn, 0), false)
    assert.equal(g.refused, 1)
    // One that proved the secret, or closed, frees its place.
    g.authenticated(a[0].conn)
    assert.equal(g.deny(conn('10.0.0.9').conn, 0), false)
    a[1].close()
    assert.equal(g.deny(conn('10.0.0.9').conn, 0), false)
    assert.equal(g.size, 3)
  })

  it('at the total cap a newcomer gets in: the oldest handshake of the busiest address is closed', () => {
    const g = new InboundGuard(LIMITS)
    const old = [conn('10.0.0.7'), conn('10.0.0.8'), conn('10.0.0.8'), conn('10.0.0.7')]
    for (const c of old) assert.equal(g.deny(c.conn, 0), false)
    const colleague = conn('10.0.0.20')
    assert.equal(g.deny(colleague.conn, 1), false)
    // Both outsiders hold 2: the oldest of the first found is closed.
    assert.deepEqual(
      old.map(c => c.aborted),
      [true, false, false, false],
    )
    assert.equal(g.evicted, 1)
    assert.equal(g.size, 4)
    // The outsider comes back: again one of its own goes, not the colleague's.
    assert.equal(g.deny(conn('10.0.0.7').conn, 2), false)
    assert.equal(colleague.aborted, false)
    assert.equal(old[1].aborted, true)
  })

  it('entries whose close was missed are forgotten after twice the handshake timeout', () => {
    const g = new InboundGuard(LIMITS)
    g.deny(conn('10.0.0.9').conn, 0)
    g.deny(conn('10.0.0.9').conn, 0)
    assert.equal(g.deny(conn('10.0.0.9').conn, 1500), true)
    assert.equal(g.deny(conn('10.0.0.9').conn, 2001), false)
    assert.equal(g.size, 1)
  })
})
