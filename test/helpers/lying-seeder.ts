/**
 * A lying seeder for the fault tests: a peer node on a library, started as a
 * process of its own like `fieldsync serve --no-mdns --json`, whose objects
 * protocol flips the first byte of every range it serves (the injected
 * `testCorruptRanges` of the peer config; production code never sets it).
 * Usage: node lying-seeder.js <home> <listen-multiaddr>. Prints one JSON line
 * {peerId, addrs}, runs until SIGTERM or SIGINT.
 */
import { createLogger } from '../../main/log.js'
import { App } from '../../main/app/index.js'
import { createPeerServices } from '../../main/peers/index.js'

const [home, listen] = process.argv.slice(2)
if (home === undefined || listen === undefined) {
  process.stderr.write('usage: lying-seeder.js <home> <listen-multiaddr>\n')
  process.exit(2)
}
const log = createLogger('lying-seeder')
const app = new App({ home, log })
await app.start()
const s = createPeerServices({ library: app.library, log }, { home, listen: [listen], mdns: false, testCorruptRanges: true })
await app.add('peers.node', s.node)
process.stdout.write(JSON.stringify({ peerId: s.node.peerId, addrs: s.node.addrs() }) + '\n')
await new Promise<void>(resolve => {
  process.once('SIGTERM', resolve)
  process.once('SIGINT', resolve)
})
await app.stop()
