/**
 * One way to start the LAN node (main/peers/services.ts): the control socket
 * claims the library before the node opens a port, a step that fails stops
 * what started before it, and stop() undoes it all.
 */
import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes, isCode } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { App } from '../../../main/app/index.js'
import { createPeerServices } from '../../../main/peers/index.js'
import { TeamStore } from '../../../main/peers/team.js'
import { tempDir } from '../../helpers/tmp.js'

async function appIn(t: Parameters<typeof tempDir>[0]): Promise<App> {
  const app = new App({ home: await tempDir(t), log: silentLogger() })
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  return app
}

const exists = async (p: string): Promise<boolean> =>
  await access(p).then(
    () => true,
    () => false,
  )

describe('PeerServices: the one way to start the LAN node', () => {
  it('a library another node serves is refused before this node starts', async t => {
    const app = await appIn(t)
    await new TeamStore(app.home).create()
    const other = createServer(s => {
      s.end()
    })
    await new Promise<void>(resolve => other.listen(join(app.home, 'node.sock'), resolve))
    t.after(() => {
      other.close()
    })
    const s = createPeerServices(
      { library: app.library, log: silentLogger() },
      { home: app.home, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, control: true },
    )
    await assert.rejects(s.start(), (e: unknown) => isCode(e, ErrorCodes.Usage))
    assert.equal(s.node.started, false, 'the node never started: no port, no announcement')
  })

  it('a node that cannot start gives its error and leaves no control socket behind', async t => {
    const app = await appIn(t)
    const s = createPeerServices(
      { library: app.library, log: silentLogger() },
      { home: app.home, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, control: true },
    )
    await assert.rejects(s.start(), (e: unknown) => isCode(e, ErrorCodes.NotInTeam))
    assert.equal(await exists(join(app.home, 'node.sock')), false)
  })

  it('starts control, node and puller, and stops them all', async t => {
    const app = await appIn(t)
    await new TeamStore(app.home).create()
    const s = await app.add(
      'peers',
      createPeerServices({ library: app.library, log: silentLogger() }, { home: app.home, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, control: true }),
    )
    assert.equal(s.node.started, true)
    assert.ok(s.node.addrs().length > 0)
    assert.equal(await exists(join(app.home, 'node.sock')), true)
    await s.stop()
    assert.equal(s.node.started, false)
    assert.equal(await exists(join(app.home, 'node.sock')), false)
  })
})
