/** Migration 006 and the device store's labels, the addressing rule on one IP, and selectors (in memory). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { silentLogger } from '../../../shared/log.js'
import { migrate, openDatabase } from '../../../main/store/db.js'
import { migrations } from '../../../main/store/migrations/index.js'
import { DeviceStore } from '../../../main/devices/store.js'
import { RolloutStore } from '../../../main/devices/rollout/store.js'
import { resolveDevice } from '../../../main/devices/address.js'
import { parseSelectors, selectDevices } from '../../../main/devices/selectors.js'

function manual(s: DeviceStore, id: string): void {
  const host = id.split(':')[0]
  s.upsert({ deviceId: id, name: host, addrs: [host], port: null, claimed: null, pvrSdk: true, revision: '0', status: 'READY', source: 'manual' })
}

describe('migration 006 (fleet)', () => {
  it('takes a library at schema 5 to 6 and keeps its devices; its SQL applied again changes nothing', () => {
    const db = new Database(':memory:')
    for (const m of migrations.slice(0, 5)) db.exec(m)
    db.pragma('user_version = 5')
    db.prepare("INSERT INTO devices (device_id, name, addrs, source, last_seen) VALUES ('10.0.0.7:40049', '10.0.0.7', '[\"10.0.0.7\"]', 'manual', 1)").run()
    migrate(db, ':memory:', silentLogger())
    assert.equal(db.pragma('user_version', { simple: true }), migrations.length)
    db.exec(migrations[5])
    const s = new DeviceStore(db)
    assert.deepEqual(
      s.list().map(d => [d.deviceId, d.name, d.alias, d.tags]),
      [['10.0.0.7:40049', null, null, []]],
      'a bare IP is no name',
    )
  })
})

describe('labels and selectors', () => {
  it('two devices on one IP: host:port names each, the bare IP names neither; aliases are unique; tags select; forget drops labels', () => {
    const s = new DeviceStore(openDatabase(':memory:', silentLogger()))
    manual(s, '127.0.0.1:40049')
    manual(s, '127.0.0.1:44957')
    assert.equal(resolveDevice(s, '127.0.0.1:44957').deviceId, '127.0.0.1:44957')
    assert.equal(resolveDevice(s, '127.0.0.1:40049').deviceId, '127.0.0.1:40049')
    assert.equal(resolveDevice(s, '127.0.0.1:5555').record, undefined)
    assert.throws(() => resolveDevice(s, '127.0.0.1'), { code: 'E_USAGE' })
    s.setAlias('127.0.0.1:44957', 'line-3')
    assert.throws(
      () => {
        s.setAlias('127.0.0.1:40049', 'line-3')
      },
      { code: 'E_USAGE' },
    )
    assert.throws(
      () => {
        s.setAlias('127.0.0.1:40049', 'a b')
      },
      { code: 'E_USAGE' },
    )
    assert.deepEqual(s.tag('127.0.0.1:40049', ['canary', 'b', 'canary']), ['b', 'canary'])
    s.tag('127.0.0.1:44957', ['b'])
    assert.deepEqual(
      selectDevices(s, 'name:line-3').map(d => d.deviceId),
      ['127.0.0.1:44957'],
    )
    assert.deepEqual(
      selectDevices(s, 'line-3,tag:b,all').map(d => d.deviceId),
      ['127.0.0.1:44957', '127.0.0.1:40049'],
    )
    assert.deepEqual(
      selectDevices(s, 'tag:canary').map(d => d.deviceId),
      ['127.0.0.1:40049'],
    )
    assert.throws(() => selectDevices(s, 'tag:none'), { code: 'E_NOT_FOUND' })
    assert.throws(() => parseSelectors('a,,b'), { code: 'E_USAGE' })
    assert.throws(() => parseSelectors('tag:'), { code: 'E_USAGE' })
    assert.equal(s.forget('127.0.0.1:44957'), true)
    assert.equal(s.forget('127.0.0.1:44957'), false)
    s.upsert({
      deviceId: '127.0.0.1:44957',
      name: '127.0.0.1',
      addrs: ['127.0.0.1'],
      port: null,
      claimed: null,
      pvrSdk: true,
      revision: null,
      status: null,
      source: 'manual',
    })
    assert.deepEqual([s.get('127.0.0.1:44957')?.alias, s.get('127.0.0.1:44957')?.tags], [null, []], 'found again, without the labels it had')
  })
})

describe('migration 008 (who runs a rollout)', () => {
  it('takes a library at schema 7 to 8: its rollouts keep their rows and have no owner, so the next process may resume them', () => {
    const db = new Database(':memory:')
    for (const m of migrations.slice(0, 7)) db.exec(m)
    db.pragma('user_version = 7')
    db.prepare(
      "INSERT INTO rollouts (plan_key, revision_id, revision_name, state, options, created_at) VALUES ('k', 'r', 'site-app', 'running', '{\"parallel\":1,\"maxFailures\":1,\"commit\":false}', 1)",
    ).run()
    migrate(db, ':memory:', silentLogger())
    assert.equal(db.pragma('user_version', { simple: true }), migrations.length)
    assert.deepEqual(db.prepare('SELECT plan_key, state, owner_pid, owner_start FROM rollouts').all(), [
      { plan_key: 'k', state: 'running', owner_pid: null, owner_start: null },
    ])
    const rs = new RolloutStore(db)
    assert.equal(rs.unfinished(5)[0].runningIn, null)
    rs.reopen(1)
    assert.deepEqual(db.prepare('SELECT owner_pid FROM rollouts').get(), { owner_pid: process.pid }, 'the process that resumes it records itself')
    rs.end(1, 'stopped')
    assert.deepEqual(db.prepare('SELECT owner_pid, owner_start FROM rollouts').get(), { owner_pid: null, owner_start: null })
  })
})
