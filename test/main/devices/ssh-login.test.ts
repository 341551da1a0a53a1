/**
 * Which container an SSH login enters: the management role as upstream's
 * parser gives it (pantavisor parser/parser_system1.c: "roles" as an array
 * holding "mgmt" sets it, "roles" as anything else clears it; platforms.c
 * pv_platform_add: without "roles" a container has it), the choice between
 * a name given, the device's state, the remembered choice and pvr-sdk, and
 * the memory in the device store (migration 007).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { silentLogger } from '../../../shared/log.js'
import { migrate, openDatabase } from '../../../main/store/db.js'
import { migrations } from '../../../main/store/migrations/index.js'
import { DeviceStore } from '../../../main/devices/store.js'
import { chooseSshLogin, mgmtContainers } from '../../../main/devices/ssh-login.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'

const run = (extra: Record<string, unknown>): Record<string, unknown> => ({
  '#spec': 'service-manifest-run@1',
  type: 'lxc',
  config: 'lxc.container.conf',
  'root-volume': 'root.squashfs',
  ...extra,
})

describe('the management role, as upstream parses it', () => {
  it('a stock state (upstream fixture): pvr-sdk names the role, awconnect and pv-avahi have it by default, so pvr-sdk comes first', () => {
    const state = JSON.parse(readFileSync(join(vendoredUpstreamDir, 'initial_state.json'), 'utf8')) as unknown
    assert.deepEqual(mgmtContainers(state), ['pvr-sdk', 'awconnect', 'pv-avahi'])
  })

  it('roles ["mgmt"] wins over no roles; ["nobody"], [] and an object take the role away; bsp and run.json by sha are not containers', () => {
    const state = {
      '#spec': 'pantavisor-service-system@1',
      'bsp/run.json': { linux: 'kernel.img', initrd: 'pantavisor' },
      'zz-tools/run.json': run({ name: 'zz-tools', roles: ['nobody', 'mgmt'] }),
      'app/run.json': run({ name: 'app' }),
      'web/run.json': run({ name: 'web', roles: ['nobody'] }),
      'empty/run.json': run({ name: 'empty', roles: [] }),
      'odd/run.json': run({ name: 'odd', roles: { mgmt: true } }),
      'hashed/run.json': 'a'.repeat(64),
    }
    assert.deepEqual(mgmtContainers(state), ['zz-tools', 'app'])
  })

  it('the platform is named by its run.json "name" (what fallbear-cmd looks up); a name no login could carry is left out', () => {
    assert.deepEqual(mgmtContainers({ 'dir/run.json': run({ name: 'sdk', roles: ['mgmt'] }), 'bad/run.json': run({ name: 'a b', roles: ['mgmt'] }) }), ['sdk'])
    assert.deepEqual(mgmtContainers(null), [])
    assert.deepEqual(mgmtContainers(['x']), [])
  })
})

describe('choosing the login name', () => {
  it('given > the state (the remembered choice when it is one of its management containers) > remembered > pvr-sdk', () => {
    assert.deepEqual(chooseSshLogin({}), { container: 'pvr-sdk', source: 'default' })
    assert.deepEqual(chooseSshLogin({ remembered: 'tools' }), { container: 'tools', source: 'setting' })
    assert.deepEqual(chooseSshLogin({ remembered: 'tools', mgmt: ['sdk'] }), { container: 'sdk', source: 'state' })
    assert.deepEqual(chooseSshLogin({ remembered: 'tools', mgmt: ['sdk', 'tools'] }), { container: 'tools', source: 'setting' })
    assert.deepEqual(chooseSshLogin({ given: 'other', remembered: 'tools', mgmt: ['sdk'] }), { container: 'other', source: 'flag' })
    assert.deepEqual(chooseSshLogin({ mgmt: [] }), { container: 'pvr-sdk', source: 'default' })
  })
})

describe('migration 007 and the remembered login', () => {
  it("takes a library at schema 6 to 7; a device keeps its choice and its state's roles apart; forget drops them; a bad name is refused", () => {
    const db = new Database(':memory:')
    for (const m of migrations.slice(0, 6)) db.exec(m)
    db.pragma('user_version = 6')
    migrate(db, ':memory:', silentLogger())
    assert.equal(db.pragma('user_version', { simple: true }), migrations.length)
    db.exec(migrations[6])
    const s = new DeviceStore(openDatabase(':memory:', silentLogger()))
    assert.deepEqual(s.sshLogin('10.0.0.7:8222'), { container: null, mgmt: null, mgmtRevision: null })
    s.setSshContainer('10.0.0.7:8222', 'tools')
    s.setSshMgmt('10.0.0.7:8222', ['pvr-sdk'], 'ab'.repeat(32))
    assert.deepEqual(s.sshLogin('10.0.0.7:8222'), { container: 'tools', mgmt: ['pvr-sdk'], mgmtRevision: 'ab'.repeat(32) })
    assert.throws(
      () => {
        s.setSshContainer('10.0.0.7:8222', 'a b')
      },
      { code: 'E_USAGE' },
    )
    s.upsert({
      deviceId: '10.0.0.7:8222',
      name: null,
      addrs: ['10.0.0.7'],
      port: null,
      claimed: null,
      pvrSdk: false,
      revision: null,
      status: null,
      source: 'manual',
    })
    s.forget('10.0.0.7:8222')
    assert.deepEqual(s.sshLogin('10.0.0.7:8222'), { container: null, mgmt: null, mgmtRevision: null })
  })
})
