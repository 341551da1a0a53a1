/**
 * A lying seeder for the fault tests: a peer node on a library, started as a
 * process of its own like `fieldsync serve --no-mdns --json`, that serves
 * wrong bytes for every object. The lie is in its library, not in the code
 * it runs: before the node starts, every object file of its home is
 * replaced by one of the same size with every byte inverted, so the real
 * objects handler sends bytes that do not hash to their name, over every
 * range. Usage: node lying-seeder.js <home> <listen-multiaddr> (the home is
 * the liar's own). Prints one JSON line {peerId, addrs}, runs until SIGTERM
 * or SIGINT.
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../main/log.js'
import { App } from '../../main/app/index.js'
import { createPeerServices } from '../../main/peers/index.js'

const [home, listen] = process.argv.slice(2)
if (home === undefined || listen === undefined) {
  process.stderr.write('usage: lying-seeder.js <home> <listen-multiaddr>\n')
  process.exit(2)
}
const objects = join(home, 'objects')
for (const name of await readdir(objects)) {
  if (!/^[0-9a-f]{64}$/.test(name)) continue
  const bytes = await readFile(join(objects, name))
  for (let i = 0; i < bytes.length; i++) bytes[i] ^= 0xff
  // A new file renamed over the old one: a hard link elsewhere keeps the true bytes.
  await writeFile(join(objects, `${name}.lie`), bytes)
  await rename(join(objects, `${name}.lie`), join(objects, name))
}
const log = createLogger('lying-seeder')
const app = new App({ home, log })
await app.start()
const s = createPeerServices({ library: app.library, log }, { home, listen: [listen], mdns: false })
await app.add('peers', s)
process.stdout.write(JSON.stringify({ peerId: s.node.peerId, addrs: s.node.addrs() }) + '\n')
await new Promise<void>(resolve => {
  process.once('SIGTERM', resolve)
  process.once('SIGINT', resolve)
})
await app.stop()
