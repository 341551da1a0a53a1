/**
 * A site's devices told apart (issue #18): two simulated devices on one IP
 * with different ports are two devices in installs, output, history and the
 * list; an address that several known devices share names none of them;
 * aliases and tags from `devices rename|tag|untag|forget` select devices.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { importRev, makeRev, sentObjects, startSim } from './devices-harness.js'

interface Row {
  deviceId: string
  name: string | null
  alias: string | null
  tags: string[]
}

describe('devices on one IP', () => {
  it('two devices at 127.0.0.1 on different ports stay apart: the install goes to, reports and records the one named; the bare IP is an error naming both', async t => {
    const dir = await tempDir(t, 'fleet-ident-')
    const home = join(dir, 'home')
    const rev = await makeRev(join(dir, 'src'), 'ident', [{ name: 'app', bytes: 50_000 }])
    await importRev(home, rev.tarball, 'site-app')
    const a = await startSim(t, join(dir, 'a'), ['--assume-pvr-sdk-progress'])
    const b = await startSim(t, join(dir, 'b'), ['--assume-pvr-sdk-progress'])
    const add = await runCli(['--json', 'devices', '--no-mdns', '--device', a.http, '--device', b.http], { home })
    assert.equal(add.code, 0, add.stderr)
    const listed = add.json() as Row[]
    assert.deepEqual(listed.map(d => d.deviceId).sort(), [a.http, b.http].sort())
    assert.ok(
      listed.every(d => d.name !== '127.0.0.1'),
      'no device is named by the bare IP it shares with another',
    )

    const r = await runCli(['--json', 'install', 'site-app', '--device', b.http, '--poll', '50'], { home, timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.json().device, b.http, 'reported under the device it went to')
    assert.equal((await sentObjects(b.socket)).size, rev.objects.length)
    assert.equal((await sentObjects(a.socket)).size, 0, 'the other device got nothing')
    const histB = (await runCli(['--json', 'devices', 'show', b.http], { home })).json() as {
      installs: Array<{ deviceId: string; address: string; status: string }>
    }
    assert.deepEqual(
      histB.installs.map(i => [i.deviceId, i.address, i.status]),
      [[b.http, b.http, 'DONE']],
    )
    const histA = (await runCli(['--json', 'devices', 'show', a.http], { home })).json() as { installs: unknown[] }
    assert.deepEqual(histA.installs, [], 'nothing recorded on the other device')

    // The bare IP: two devices there, so it names neither; nothing is sent or recorded.
    const bare = await runCli(['--json', 'install', 'site-app', '--device', '127.0.0.1', '--poll', '50'], { home })
    assert.equal(bare.code, 2, bare.stdout)
    assert.equal(bare.json().error.code, 'E_USAGE')
    assert.ok(bare.json().error.message.includes(a.http) && bare.json().error.message.includes(b.http), bare.json().error.message)
    const show = await runCli(['--json', 'devices', 'show', '127.0.0.1'], { home })
    assert.equal(show.code, 2, show.stdout)
    const again = (await runCli(['--json', 'devices', 'show', a.http], { home })).json() as { installs: unknown[] }
    assert.deepEqual(again.installs, [])
  })

  it('rename, tag, untag and forget: selectors find devices by name: and tag:; an alias is unique; forget keeps the history', async t => {
    const dir = await tempDir(t, 'fleet-labels-')
    const home = join(dir, 'home')
    const sims = await Promise.all(['x', 'y', 'z'].map(async n => await startSim(t, join(dir, n))))
    const add = await runCli(['--json', 'devices', '--no-mdns', ...sims.flatMap(s => ['--device', s.http])], { home })
    assert.equal(add.code, 0, add.stderr)
    const [x, y, z] = sims.map(s => s.http)
    assert.equal((await runCli(['--json', 'devices', 'rename', x, 'line-3'], { home })).code, 0)
    const dup = await runCli(['--json', 'devices', 'rename', y, 'line-3'], { home })
    assert.equal(dup.code, 2)
    assert.ok(dup.json().error.message.includes(x))
    const tag = await runCli(['--json', 'devices', 'tag', `name:line-3,${y}`, 'canary', 'hall-b'], { home })
    assert.equal(tag.code, 0, tag.stderr)
    assert.deepEqual(tag.json(), [
      { deviceId: x, tags: ['canary', 'hall-b'] },
      { deviceId: y, tags: ['canary', 'hall-b'] },
    ])
    assert.deepEqual((await runCli(['--json', 'devices', 'untag', y, 'canary'], { home })).json(), [{ deviceId: y, tags: ['hall-b'] }])
    const bad = await runCli(['--json', 'devices', 'tag', z, 'a,b'], { home })
    assert.equal(bad.code, 2, 'a tag with a comma could never be selected')
    const list = (await runCli(['--json', 'devices', '--no-mdns', '--device', x], { home })).json() as Row[]
    assert.deepEqual(
      list.map(d => [d.deviceId, d.alias, d.tags]),
      [[x, 'line-3', ['canary', 'hall-b']]],
      'a fresh probe keeps the alias and tags',
    )
    const none = await runCli(['--json', 'devices', 'tag', 'tag:nosuch', 'x'], { home })
    assert.equal(none.json().error.code, 'E_NOT_FOUND')
    const forget = await runCli(['--json', 'devices', 'forget', 'tag:hall-b'], { home })
    assert.deepEqual(
      forget.json().map((f: { deviceId: string }) => f.deviceId),
      [x, y].sort(),
    )
    const gone = await runCli(['--json', 'devices', 'show', 'line-3'], { home })
    assert.equal(gone.json().error.code, 'E_NOT_FOUND', 'the alias went with the device')
    const all = await runCli(['--json', 'devices', 'tag', 'all', 'site'], { home })
    assert.deepEqual(
      all.json().map((f: { deviceId: string }) => f.deviceId),
      [z],
    )
  })
})
