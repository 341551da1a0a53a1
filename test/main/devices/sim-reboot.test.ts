/**
 * The simulator's reboot rule is upstream's: pantavisor state.c
 * pv_state_stop_platforms (pv_state_compare_jsons, pv_state_compare_objects,
 * pv_state_platform_requires_reboot), pv_state_set_default_groups and
 * pv_state_set_default_runlevels, defaults/groups.json, parser_system1.c
 * (no groups in device.json: the default groups, "using_runlevels").
 * The real device (test/realdevice/agree.test.ts) showed it: watchdog_pinger,
 * which names no group and no restart policy, added to a running state
 * reboots to DONE; pvwificonnect ("group": "platform", "restart_policy":
 * "container") ends UPDATED.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { needsReboot, restartPolicies } from '../../../main/devices/sim/reboot.js'

const sha = (c: string): string => c.repeat(64)
const bsp = { 'bsp/run.json': { linux: 'kernel.img', initrd: 'pantavisor' }, 'bsp/kernel.img': sha('a'), 'bsp/pantavisor': sha('b') }
const app = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  [`${name}/run.json`]: { '#spec': 'service-manifest-run@1', name, type: 'lxc', 'root-volume': 'root.squashfs', ...extra },
  [`${name}/root.squashfs`]: sha(name[0]),
})

describe('simulator: when an update reboots (upstream state.c)', () => {
  it('no groups in device.json: the first platform without a group goes to root, the rest to platform; both restart the system', () => {
    const s = { '#spec': 'pantavisor-service-system@1', ...bsp, ...app('pvr-sdk'), ...app('watchdog_pinger') }
    assert.deepEqual(
      [...restartPolicies(s)],
      [
        ['pvr-sdk', 'system'],
        ['watchdog_pinger', 'system'],
      ],
    )
  })

  it('adding a platform with no group (watchdog_pinger) reboots; one in group platform with restart_policy container (pvwificonnect) does not', () => {
    const base = { '#spec': 'pantavisor-service-system@1', ...bsp, ...app('pvr-sdk') }
    assert.equal(needsReboot(base, { ...base, ...app('watchdog_pinger') }), true)
    const wifi = app('pvwificonnect', { group: 'platform', restart_policy: 'container' })
    assert.equal(needsReboot(base, { ...base, ...wifi, '_sigs/pvwificonnect.json': { '#spec': 'pvs@2' } }), false, 'a signature is not platform data')
    assert.equal(needsReboot({ ...base, ...wifi }, { ...base }), false, 'removing a container-restart platform')
  })

  it('a BSP or device.json change reboots; a change inside an app-group platform (groups from device.json) does not, and a platform with no group takes the last declared group', () => {
    const groups = {
      'device.json': {
        groups: [
          { name: 'root', restart_policy: 'system' },
          { name: 'app', restart_policy: 'container' },
        ],
      },
    }
    const base = { '#spec': 'pantavisor-service-system@1', ...bsp, ...groups, ...app('web') }
    assert.equal(restartPolicies(base).get('web'), 'container')
    assert.equal(needsReboot(base, { ...base, 'web/root.squashfs': sha('f') }), false)
    assert.equal(needsReboot(base, { ...base, 'bsp/kernel.img': sha('c') }), true)
    assert.equal(needsReboot(base, { ...base, 'device.json': { groups: [...groups['device.json'].groups, { name: 'x' }] } }), true)
    assert.equal(needsReboot(base, { ...base, ...app('web', { group: 'root' }) }), true, 'moved into a system group: the pending platform reboots')
  })

  it('an unknown restart policy reboots (pv_state_platform_requires_reboot)', () => {
    const base = { '#spec': 'pantavisor-service-system@1', ...bsp }
    assert.equal(needsReboot(base, { ...base, ...app('x', { group: 'app', restart_policy: 'sometimes' }) }), true)
  })
})
