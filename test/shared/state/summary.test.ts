import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { canonicalBytes, compareKeys, diffStates, filterParts, objectRefs, parseState, summarizeState, uniqueShas } from '../../../shared/state/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { initialStateJson, pvwificonnectJson, seedJson, text, watchdogJson } from './fixtures.js'

const HEX64 = /^[0-9a-f]{64}$/
const initial = () => parseState(initialStateJson(), 'initial_state.json')
const seed = () => parseState(seedJson(), 'seed')

/** Object sizes from a tarball's listing (`tar -tv`), as the store would know them. */
function tarSizes(file: string): Map<string, number> {
  const out = execFileSync('tar', ['-tvf', join(vendoredUpstreamDir, file)]).toString()
  const m = new Map<string, number>()
  for (const line of out.trim().split('\n')) {
    const f = line.trim().split(/\s+/)
    const name = f[f.length - 1]
    if (name.startsWith('objects/')) m.set(name.slice(8), Number(f[2]))
  }
  return m
}

describe('objectRefs', () => {
  it('lists every key holding a sha, in sorted key order', () => {
    const p = initial()
    const refs = objectRefs(p)
    const expected = Object.entries(p.json)
      .filter(([, v]) => typeof v === 'string' && HEX64.test(v))
      .map(([k]) => k)
      .sort(compareKeys)
    assert.deepEqual(
      refs.map(r => r.key),
      expected,
    )
    assert.equal(refs.length, 21)
    assert.ok(!refs.some(r => r.key === '#spec' || r.key === 'bsp/run.json'))
  })

  it('counts .json keys holding a sha as objects', () => {
    const refs = objectRefs({ '#spec': 'pantavisor-service-system@1', 'a/x.json': 'a'.repeat(64), 'a/y.json': { v: 'b'.repeat(64) } })
    assert.deepEqual(refs, [{ key: 'a/x.json', sha: 'a'.repeat(64) }])
  })

  it('uniqueShas keeps the first of each sha', () => {
    const a = 'a'.repeat(64)
    const b = 'b'.repeat(64)
    assert.deepEqual(
      uniqueShas([
        { key: 'x', sha: b },
        { key: 'y', sha: a },
        { key: 'z', sha: b },
      ]),
      [b, a],
    )
  })

  it('the seed references 8 objects', () => {
    assert.equal(uniqueShas(objectRefs(seed())).length, 8)
  })
})

describe('summarizeState', () => {
  it('describes initial_state: a BSP and 3 containers', () => {
    const p = initial()
    const sum = summarizeState(p, () => null)
    assert.equal(sum.spec, 'pantavisor-service-system@1')
    assert.ok(sum.bsp !== null)
    assert.equal(sum.bsp.linux, 'kernel.img')
    assert.equal(sum.bsp.initrd, 'pantavisor')
    assert.equal(sum.bsp.firmware, 'firmware.squashfs')
    assert.equal(sum.bsp.modules, 'modules.squashfs')
    assert.equal(sum.bsp.fit, undefined)
    assert.deepEqual(
      sum.bsp.objects.map(o => o.key),
      ['bsp/addon-plymouth.cpio.xz4', 'bsp/firmware.squashfs', 'bsp/kernel.img', 'bsp/modules.squashfs', 'bsp/pantavisor', 'bsp/trail.config'],
    )
    assert.deepEqual(
      sum.containers.map(c => [c.name, c.group, c.status_goal, c.rootVolume]),
      [
        ['awconnect', 'root', undefined, 'root.squashfs'],
        ['pv-avahi', 'platform', undefined, 'root.squashfs'],
        ['pvr-sdk', 'platform', 'STARTED', 'dm:root.squashfs'],
      ],
    )
    assert.deepEqual(
      sum.containers.map(c => c.objects.length),
      [3, 3, 4],
    )
    assert.deepEqual(
      sum.other.map(o => o.key),
      [
        '_config/awconnect/etc/NetworkManager/dnsmasq-shared.d/device-dns.conf',
        '_config/awconnect/etc/iptables/dump',
        '_config/awconnect/etc/iptables/rules.v4',
        '_config/awconnect/etc/iptables/rules.v6',
        '_config/pv-avahi/etc/hostname',
      ],
    )
    assert.deepEqual(sum.signatures, ['_sigs/_hostconfig.json', '_sigs/awconnect.json', '_sigs/bsp.json', '_sigs/pv-avahi.json', '_sigs/pvr-sdk.json'])
    assert.equal(sum.objects.length, 21)
    assert.equal(sum.bytes, 0)
    assert.equal(sum.unknownSizes, uniqueShas(objectRefs(p)).length)
    assert.ok(sum.objects.every(o => o.size === null))
  })

  it('sums known sizes of unique objects (watchdog_pinger.tar, sizes from the tarball)', () => {
    const sizes = tarSizes('watchdog_pinger.tar')
    const sum = summarizeState(parseState(watchdogJson(), 'wd'), sha => sizes.get(sha))
    assert.equal(sum.bsp, null)
    assert.equal(sum.containers.length, 1)
    assert.equal(sum.containers[0].name, 'watchdog_pinger')
    assert.equal(sum.containers[0].bytes, 450560 + 631 + 71)
    assert.equal(sum.bytes, 450560 + 631 + 71)
    assert.equal(sum.unknownSizes, 0)
    assert.deepEqual(sum.other, [])
  })

  it('counts a shared sha once', () => {
    const a = 'a'.repeat(64)
    const sum = summarizeState({ '#spec': 'pantavisor-service-system@1', 'c/run.json': { name: 'c' }, 'c/x': a, 'c/y': a, z: a }, () => 10)
    assert.equal(sum.bytes, 10)
    assert.equal(sum.containers[0].bytes, 10)
    assert.equal(sum.objects.length, 3)
  })
})

