/**
 * What Pantavisor's state parser refuses, and what it makes of a state that
 * it takes: parser/parser.c pv_parser_get_state, parser/parser_system1.c
 * system1_parse and parser/parser_multi1.c multi1_parse, on the jsmn token
 * semantics they rely on (main/trust/jsmn.ts). This is all the device checks
 * of a state besides its signatures; Fieldsync's own validator
 * (shared/state) refuses much more, and the simulator must not.
 *
 * The parser's quirks are kept: values are found by the first string token
 * equal to a key anywhere in the text (pv_json_get_value); a container's
 * run.json keys are looked up by prefix in a fixed order and the first
 * failing action stops it (start_json_parsing_with_action); any other key is
 * an object whatever its value (pv_objects_add checks nothing).
 * Not modelled (taken as the device takes a valid one): `disks`, `disks_v2`,
 * `disks_v3`, `disks.json`, `disks_v3.json`, network pools, driver entries.
 * Where the device would crash rather than refuse (a platform without a
 * group when there are no groups, `exports` or `logs` before a `name`), the
 * simulator refuses.
 */
import { Doc } from './pvjson.js'

export const SPEC_SYSTEM1 = 'pantavisor-service-system@1'
export const SPEC_MULTI1 = 'pantavisor-multi-platform@1'

/** The boot assets of bsp/run.json (pantavisor.json in multi1), as named there. */
export interface BootAssets {
  kernel: string | null
  initrd: string | null
  fdt: string | null
  fit: string | null
  rpiab: string | null
  addons: string[]
}

export interface DeviceState {
  spec: string
  /** Where boot assets live in the trail: `bsp/` (system1) or the top (multi1); pv_storage_meta_link_boot. */
  prefix: string
  /** null: the state has no BSP (the parser takes it; running it fails). */
  boot: BootAssets | null
  /** pv_objects_add: every object key with its id, the raw text of its value. */
  objects: Array<{ key: string; id: string }>
  platforms: string[]
}

export type ParseResult = { ok: true; state: DeviceState } | { ok: false; reason: string }

const DEFAULT_GROUPS = ['data', 'root', 'platform', 'app']
const RUNLEVELS = new Set(DEFAULT_GROUPS)
const RESTART_POLICIES = new Set(['system', 'container'])
const STATUS_GOALS = new Set(['MOUNTED', 'STARTED', 'READY'])

class Refused extends Error {}
const refuse = (reason: string): never => {
  throw new Refused(reason)
}

/** strncmp(literal, key, strlen(key)) == 0: the key is a prefix of the literal (parser_system1.c's skip list). */
function prefixOf(literal: string, key: string): boolean {
  return key.length <= literal.length && literal.startsWith(key)
}

/** parse_groups: a non-empty array of group objects, each with a name and valid fields. */
function parseGroups(text: string): string[] {
  const d = new Doc(text)
  const elems = d.children(0, 'array')
  if (elems === null || elems.length === 0) refuse('empty groups array')
  const names: string[] = []
  for (const e of elems ?? []) {
    const g = new Doc(d.raw(e))
    if (g.toks.length === 0) refuse('invalid group entry')
    const keys = g.children(0, 'object')
    if (keys === null || keys.length === 0) refuse('empty group entry')
    const goal = g.value('status_goal')
    if (goal !== null && !STATUS_GOALS.has(goal)) refuse(`invalid status goal '${goal}'`)
    const timeout = g.value('timeout')
    if (timeout !== null && parseInt(timeout, 10) < 0) refuse('group timeout malformed or beyond to the limits')
    const restart = g.value('restart_policy')
    if (restart !== null && !RESTART_POLICIES.has(restart)) refuse(`invalid restart policy '${restart}'`)
    const name = g.value('name')
    if (name === null) refuse('group does not have a name')
    names.push(name as string)
  }
  return names
}

/** parse_device: groups (none: no groups at all), volumes. */
function parseDevice(text: string): string[] | null {
  const d = new Doc(text)
  if (!d.ok) return null
  const groups = d.value('groups')
  if (groups === null) return null
  const names = parseGroups(groups)
  const volumes = d.value('volumes')
  if (volumes !== null && new Doc(volumes).children(0, 'object') === null) refuse('cannot parse storage in device.json')
  return names
}

