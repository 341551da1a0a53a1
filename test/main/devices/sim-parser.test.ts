/**
 * The simulator's port of Pantavisor's state parser (main/devices/sim/parser.ts):
 * what the device takes and refuses at PUT /steps/locals/<name>. Each case
 * cites the upstream function that decides it; the run.json and device.json
 * verdicts were also checked on the real runtime (pvkit, Pantavisor
 * 029-32, whose appengine mode skips only parse_bsp), and they agree.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { validateState, parseState } from '../../../shared/state/index.js'
import { parseOnDevice } from '../../../main/devices/sim/parser.js'
import { opFromStr, parseCommand } from '../../../main/devices/sim/commands.js'

const SPEC = '"#spec":"pantavisor-service-system@1"'
const app = (runJson: string): string => `{${SPEC},"app/run.json":${runJson}}`

describe('device-sim parser: what parser/ takes', () => {
  const takes: Array<[string, string]> = [
    // upstream parser/parser_system1.c system1_parse_objects: "everything else is added to the list of objects" (pv_objects_add checks nothing)
    ['an object key whose value is a number', `{${SPEC},"app/root.squashfs":7}`],
    // parser_system1.c parse_platform: "type" is only needed once a platform exists; nothing requires it
    ['a run.json with a name only', app('{"name":"app"}')],
    // parse_platform: "config" and "root-volume" are saved or volumes added by name, never resolved against the state
    ['a run.json naming files the state lacks', app('{"name":"app","type":"lxc","config":"nope.conf","root-volume":"nope.squashfs"}')],
    // do_action_for_runlevel: an unknown runlevel is a warning
    ['an unknown runlevel', app('{"name":"app","runlevel":"weird"}')],
    // do_lookup_json_key matches keys by prefix, first in text order: "groupx" answers for "group"
    ['"groupx" looked up for "group"', app('{"name":"app","groupx":"platform","group":"nope"}')],
    // jsmnutil_parse_json of "" gives no token: parse_platform returns 0 with nothing parsed
    ['a run.json that is an empty string', app('""')],
    // pv_parser_get_state: "#spec" is the first string token equal to it, at any depth
    ['a #spec found inside another value', '{"x.json":{"#spec":"pantavisor-service-system@1"}}'],
    // system1_parse_bsp: no bsp/run.json is no BSP, and no error (running it fails later, update.c)
    ['no BSP at all', `{${SPEC}}`],
    ['a group from device.json', `{${SPEC},"device.json":{"groups":[{"name":"g1"}]},"app/run.json":{"name":"app","group":"g1"}}`],
  ]
  for (const [what, text] of takes) {
    it(`takes ${what}`, () => {
      const r = parseOnDevice(text)
      assert.ok(r.ok, `refused: ${r.ok ? '' : r.reason}`)
    })
  }

  it("takes states that Fieldsync's own validator refuses (the simulator used to apply it)", () => {
    for (const text of [takes[0][1], takes[2][1]]) assert.ok(validateState(parseState(Buffer.from(text), 't')).length > 0)
  })

  it('keeps the raw text of object ids and the boot assets of bsp/run.json', () => {
    const r = parseOnDevice(`{${SPEC},"bsp/run.json":{"addons":["a.cpio"],"initrd":"pv","linux":"k"},"bsp/k":"${'a'.repeat(64)}","app/root.squashfs":7}`)
    assert.ok(r.ok)
    assert.deepEqual(r.state.objects, [
      { key: 'bsp/k', id: 'a'.repeat(64) },
      { key: 'app/root.squashfs', id: '7' },
    ])
    assert.deepEqual(r.state.boot, { kernel: 'k', initrd: 'pv', fdt: null, fit: null, rpiab: null, addons: ['a.cpio'] })
  })
})

describe('device-sim parser: what parser/ refuses', () => {
  const refuses: Array<[string, string]> = [
    // do_action_for_group: pv_state_fetch_group fails
    ['an unknown group', app('{"name":"app","group":"nope"}')],
    // do_action_for_restart_policy: parse_restart_policy gives RESTART_NONE
    ['a bad restart_policy', app('{"name":"app","restart_policy":"never"}')],
    // do_action_for_status_goal
    ['a bad status_goal', app('{"name":"app","status_goal":"RUNNING"}')],
    // do_action_for_type: no platform without "name"
    ['no name', app('{"type":"lxc"}')],
    // do_json_key_action_array: jsmnutil_get_array_toks of a non-array
    ['roles that is an object', app('{"name":"app","roles":{}}')],
    ['roles that is a string', app('{"name":"app","roles":"mgmt"}')],
    ['volumes that is a string', app('{"name":"app","volumes":"x"}')],
    // do_action_for_one_log: each entry an object with keys
    ['an empty logs entry', app('{"name":"app","logs":[{}]}')],
    // parse_platform: jsmnutil_get_object_keys of a non-object
    ['a run.json held as an object sha', app(`"${'0'.repeat(64)}"`)],
    // parse_bsp: "kernel or initrd not configured in bsp/run.json"
    ['a bsp/run.json without fit, rpiab, or linux and initrd', `{${SPEC},"bsp/run.json":{"linux":"k"}}`],
    // system1_parse_bsp: pv_json_get_key_count counts values too
    ['"bsp/run.json" twice (once as a value)', `{${SPEC},"bsp/run.json":{"fit":"f"},"x":"bsp/run.json"}`],
    // parse_groups: parse_restart_policy of a group
    ['a device.json group with a bad restart_policy', `{${SPEC},"device.json":{"groups":[{"name":"g1","restart_policy":"never"}]}}`],
    // system1_parse_objects: the top level must be an object
    ['a top-level array', '["#spec","pantavisor-service-system@1"]'],
    // pv_parser_get_state: no parser for the spec (embed@1 even crashes the device, parser.c indexes past its table)
    ['pantavisor-service-embed@1', '{"#spec":"pantavisor-service-embed@1"}'],
    ['text that is not JSON', `{${SPEC},"app/root.squashfs": }`],
  ]
  for (const [what, text] of refuses) {
    it(`refuses ${what}`, () => {
      assert.equal(parseOnDevice(text).ok, false)
    })
  }
})

describe('device-sim commands: pv_ctrl_cmd_parse', () => {
  it('matches an op by prefix, first in the enum order (ctrl/ctrl_cmd.h pv_ctrl_cmd_op_from_str)', () => {
    assert.equal(opFromStr('LOCAL'), 'LOCAL_RUN')
    assert.equal(opFromStr('LOCAL_RUN'), 'LOCAL_RUN')
    assert.equal(opFromStr('LOCAL_RUN_'), 'LOCAL_RUN_COMMIT')
    assert.equal(opFromStr('LOCAL_A'), 'LOCAL_APPLY')
    assert.equal(opFromStr(''), 'UPDATE_METADATA')
    assert.equal(opFromStr('TRY'), 'TRY_ONCE')
    assert.equal(opFromStr('LOCAL_RUNX'), null)
    assert.equal(opFromStr('5'), null)
  })

  it('reads op and payload as pv_json_get_value does (utils/json.c pv_json_get_value_ref; checked on the device)', () => {
    assert.deepEqual(parseCommand('{"payload":"op","op":"RUN_GC"}'), { op: 'RUN_GC', payload: 'op' })
    assert.deepEqual(parseCommand('{"op":"LOCAL","payload":5}'), { op: 'LOCAL_RUN', payload: '5' })
    assert.equal(parseCommand('{"op":"LOCAL_RUN"}'), null, 'no payload')
    assert.equal(parseCommand('{"op":5,"payload":""}'), null)
  })
})
