/**
 * Two laptops on one segment, for real: two network namespaces joined by a
 * veth pair (created and removed here; root only). The nodes find each other
 * by mDNS alone (no --peer), within 2 s, and one pulls from the other.
 * Multicast never leaves the two namespaces.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { connectControl, controlRequest } from '../../main/peers/control/client.js'
import type { PeerInfo } from '../../shared/api/types/peers.js'
import { runCli } from '../helpers/cli.js'
import { cliBin } from '../helpers/paths.js'
import { hasMksquashfs } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, lsHome, makeRevision, teamHomes } from './peers-harness.js'

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

function canNetns(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)'
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' })
  } catch {
    return 'iproute2 (ip netns) not available'
  }
  return undefined
}

describe('peers: mDNS between two network namespaces', () => {
  it('nodes find each other by mDNS alone within 2 s; one pulls from the other', async t => {
    const why = canNetns() ?? (hasMksquashfs() ? undefined : 'mksquashfs not installed')
    if (why !== undefined) {
      t.skip(why)
      return
    }
    const tag = randomBytes(3).toString('hex')
    const [na, nb, va, vb] = [`fsa-${tag}`, `fsb-${tag}`, `fva${tag}`, `fvb${tag}`]
    try {
      ip('netns', 'add', na)
      ip('netns', 'add', nb)
    } catch (err) {
      t.skip(`cannot create network namespaces here: ${(err as Error).message.split('\n')[0]}`)
      return
    }
    t.after(() => {
      for (const n of [na, nb]) {
        try {
          ip('netns', 'del', n)
        } catch {
          /* already gone */
        }
      }
    })
    ip('link', 'add', va, 'type', 'veth', 'peer', 'name', vb)
    ip('link', 'set', va, 'netns', na)
    ip('link', 'set', vb, 'netns', nb)
    for (const [ns, dev, addr] of [
      [na, va, '10.203.7.1/24'],
      [nb, vb, '10.203.7.2/24'],
    ]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'addr', 'add', addr, 'dev', dev)
      ip('-n', ns, 'link', 'set', dev, 'up', 'multicast', 'on')
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev)
    }
    const dir = await tempDir(t)
    const [a, b] = await teamHomes(dir, 2)
    const rev = await makeRevision(join(dir, 'src'), 'lan', 4 << 20)
    const id = await importRev(a, rev, 'lan')

    const start = async (ns: string, home: string, name: string): Promise<{ peerId: string }> => {
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, cliBin, '--home', home, 'serve', '--name', name, '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let err = ''
      p.stderr.on('data', (d: Buffer) => {
        err += d.toString()
      })
      const exited = new Promise(resolve => p.once('exit', resolve))
      t.after(async () => {
        p.kill('SIGKILL')
        await exited
      })
      const line = await new Promise<string>((resolve, reject) => {
        let out = ''
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          if (out.includes('\n')) resolve(out.split('\n')[0])
        })
        p.once('exit', c => {
          reject(new Error(`serve in ${ns} exited ${c}: ${err}`))
        })
      })
      return JSON.parse(line)
    }
    const [ia, ib] = await Promise.all([start(na, a, 'laptop-a'), start(nb, b, 'laptop-b')])
    const upAt = Date.now()
    // b's node lists a, in the team, within 2 s: asked on b's control socket directly (what `fieldsync
    // peers` asks), so that the start-up of a CLI process on a loaded machine is not in the figure.
    let seenAfter = -1
    while (Date.now() - upAt < 10_000) {
      const sock = await connectControl(b)
      assert.ok(sock !== undefined, "b's control socket")
      const { peers } = (await controlRequest(sock, { op: 'peers' }, AbortSignal.timeout(10_000))) as { peers: PeerInfo[] }
      const p = peers.find(x => x.id === ia.peerId)
      if (p !== undefined && p.team && p.name === 'laptop-a' && p.revisions === 1) {
        seenAfter = Date.now() - upAt
        break
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert.ok(seenAfter >= 0, 'b never saw a')
    assert.ok(seenAfter <= 2000, `b saw a after ${seenAfter} ms`)
    t.diagnostic(`b saw a ${seenAfter} ms after both nodes were up`)
    const bp = (await runCli(['peers', '--json'], { home: b })).json() as Array<{ id: string; team: boolean; name: string }>
    assert.ok(
      bp.some(p => p.id === ia.peerId && p.team && p.name === 'laptop-a'),
      JSON.stringify(bp),
    )
    const ap = (await runCli(['peers', '--json'], { home: a })).json() as Array<{ id: string; name: string }>
    assert.ok(
      ap.some(p => p.id === ib.peerId && p.name === 'laptop-b'),
      JSON.stringify(ap),
    )
    // Pull by the name a gave it, through b's node.
    const r = await runCli(['pull', 'lan', '--json'], { home: b, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json().id, id)
    assert.equal(r.json().fromPeers[ia.peerId], rev.bytes)
    assert.equal((await lsHome(b)).find(x => x.id === id)?.complete, true)
  })
})