/** parse_bsp / parse_pantavisor: boot assets; refused without fit, rpiab, or both linux and initrd. */
function parseBoot(text: string, system1: boolean): BootAssets {
  const d = new Doc(text)
  const b: BootAssets = { kernel: null, initrd: null, fdt: null, fit: null, rpiab: null, addons: [] }
  b.fit = d.value('fit')
  if (b.fit === null) {
    if (system1) b.rpiab = d.value('rpiab')
    if (b.rpiab === null) {
      b.kernel = d.value('linux')
      b.fdt = d.value('fdt')
      b.initrd = d.value('initrd')
    }
  }
  if ((b.kernel === null || b.initrd === null) && b.fit === null && b.rpiab === null) refuse('kernel or initrd not configured in bsp/run.json')
  const keys = d.children(0, 'object')
  if (keys === null) refuse('addon list cannot be parsed')
  const addons = (keys ?? []).find(k => d.raw(k).startsWith('addons'))
  if (addons !== undefined) {
    // pv_json_array_get_one_str over the `size` tokens after the array token
    const n = d.toks[addons + 1].size
    for (let i = 0; i < n && addons + 2 + i < d.toks.length; i++) b.addons.push(d.raw(addons + 2 + i))
  }
  return b
}

type JkaType = 'string' | 'array' | 'object' | 'primitive'
interface Platform {
  name: string | null
}

/** parse_platform: the run.json actions in their order; the first non-zero one stops it. */
function parsePlatform(text: string, groups: Set<string>): string | null {
  const d = new Doc(text)
  if (d.toks.length === 0) {
    if (d.text === '') return null // jsmnutil_parse_json gives 0 tokens: nothing parsed, nothing refused
    refuse('a run.json that is not JSON')
  }
  const keys = d.children(0, 'object')
  if (keys === null) refuse('json cannot be parsed')
  const p: Platform = { name: null }
  const need = (): void => {
    if (p.name === null) refuse('a run.json key before "name" (no platform yet)')
  }
  const actions: Array<[string, JkaType, (v: string) => void]> = [
    [
      'name',
      'string',
      v => {
        p.name = v
      },
    ],
    ['type', 'string', need],
    [
      'runlevel',
      'string',
      v => {
        need()
        if (RUNLEVELS.has(v) && !groups.has(v)) refuse(`could not find group '${v}'`)
      },
    ],
    ['automodfw', 'string', need],
    [
      'group',
      'string',
      v => {
        need()
        if (!groups.has(v)) refuse(`could not find group '${v}'`)
      },
    ],
    [
      'restart_policy',
      'string',
      v => {
        need()
        if (!RESTART_POLICIES.has(v)) refuse(`invalid restart policy '${v}'`)
      },
    ],
    [
      'status_goal',
      'string',
      v => {
        need()
        if (!STATUS_GOALS.has(v)) refuse(`invalid status goal '${v}'`)
      },
    ],
    ['roles', 'object', () => {}],
    ['roles', 'array', need],
    ['auto_recovery', 'object', need],
    ['network', 'object', need],
    ['config', 'string', () => {}],
    ['share', 'string', () => {}],
    ['root-volume', 'string', need],
    ['volumes', 'array', need],
    [
      'logs',
      'array',
      v => {
        need()
        const o = new Doc(v).children(0, 'object')
        if (o === null || o.length === 0) refuse('logs cannot be parsed')
      },
    ],
    ['storage', 'object', () => {}],
    ['drivers', 'object', () => {}],
    ['services', 'object', () => {}],
    ['exports', 'array', need],
    ['dev-log', 'primitive', () => {}],
  ]
  for (const [key, type, act] of actions) {
    const k = (keys ?? []).find(i => d.raw(i).startsWith(key)) // do_lookup_json_key: by prefix, first in text order
    if (k === undefined) continue
    if (type === 'array') {
      const elems = d.children(k + 1, 'array')
      if (elems === null) refuse(`"${key}" is not an array`)
      for (const e of elems ?? []) act(d.raw(e))
    } else {
      act(d.raw(k + 1))
    }
  }
  return p.name
}