describe('diffStates', () => {
  it('a state against itself: nothing', () => {
    const d = diffStates(initial(), initial(), () => 1)
    assert.deepEqual(d, { added: [], removed: [], changed: [], transferBytes: 0, transferObjects: [], unknownSizes: [] })
  })

  it('one object changed, one added, one removed', () => {
    const a = initial()
    const b = JSON.parse(text(initialStateJson())) as Record<string, any>
    const newRoot = '1'.repeat(64)
    b['awconnect/root.squashfs'] = newRoot
    b['awconnect/extra.squashfs'] = newRoot
    b['awconnect/run.json'].volumes = ['extra.squashfs']
    delete b['storage-mapping.json']
    const d = diffStates(a, b, sha => (sha === newRoot ? 1234 : 99))
    assert.deepEqual(d.added, ['awconnect/extra.squashfs'])
    assert.deepEqual(d.removed, ['storage-mapping.json'])
    assert.deepEqual(d.changed, ['awconnect/root.squashfs', 'awconnect/run.json'])
    assert.deepEqual(d.transferObjects, [newRoot])
    assert.equal(d.transferBytes, 1234)
  })

  it('seed -> initial_state: transfers exactly the objects the seed lacks', () => {
    const a = seed()
    const b = initial()
    const have = new Set(uniqueShas(objectRefs(a)))
    const need = uniqueShas(objectRefs(b)).filter(s => !have.has(s))
    const d = diffStates(a, b, () => 100)
    assert.deepEqual([...d.transferObjects].sort(), [...need].sort())
    assert.equal(d.transferBytes, 100 * need.length)
    assert.ok(need.length < uniqueShas(objectRefs(b)).length, 'the two share objects')
    assert.ok(d.changed.includes('awconnect/root.squashfs'))
    assert.ok(d.removed.includes('_hostconfig/pvr/docker.json'))
    assert.ok(d.added.includes('device.json'))
  })

  it('reports objects of unknown size apart', () => {
    const d = diffStates({ '#spec': 's' }, { '#spec': 's', x: 'a'.repeat(64), y: 'b'.repeat(64) }, sha => (sha[0] === 'a' ? 5 : undefined))
    assert.equal(d.transferBytes, 5)
    assert.deepEqual(d.unknownSizes, ['b'.repeat(64)])
  })
})

describe('filterParts', () => {
  const keysOf = (o: Record<string, unknown>): string[] => Object.keys(o)

  it('keeps a container with its _config and signature', () => {
    const f = filterParts(initial(), ['awconnect'])
    assert.deepEqual(keysOf(f), [
      '#spec',
      '_config/awconnect/etc/NetworkManager/dnsmasq-shared.d/device-dns.conf',
      '_config/awconnect/etc/iptables/dump',
      '_config/awconnect/etc/iptables/rules.v4',
      '_config/awconnect/etc/iptables/rules.v6',
      '_config/awconnect/etc/wifi-connect/conf.d/WifiHotspot.json',
      '_sigs/awconnect.json',
      'awconnect/lxc.container.conf',
      'awconnect/root.squashfs',
      'awconnect/root.squashfs.docker-digest',
      'awconnect/run.json',
      'awconnect/src.json',
    ])
  })

  it("pvr's exact behaviour without companions", () => {
    assert.deepEqual(keysOf(filterParts(initial(), ['awconnect'], { companions: false })), [
      '#spec',
      'awconnect/lxc.container.conf',
      'awconnect/root.squashfs',
      'awconnect/root.squashfs.docker-digest',
      'awconnect/run.json',
      'awconnect/src.json',
    ])
  })

  it('matches directories, full keys and deeper directories', () => {
    const p = initial()
    assert.deepEqual(keysOf(filterParts(p, ['bsp/run.json'])), ['#spec', 'bsp/run.json'])
    assert.deepEqual(keysOf(filterParts(p, ['awconnect/'], { companions: false })).length, 6)
    assert.deepEqual(keysOf(filterParts(p, ['_config/pvr-sdk'])), ['#spec', '_config/pvr-sdk/etc/pvr-sdk/config.json'])
    const bsp = keysOf(filterParts(p, ['bsp', 'device.json']))
    assert.ok(bsp.includes('_sigs/bsp.json') && bsp.includes('device.json') && bsp.includes('bsp/kernel.img'))
    assert.ok(!bsp.some(k => k.startsWith('awconnect/')))
  })

  it('no parts: the whole state', () => {
    assert.equal(keysOf(filterParts(initial(), [])).length, 43)
  })

  it('refuses a part that matches nothing (a name prefix is not a directory)', () => {
    assert.throws(() => filterParts(initial(), ['nope']), { code: 'E_BAD_INPUT', message: /"nope" matches no key/ })
    assert.throws(() => filterParts(initial(), ['awconn']), { code: 'E_BAD_INPUT' })
    assert.throws(() => filterParts(initial(), ['']), { code: 'E_BAD_INPUT' })
  })

  it('the only part of a signed export gives back the same json bytes', () => {
    const raw = pvwificonnectJson()
    assert.deepEqual(canonicalBytes(filterParts(parseState(raw, 'pvwificonnect'), ['pvwificonnect'])), raw)
  })
})
