/** Discovery's pure parts: the fingerprint of an unregistered device, address order, instance names; the store's `registered`. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { silentLogger } from '../../../shared/log.js'
import { openDatabase } from '../../../main/store/db.js'
import { isUnregisteredId, orderAddresses, splitInstance, unregisteredId } from '../../../main/devices/discovery.js'
import { DeviceStore } from '../../../main/devices/store.js'

describe('discovery: devices that advertise no device-id', () => {
  it('are named by a fingerprint of nick and first address:port, as documented', () => {
    const want = 'unregistered-' + createHash('sha256').update('kitchen\n10.0.0.7:8222').digest('hex').slice(0, 20)
    assert.equal(unregisteredId('kitchen', ['fd00::7', '10.0.0.9', '10.0.0.7'], 8222), want)
    assert.equal(unregisteredId('kitchen', ['10.0.0.7'], 8222), want, 'the same device, however many addresses it shows')
    assert.notEqual(unregisteredId('kitchen', ['10.0.0.7'], 22), want)
    assert.notEqual(unregisteredId('porch', ['10.0.0.7'], 8222), want)
    const v6 = 'unregistered-' + createHash('sha256').update('k\n[fe80::1]:8222').digest('hex').slice(0, 20)
    assert.equal(unregisteredId('k', ['fe80::1%eth0'], 8222), v6, 'a link-local address without the zone it was heard on')
    assert.ok(isUnregisteredId(want))
    assert.equal(isUnregisteredId('5f1c2a3b4c5d6e7f8a9b0c1d'), false)
  })

  it('orders addresses IPv4, global IPv6, link-local', () => {
    assert.deepEqual(orderAddresses(['fe80::1%eth0', 'fd00::2', '10.0.0.9', '10.0.0.7', 'fd00::2']), ['10.0.0.7', '10.0.0.9', 'fd00::2', 'fe80::1%eth0'])
  })

  it('reads the nick and the domain of an instance name', () => {
    assert.deepEqual(splitInstance('pantavisor._ssh._tcp.local'), { nick: 'pantavisor', domain: 'local' })
    assert.deepEqual(splitInstance('rpi 4._ssh._tcp.site4.'), { nick: 'rpi 4', domain: 'site4' })
    assert.equal(splitInstance('x._http._tcp.local'), null)
  })

  it('the store says registered for mDNS devices with a Pantahub id, not for fingerprints, and does not know for addresses', () => {
    const s = new DeviceStore(openDatabase(':memory:', silentLogger()))
    const fp = unregisteredId('kitchen', ['10.0.0.7'], 8222)
    const base = { addrs: ['10.0.0.7'], port: 8222, claimed: null, pvrSdk: true, revision: null, status: null }
    s.upsert({ ...base, deviceId: fp, name: 'kitchen', source: 'mdns' })
    s.upsert({ ...base, deviceId: '5f1c2a3b4c5d6e7f8a9b0c1d', name: 'porch', source: 'mdns' })
    s.upsert({ ...base, deviceId: '10.0.0.8', name: '10.0.0.8', source: 'manual' })
    assert.equal(s.get(fp)?.registered, false)
    assert.equal(s.get('5f1c2a3b4c5d6e7f8a9b0c1d')?.registered, true)
    assert.equal(s.get('10.0.0.8')?.registered, null)
  })
})