function system1(d: Doc): DeviceState {
  let groups: string[] = []
  let runlevels = false
  const hasDevice = d.count('device.json') > 0
  if (d.count('device.json') === 1) groups = parseDevice(d.value('device.json') ?? '') ?? []
  const gCount = d.count('groups.json')
  if (gCount === 1 && !hasDevice) groups = parseGroups(d.value('groups.json') ?? '')
  else if (gCount === 0 && !hasDevice) {
    groups = DEFAULT_GROUPS
    runlevels = true
  }
  let boot: BootAssets | null = null
  const bspCount = d.count('bsp/run.json')
  if (bspCount > 1) refuse('bsp/run.json duplicated')
  if (bspCount === 1) boot = parseBoot(d.value('bsp/run.json') ?? '', true)
  if (d.count('bsp/drivers.json') === 1 && new Doc(d.value('bsp/drivers.json') ?? '').children(0, 'object') === null) refuse('drivers list cannot be parsed')
  const keys = d.children(0, 'object')
  if (keys === null) refuse('json cannot be parsed')
  const objects: Array<{ key: string; id: string }> = []
  const platforms: string[] = []
  const groupSet = new Set(groups)
  for (const k of keys ?? []) {
    const key = d.raw(k)
    if (['bsp/run.json', 'bsp/drivers.json', 'disks.json', 'disks_v3.json', 'groups.json', 'device.json', '#spec'].some(l => prefixOf(l, key))) continue
    const value = d.raw(k + 1)
    const slash = key.lastIndexOf('/')
    const ext = slash < 0 ? null : key.slice(slash)
    if (ext === '/run.json') {
      const name = parsePlatform(value, groupSet)
      if (name !== null) platforms.push(name)
    } else if (ext === '/services.json') {
      // parse_service_exports: its result is not checked
    } else if (ext !== null && (ext === '/src.json' || ext === '/build.json' || key.startsWith('_sigs/'))) {
      // skipped
    } else if (key.endsWith('.json') && !/^[0-9a-fA-F]{64}$/.test(value)) {
      // an inline JSON file
    } else {
      objects.push({ key, id: value })
    }
  }
  // pv_state_validate: platforms without a group go to the default one (the last group)
  if (platforms.length > 0 && !runlevels && groups.length === 0) refuse('platforms but no group to put them in (the device would crash here)')
  return { spec: SPEC_SYSTEM1, prefix: 'bsp/', boot, objects, platforms }
}

function multi1(d: Doc): DeviceState {
  let boot: BootAssets | null = null
  if (d.count('pantavisor.json') === 1) boot = parseBoot(d.value('pantavisor.json') ?? '', false)
  const objects: Array<{ key: string; id: string }> = []
  for (const k of d.children(0, 'object') ?? []) {
    const key = d.raw(k)
    if (prefixOf('pantavisor.json', key) || prefixOf('#spec', key)) continue
    const dot = key.lastIndexOf('.')
    if (dot >= 0 && key.slice(dot) === '.json') continue
    objects.push({ key, id: d.raw(k + 1) })
  }
  return { spec: SPEC_MULTI1, prefix: '', boot, objects, platforms: [] }
}

/** pv_parser_get_state: the state as the device parses it, or why it refuses it. */
export function parseOnDevice(raw: Uint8Array | string): ParseResult {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8')
  try {
    const d = new Doc(text)
    if (!d.ok || d.toks.length === 0) refuse('unable to parse state JSON')
    const spec = d.value('#spec')
    if (spec === null) refuse('step JSON has no valid #spec key')
    if (spec === SPEC_SYSTEM1) return { ok: true, state: system1(d) }
    if (spec === SPEC_MULTI1) return { ok: true, state: multi1(d) }
    return refuse(`no parser for spec '${String(spec)}'`)
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message }
    throw err
  }
}
