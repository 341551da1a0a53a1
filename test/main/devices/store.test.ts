import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { silentLogger } from '../../../shared/log.js'
import { openDatabase } from '../../../main/store/db.js'
import { DeviceStore } from '../../../main/devices/store.js'

describe('DeviceStore', () => {
  it('upserts devices keeping what a later partial sighting does not know; finds by id, prefix, nick, address', () => {
    const db = openDatabase(':memory:', silentLogger())
    const s = new DeviceStore(db)
    s.upsert({
      deviceId: '5f1c2a3b4c5d6e7f8a9b0c1d',
      name: 'kitchen',
      addrs: ['10.0.0.7'],
      port: 8222,
      claimed: false,
      pvrSdk: true,
      revision: 'locals/a',
      status: 'READY',
      source: 'mdns',
    })
    s.upsert({
      deviceId: '5f1c2a3b4c5d6e7f8a9b0c1d',
      name: null,
      addrs: ['10.0.0.9'],
      port: null,
      claimed: null,
      pvrSdk: false,
      revision: null,
      status: null,
      source: 'manual',
    })
    const d = s.get('5f1c2a3b4c5d6e7f8a9b0c1d')
    assert.ok(d !== undefined)
    assert.equal(d.name, 'kitchen')
    assert.deepEqual(d.addrs, ['10.0.0.9'])
    assert.equal(d.revision, 'locals/a')
    assert.equal(d.source, 'mdns')
    for (const ref of ['5f1c2a3b4c5d6e7f8a9b0c1d', '5f1c2a3b', 'kitchen', '10.0.0.9']) assert.equal(s.find(ref).length, 1, ref)
    assert.equal(s.find('5f1c').length, 0, 'prefixes need 8 characters')
  })

  it('records installs start to end, newest first', () => {
    const s = new DeviceStore(openDatabase(':memory:', silentLogger()))
    const a = s.startInstall({ deviceId: 'd1', address: '10.0.0.7:12368', via: 'pvr-sdk', revisionId: 'a'.repeat(64), revisionName: 'one', step: 'locals/one' })
    s.endInstall(a, { status: 'DONE', statusMsg: 'ok', errorCode: null, bytesSent: 10, objectsSent: 1 })
    const b = s.startInstall({ deviceId: 'd1', address: '10.0.0.7:12368', via: 'ssh', revisionId: 'b'.repeat(64), revisionName: 'two', step: 'locals/two' })
    s.endInstall(b, { status: 'FAILED', statusMsg: 'cut', errorCode: 'E_DEVICE_UNREACHABLE', bytesSent: 5, objectsSent: 0 })
    const rows = s.installs('d1')
    assert.deepEqual(
      rows.map(r => [r.revisionName, r.status, r.errorCode]),
      [
        ['two', 'FAILED', 'E_DEVICE_UNREACHABLE'],
        ['one', 'DONE', null],
      ],
    )
    assert.ok(rows.every(r => r.endedAt !== null))
  })

  it('at open, an install left STARTED by a process that is gone becomes INTERRUPTED; one of a live process stays STARTED', async () => {
    const db = openDatabase(':memory:', silentLogger())
    const s = new DeviceStore(db)
    const rev = { deviceId: 'd1', address: '10.0.0.7:12368', via: 'pvr-sdk', revisionId: 'a'.repeat(64), revisionName: 'one', step: 'locals/one' }
    const live = s.startInstall(rev)
    // A process that has exited: its pid is gone.
    const { spawnSync } = await import('node:child_process')
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    const dead = s.startInstall(rev)
    db.prepare('UPDATE device_installs SET owner_pid = ? WHERE id = ?').run(Number(gone.stdout), dead)
    // This process's pid with another start: the pid was reused by a later process.
    const reused = s.startInstall(rev)
    db.prepare("UPDATE device_installs SET owner_start = 'boot-x:1' WHERE id = ?").run(reused)
    // A row written before the owner was recorded.
    const old = s.startInstall(rev)
    db.prepare('UPDATE device_installs SET owner_pid = NULL, owner_start = NULL WHERE id = ?').run(old)
    const again = new DeviceStore(db)
    const status = new Map(again.installs('d1').map(r => [r.id, r]))
    assert.equal(status.get(live)?.status, 'STARTED', 'this process is alive: its install goes on')
    for (const id of [dead, reused, old]) {
      assert.equal(status.get(id)?.status, 'INTERRUPTED', `row ${id}`)
      assert.match(status.get(id)?.statusMsg ?? '', /ended before the install finished/)
    }
  })
})
