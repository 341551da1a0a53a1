import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { silentLogger } from '../../../shared/log.js'
import { openDatabase } from '../../../main/store/db.js'
import { DeviceStore } from '../../../main/devices/store.js'

describe('DeviceStore', () => {
  it('upserts devices keeping what a later partial sighting does not know; finds by id, prefix, nick, address', () => {
    const db = openDatabase(':memory:', silentLogger())
    const s = new DeviceStore(db)
    s.upsert({ deviceId: '5f1c2a3b4c5d6e7f8a9b0c1d', name: 'kitchen', addrs: ['10.0.0.7'], port: 8222, claimed: false, pvrSdk: true, revision: 'locals/a', status: 'READY', source: 'mdns' })
    s.upsert({ deviceId: '5f1c2a3b4c5d6e7f8a9b0c1d', name: null, addrs: ['10.0.0.9'], port: null, claimed: null, pvrSdk: false, revision: null, status: null, source: 'manual' })
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
    assert.deepEqual(rows.map(r => [r.revisionName, r.status, r.errorCode]), [['two', 'FAILED', 'E_DEVICE_UNREACHABLE'], ['one', 'DONE', null]])
    assert.ok(rows.every(r => r.endedAt !== null))
  })
})
