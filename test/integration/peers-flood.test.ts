/**
 * An outsider without the team secret floods a `serve` with raw TCP
 * connections that send half a multistream header and wait, reopening each
 * one the node closes (issue #15, item 7). Team pulls must get through, and a
 * node that does close a dialer's connection must not be reported as another
 * team. Real `fieldsync` processes on 127.0.0.1 (--no-mdns); the outsider
 * dials from other loopback addresses (127.0.0.2 and up), as another laptop would.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../shared/errors.js'
import { runCli } from '../helpers/cli.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, makeRevision, serve, teamHomes, type Tctx } from './peers-harness.js'

/** `/multistream/1.0.0\n` with its varint length, cut short: a handshake that never completes. */
const PARTIAL_HEADER = Buffer.concat([Buffer.from([0x13]), Buffer.from('/multistream/1.')])

/** Raw connections from `hosts` (each `perHost` of them), each reopened as soon as the node closes it. */
class Flood {
  /** Connections the node closed (or refused once accepted). */
  closedByNode = 0
  private stopped = false
  private readonly socks = new Set<Socket>()
  private connectedOnce = 0
  private readonly total: number
  private onAllConnected: () => void = () => {}

  constructor(
    private readonly port: number,
    hosts: string[],
    perHost: number,
    t: Tctx,
  ) {
    this.total = hosts.length * perHost
    for (let i = 0; i < this.total; i++) this.open(hosts[i % hosts.length], { counted: false })
    t.after(() => {
      this.stop()
    })
  }

  /** Resolves once every slot had its connection accepted at least once. */
  async started(): Promise<void> {
    if (this.connectedOnce >= this.total) return
    await new Promise<void>(resolve => {
      this.onAllConnected = resolve
    })
  }

  private open(host: string, slot: { counted: boolean }): void {
    if (this.stopped) return
    const s = createConnection({ host: '127.0.0.1', port: this.port, localAddress: host })
    this.socks.add(s)
    s.on('connect', () => {
      s.write(PARTIAL_HEADER)
      if (!slot.counted) {
        slot.counted = true
        if (++this.connectedOnce === this.total) this.onAllConnected()
      }
    })
    s.on('error', () => {})
    s.on('close', () => {
      this.socks.delete(s)
      if (this.stopped) return
      this.closedByNode++
      // Reopen at once, as the attacker does.
      setImmediate(() => {
        this.open(host, slot)
      })
    })
  }

  /** Connections open right now. */
  get openNow(): number {
    return this.socks.size
  }

  stop(): void {
    this.stopped = true
    for (const s of this.socks) s.destroy()
  }
}

/** CPU seconds a process has used (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

const hostsFrom = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`)

describe('peers: an outsider flooding a node with half-open connections', { concurrency: false }, () => {
  for (const [label, hosts, perHost] of [
    ['20 connections from one address', hostsFrom(1), 20],
    ['100 connections from one address', hostsFrom(1), 100],
    ['100 connections from 10 addresses', hostsFrom(10), 10],
  ] as const) {
    it(`${label}: 5 of 5 team pulls succeed during it`, async t => {
      if (!hasMksquashfs()) {
        t.skip('mksquashfs not installed')
        return
      }
      const dir = await tempDir(t)
      const [a, quiet, ...pullers] = await teamHomes(dir, 7)
      const rev = await makeRevision(join(dir, 'src'), 'f', 1 << 20)
      const id = await importRev(a, rev, 'f')
      const sa = await serve(t, a)
      // The same pull before the flood, for comparison (this machine is shared: times vary).
      const q0 = Date.now()
      assert.equal((await runCli(['pull', 'f', '--no-mdns', '--peer', sa.addr, '--json'], { home: quiet, timeoutMs: 30_000 })).code, 0)
      const quietMs = Date.now() - q0
      const cpu0 = cpuSeconds(sa.proc.pid)
      const own0 = process.cpuUsage()
      const f0 = Date.now()
      const flood = new Flood(sa.port, hosts, perHost, t)
      await flood.started()
      let ok = 0
      const ms: number[] = []
      const errors: string[] = []
      for (const home of pullers) {
        const t0 = Date.now()
        const r = await runCli(['pull', 'f', '--no-mdns', '--peer', sa.addr, '--json'], { home, timeoutMs: 30_000 })
        ms.push(Date.now() - t0)
        if (r.code === 0 && r.json().id === id) ok++
        else errors.push(r.stdout.trim() || r.stderr.slice(-300))
      }
      const secs = (Date.now() - f0) / 1000
      const cpu = (cpuSeconds(sa.proc.pid) - cpu0) / secs
      const own = process.cpuUsage(own0)
      const flooderCpu = (own.user + own.system) / 1e6 / secs
      t.diagnostic(
        `${label}: ${ok} of 5 pulls succeeded (${ms.join(', ')} ms; ${quietMs} ms before the flood); the node closed ${flood.closedByNode} flood connections meanwhile (${Math.round((flood.closedByNode * 1000) / (Date.now() - f0))}/s), ${flood.openNow} open at the end; the node used ${Math.round(cpu * 100)}% of a core, the flooder (this test process) ${Math.round(flooderCpu * 100)}%`,
      )
      assert.equal(ok, 5, errors.join('\n'))
      assert.equal(sa.proc.exitCode, null, 'the node is still up')
      flood.stop()
    })
  }

  it('a node that closes our connection during the handshake is unavailable, not another team', async t => {
    const dir = await tempDir(t)
    const [c] = await teamHomes(dir, 1)
    // Accepts, reads the start of the handshake, hangs up: what a busy node does to a newcomer.
    const srv = createServer(s => {
      s.once('data', () => {
        s.destroy()
      })
    })
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
    t.after(() => {
      srv.close()
    })
    const port = (srv.address() as { port: number }).port
    const someone = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    const r = await runCli(['pull', 'f', '--no-mdns', '--peer', `/ip4/127.0.0.1/tcp/${port}/p2p/${someone}`, '--json'], { home: c, timeoutMs: 30_000 })
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.json().error.code, ErrorCodes.PeerUnavailable, r.stdout)
  })
})
