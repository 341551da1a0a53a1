/**
 * The stack's ceiling for the pull benchmark: one bare libp2p stream over the
 * same stack as Fieldsync's node (TCP, Noise with the team prologue, yamux
 * with the same windows) carrying the same files, read in the same chunk
 * size; the receiver only counts. Run as two processes:
 *   node pull-bare.js recv <home>            prints its multiaddr, then "<bytes> <seconds>" when done
 *   node pull-bare.js send <home> <addr> <file>...
 */
import '../../main/polyfills.js'
import type { Stream } from '@libp2p/interface'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger } from '../../shared/log.js'
import { loadOrCreatePeerKey } from '../../main/peers/identity.js'
import { loadLibp2p } from '../../main/peers/libp2p.js'
import { ObjectsLimits } from '../../main/peers/objects/protocol.js'
import { TeamStore, teamPrologue } from '../../main/peers/team.js'

const { createStack, parseMultiaddr } = await loadLibp2p()

const PROTOCOL = '/fieldsync-bench/bare/1'

async function stack(home: string, listen: string[], role: string) {
  const team = await new TeamStore(home).require()
  const s = await createStack({
    privateKey: await loadOrCreatePeerKey(join(home, `bare-${role}`), silentLogger()),
    prologue: teamPrologue(team.secret),
    listen,
    mdns: false,
    isBlocked: () => false,
    agent: 'bench',
  })
  await s.start()
  return s
}

async function recv(home: string): Promise<void> {
  const s = await stack(home, ['/ip4/127.0.0.1/tcp/0'], 'recv')
  await s.handle(
    PROTOCOL,
    async (stream: Stream) => {
      let n = 0
      let t0 = 0
      for await (const c of stream) {
        if (t0 === 0) t0 = performance.now()
        n += c.byteLength
      }
      stream.send(new TextEncoder().encode('ok'))
      await stream.close()
      process.stdout.write(`${n} ${(performance.now() - t0) / 1000}\n`)
      setTimeout(() => {
        Promise.resolve(s.stop())
          .finally(() => process.exit(0))
          .catch(() => {})
      }, 100)
    },
    { maxInboundStreams: 4 },
  )
  process.stdout.write(s.getMultiaddrs()[0].toString() + '\n')
}

async function send(home: string, addr: string, files: string[]): Promise<void> {
  const s = await stack(home, [], 'send')
  const t0 = performance.now()
  const stream = await s.dialProtocol(parseMultiaddr(addr), PROTOCOL)
  let total = 0
  for (const f of files) {
    const fh = await open(f, 'r')
    for (;;) {
      const buf = Buffer.allocUnsafe(ObjectsLimits.sendChunkBytes)
      const { bytesRead } = await fh.read(buf, 0, buf.length, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (!stream.send(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead))) await stream.onDrain()
    }
    await fh.close()
  }
  await stream.close()
  for await (const _ of stream) {
    /* the receiver's "ok" */
  }
  process.stdout.write(`${total} ${(performance.now() - t0) / 1000}\n`)
  await s.stop()
}

const [role, home, ...rest] = process.argv.slice(2)
if (role === 'recv') await recv(home)
else if (role === 'send') await send(home, rest[0], rest.slice(1))
else throw new Error('usage: pull-bare.js recv|send <home> [addr files...]')
