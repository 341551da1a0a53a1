/** The contract's validators: a valid request for every channel passes unchanged; bad ones fail with E_BAD_INPUT naming the argument. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHANNELS, EVENTS, isChannel, isEventName, validateRequest, type Channel, type Req } from '../../../shared/api/contract.js'
import { ErrorCodes, isCode } from '../../../shared/errors.js'

const SHA = 'a'.repeat(64)

// One valid request per channel: the type makes a missing channel a compile error.
const examples: { [C in Channel]: Req<C> } = {
  'app.info': {},
  'fs.list': { path: '/media/tech', files: true },
  'library.list': {},
  'library.show': { rev: 'pvwificonnect' },
  'library.diff': { a: SHA, b: 'site-gateway-1.5' },
  'library.import': { path: '/home/tech/Downloads/x.tgz', name: 'x' },
  'library.export': { rev: SHA.slice(0, 12), folder: 'C:\\Users\\tech', gzip: false },
  'library.rename': { rev: 'x', name: 'site-a@2026.05' },
  'library.remove': { rev: 'x' },
  'library.composePreview': { base: 'x', ops: [{ add: 'pvwificonnect' }, { remove: '_config/awconnect' }] },
  'library.composeSave': { base: SHA, ops: [{ remove: 'awconnect' }], name: 'site-a+wifi' },
  'transfers.list': {},
  'transfers.cancel': { id: '0a1b2c3d4e5f' },
  'transfers.clear': {},
  'transfers.retry': { id: '0a1b2c3d4e5f' },
  'peers.status': {},
  'peers.add': { addr: '/ip4/10.0.0.5/tcp/4001/p2p/12D3KooWNKW6xifHewLTs8o2meBfz89cZtedLMv1wNFADmovnQps' },
  'peers.pull': { rev: 'pvwificonnect', from: ['12D3KooWNKW6xifHewLTs8o2meBfz89cZtedLMv1wNFADmovnQps'] },
  'team.create': { name: 'north sites', replace: false },
  'team.join': { code: 'fs1-abcde-fghij.bm9ydGg' },
  'team.show': {},
  'devices.list': {},
  'devices.add': { address: '[fe80::1]:8222' },
  'devices.plan': { rev: 'x', device: '10.0.0.7', via: 'pvr-sdk' },
  'devices.install': { rev: 'x', device: 'd3v1c3', via: 'ssh', name: 'site-a', commit: true },
  'devices.history': { device: 'd3v1c3' },
  'devices.detail': { device: '127.0.0.1:40049' },
  'devices.rename': { device: 'd3v1c3', alias: 'line-3' },
  'devices.tag': { devices: ['d3v1c3', '10.0.0.7'], tags: ['canary', 'site+a'], remove: false },
  'devices.forget': { devices: ['d3v1c3'] },
  'devices.setSsh': { device: 'd3v1c3', container: 'pvr-sdk' },
  'rollout.plan': { rev: 'x', devices: ['d3v1c3'], canary: ['d3v1c3'], parallel: 4 },
  'rollout.start': { rev: 'x', devices: ['d3v1c3', '10.0.0.7'], parallel: 2, maxFailures: 2, commit: false },
  'rollout.stop': { id: '0a1b2c3d4e5f6071' },
  'rollout.current': {},
  'rollout.report': { id: '0a1b2c3d4e5f6071', folder: '/media/stick', kind: 'html' },
  'rollout.unfinished': {},
  'rollout.resume': { rollout: 7 },
  'rollout.dismiss': { rollout: 1 },
  'usb.export': { revs: ['a', 'b'], folder: '/media/stick', forDevice: '/media/stick/inventory.json' },
  'usb.import': { folder: '/media/stick' },
  'usb.inventory': { folder: '/media/stick' },
  'usb.eject': { folder: '/media/stick' },
  'trust.list': {},
  'trust.add': { upload: '0a1b2c3d4e5f', oem: true },
  'trust.remove': { fingerprint: 'ab12cd34' },
  'trust.setPolicy': { policy: 'strict' },
}

function refuses(channel: Channel, req: unknown, path: RegExp): void {
  assert.throws(
    () => validateRequest(channel, req),
    (err: unknown) => {
      assert.ok(isCode(err, ErrorCodes.BadInput), String(err))
      assert.match((err as Error).message, path)
      return true
    },
  )
}

describe('API contract', () => {
  it('has a valid example for every channel, passed through unchanged', () => {
    assert.deepEqual(Object.keys(examples).sort(), [...CHANNELS].sort())
    for (const c of CHANNELS) assert.deepEqual(validateRequest(c, examples[c]), examples[c], c)
  })

  it('channel and event names are closed sets', () => {
    assert.equal(isChannel('library.list'), true)
    for (const x of ['constructor', '__proto__', 'toString', 'library', '', 5]) assert.equal(isChannel(x), false, String(x))
    assert.equal(isEventName('revision'), true)
    assert.equal(isEventName('hasOwnProperty'), false)
    assert.ok(EVENTS.includes('transfer'))
  })

  it('refuses wrong types, missing and unknown arguments', () => {
    refuses('library.show', { rev: 42 }, /library\.show\.rev: expected a string/)
    refuses('library.show', {}, /library\.show\.rev/)
    refuses('library.show', null, /expected an object/)
    refuses('library.show', { rev: 'x', sql: 'drop' }, /library\.show\.sql: unknown argument/)
    refuses('library.list', [], /expected an object/)
    refuses('trust.add', { path: '/a.pem', upload: '0a1b2c3d4e5f' }, /give exactly one of path, upload/)
    refuses('trust.setPolicy', { policy: 'loose' }, /trust\.setPolicy\.policy: must be one of disabled, lenient, strict, audit/)
    refuses('trust.remove', { fingerprint: 'AB:CD' }, /trust\.remove\.fingerprint/)
    refuses('transfers.clear', { x: 1 }, /unknown argument/)
  })

  it('refuses fleet labels, rollout sizes and report kinds that do not fit', () => {
    refuses('devices.rename', { device: 'x', alias: 'has space' }, /devices\.rename\.alias: must be an alias/)
    refuses('devices.setSsh', { device: 'x', container: 'root; rm -rf /' }, /devices\.setSsh\.container: must be a container name/)
    refuses('devices.tag', { devices: ['x'], tags: ['a,b'] }, /devices\.tag\.tags\[0\]/)
    refuses('devices.tag', { devices: [], tags: ['a'] }, /devices\.tag\.devices: needs at least 1/)
    refuses('rollout.start', { rev: 'x', devices: ['d'], parallel: 0, maxFailures: 1 }, /rollout\.start\.parallel: must be between 1 and 64/)
    refuses('rollout.start', { rev: 'x', devices: ['d'], parallel: 1 }, /rollout\.start\.maxFailures: expected an integer/)
    refuses('rollout.report', { id: '0a1b2c3d4e5f6071', folder: '/tmp', kind: 'pdf' }, /kind: must be one of csv, json, html/)
    refuses('rollout.report', { id: '0a1b2c3d4e5f6071', folder: 'tmp', kind: 'csv' }, /folder: must be an absolute path/)
    refuses('rollout.resume', { rollout: 0 }, /rollout\.resume\.rollout: must be between 1/)
    refuses('rollout.resume', { rollout: '3' }, /rollout\.resume\.rollout: expected an integer/)
    refuses('rollout.dismiss', { rollout: 1.5 }, /rollout\.dismiss\.rollout: expected an integer/)
    refuses('rollout.dismiss', {}, /rollout\.dismiss\.rollout/)
    refuses('rollout.unfinished', { limit: 9 }, /unknown argument/)
  })

  it('refuses paths that are not absolute and names that do not fit', () => {
    refuses('library.export', { rev: 'x', folder: 'stick' }, /folder: must be an absolute path/)
    refuses('library.import', { path: '../../etc/passwd' }, /path: must be an absolute path/)
    refuses('library.rename', { rev: 'x', name: '-x' }, /name/)
    refuses('library.rename', { rev: 'x', name: 'a'.repeat(200) }, /at most 128/)
    refuses('library.show', { rev: 'x\u0000y' }, /NUL/)
    refuses('fs.list', { path: 'relative' }, /absolute/)
  })

  it('import takes exactly one of path and upload', () => {
    refuses('library.import', {}, /exactly one of path, upload/)
    refuses('library.import', { path: '/a', upload: 'abcdef0123' }, /exactly one/)
    refuses('library.import', { upload: 'XYZ' }, /hex/)
  })

  it('compose steps are one of add or remove, at most 64, and a save needs a name', () => {
    refuses('library.composePreview', { base: 'x', ops: [{}] }, /ops\[0\]: give exactly one of add, remove/)
    refuses('library.composePreview', { base: 'x', ops: [{ add: 'a', remove: 'b' }] }, /exactly one/)
    refuses('library.composePreview', { base: 'x', ops: [{ remove: 'a\nb' }] }, /ops\[0\]\.remove/)
    refuses('library.composePreview', { base: 'x', ops: Array(65).fill({ remove: 'a' }) }, /at most 64/)
    refuses('library.composeSave', { base: 'x', ops: [{ remove: 'a' }] }, /name/)
    refuses('library.composeSave', { base: 'x', ops: [], name: 'n' }, /at least 1/)
  })

  it('checks enums, lists and ids', () => {
    refuses('devices.plan', { rev: 'x', device: 'd', via: 'ftp' }, /via: must be one of pvr-sdk, ssh/)
    refuses('usb.export', { revs: [], folder: '/s' }, /at least 1/)
    refuses('usb.export', { revs: [1], folder: '/s' }, /revs\[0\]/)
    refuses('transfers.cancel', { id: '../x' }, /hex/)
    refuses('peers.add', { addr: 'http://evil' }, /multiaddr/)
    refuses('devices.install', { rev: 'x', device: 'd', commit: 'yes' }, /commit: expected true or false/)
  })
})
