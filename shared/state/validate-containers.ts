/**
 * Rule 5: container manifests (`<c>/run.json`), the groups of device.json, and
 * the dm-verity manifests (`<c>/_dm/<volume>.json`). Errors are what
 * Pantavisor's parser refuses (parser_system1.c: status_goal, restart_policy,
 * unknown group, group entries) or what cannot run (missing files, name not
 * its directory, a runtime other than lxc); warnings are what it logs and
 * tolerates (unknown role, storage persistence, runlevel).
 */
import { IssueList, describeValue, inlineObject, q, relPathProblem, splitHandler } from './issues.js'
import { isPlainObject } from './types.js'

const RULE = '5'
export const DEFAULT_GROUPS: readonly string[] = Object.freeze(['data', 'root', 'platform', 'app'])
export const STATUS_GOALS: readonly string[] = Object.freeze(['MOUNTED', 'STARTED', 'READY'])
export const RESTART_POLICIES: readonly string[] = Object.freeze(['system', 'container'])
export const ROLES: readonly string[] = Object.freeze(['mgmt', 'nobody'])
export const PERSISTENCE: readonly string[] = Object.freeze(['permanent', 'revision', 'boot'])
export const CONTAINER_TYPES: readonly string[] = Object.freeze(['lxc'])

interface Groups {
  names: Set<string>
  where: string
  disks: Set<string>
}

function checkEnum(
  il: IssueList,
  key: string,
  o: Record<string, unknown>,
  field: string,
  allowed: readonly string[],
  severity: 'error' | 'warning',
  rule = RULE,
): void {
  const v = o[field]
  if (v === undefined) return
  if (typeof v !== 'string') il.error(key, rule, `"${field}" must be a string, got ${describeValue(v)}`)
  else if (!allowed.includes(v)) il[severity === 'error' ? 'error' : 'warn'](key, rule, `"${field}" is ${q(v)}, not one of ${allowed.join(', ')}`)
}

function groupEntries(il: IssueList, key: string, groups: unknown, names: Set<string>): void {
  if (!Array.isArray(groups) || groups.length === 0) {
    il.error(key, RULE, `"groups" must be a non-empty array, got ${describeValue(groups)}`)
    return
  }
  groups.forEach((g, i) => {
    if (!isPlainObject(g)) {
      il.error(key, RULE, `groups[${i}] must be an object, got ${describeValue(g)}`)
      return
    }
    if (typeof g.name !== 'string' || g.name === '') il.error(key, RULE, `groups[${i}] needs a string "name"`)
    else if (names.has(g.name)) il.error(key, RULE, `group ${q(g.name)} is defined twice`)
    else names.add(g.name)
    checkEnum(il, key, g, 'status_goal', STATUS_GOALS, 'error')
    checkEnum(il, key, g, 'restart_policy', RESTART_POLICIES, 'error')
    if (g.timeout !== undefined && !(typeof g.timeout === 'number' && Number.isInteger(g.timeout) && g.timeout >= 0)) {
      il.error(key, RULE, `groups[${i}].timeout must be a non-negative integer, got ${describeValue(g.timeout)}`)
    }
  })
}

/** The groups containers may use: device.json's, else groups.json's, else Pantavisor's defaults. */
function readGroups(il: IssueList): Groups {
  const names = new Set<string>()
  const disks = new Set<string>()
  if (il.keys.has('device.json')) {
    const dev = inlineObject(il, 'device.json', RULE)
    if (dev === undefined) return { names, where: 'device.json', disks }
    if (dev.groups !== undefined) groupEntries(il, 'device.json', dev.groups, names)
    else il.warn('device.json', RULE, 'defines no "groups", so no container can name a group')
    for (const f of ['disks', 'disks_v2', 'disks_v3']) {
      const list = dev[f]
      if (list === undefined) continue
      if (!Array.isArray(list)) {
        il.error('device.json', RULE, `"${f}" must be an array, got ${describeValue(list)}`)
        continue
      }
      list.forEach((d, i) => {
        if (!isPlainObject(d) || typeof d.name !== 'string') {
          il.error('device.json', RULE, `${f}[${i}] needs a string "name"`)
          return
        }
        disks.add(d.name)
        if (Array.isArray(d.aliases)) for (const a of d.aliases) if (typeof a === 'string') disks.add(a)
      })
    }
    if (isPlainObject(dev.volumes)) storage(il, 'device.json', dev.volumes, disks, 'volumes')
    return { names, where: 'device.json', disks }
  }
  if (il.keys.has('groups.json')) {
    groupEntries(il, 'groups.json', il.json['groups.json'], names)
    return { names, where: 'groups.json', disks }
  }
  for (const g of DEFAULT_GROUPS) names.add(g)
  return { names, where: `the default groups (${DEFAULT_GROUPS.join(', ')})`, disks }
}

function storage(il: IssueList, key: string, st: Record<string, unknown>, disks: Set<string>, field: string): void {
  for (const [vol, spec] of Object.entries(st)) {
    if (!isPlainObject(spec)) {
      il.error(key, RULE, `${field}.${vol} must be an object, got ${describeValue(spec)}`)
      continue
    }
    const p = spec.persistence
    if (typeof p === 'string' && !PERSISTENCE.includes(p))
      il.warn(key, RULE, `${field}.${vol}.persistence is ${q(p)}, not one of ${PERSISTENCE.join(', ')} (the device falls back to boot)`)
    else if (p !== undefined && typeof p !== 'string') il.error(key, RULE, `${field}.${vol}.persistence must be a string, got ${describeValue(p)}`)
    if (typeof spec.disk === 'string' && !disks.has(spec.disk)) il.warn(key, RULE, `${field}.${vol}.disk ${q(spec.disk)} is not a disk of device.json`)
  }
}

/** `config`, `root-volume`, `volumes[]`: `[handler:]path` relative to `<c>/`. */
function resolve(il: IssueList, c: string, key: string, field: string, ref: unknown): void {
  if (typeof ref !== 'string') {
    il.error(key, RULE, `"${field}" must be a string, got ${describeValue(ref)}`)
    return
  }
  const { handler, path } = splitHandler(ref)
  const bad = relPathProblem(path)
  if (bad !== null) {
    il.error(key, RULE, `"${field}" ${q(ref)} ${bad}`)
    return
  }
  if (!il.keys.has(`${c}/${path}`)) il.error(key, RULE, `"${field}" names ${q(ref)} but the state has no key ${q(`${c}/${path}`)}`)
  if (handler === 'dm' && !il.keys.has(`${c}/_dm/${path}.json`))
    il.error(key, RULE, `"${field}" ${q(ref)} uses the dm handler but the state has no key ${q(`${c}/_dm/${path}.json`)}`)
}

function container(il: IssueList, c: string, groups: Groups): void {
  const key = `${c}/run.json`
  const run = inlineObject(il, key, RULE)
  if (run === undefined) return
  if (typeof run.name !== 'string') il.error(key, RULE, `needs a string "name" (${q(c)}), got ${describeValue(run.name)}`)
  else if (run.name !== c) il.error(key, RULE, `"name" is ${q(run.name)} but must be the directory name ${q(c)}`)
  if (typeof run.type !== 'string') il.error(key, RULE, `needs a string "type" ("lxc"), got ${describeValue(run.type)}`)
  else if (!CONTAINER_TYPES.includes(run.type))
    il.error(key, RULE, `"type" is ${q(run.type)}, but Pantavisor only runs ${CONTAINER_TYPES.join(', ')} containers`)
  if (run.config === undefined) il.error(key, RULE, 'needs a string "config" (the lxc configuration file)')
  else resolve(il, c, key, 'config', run.config)
  if (run['root-volume'] === undefined) il.error(key, RULE, 'needs a string "root-volume"')
  else resolve(il, c, key, 'root-volume', run['root-volume'])
  if (run.volumes !== undefined) {
    if (!Array.isArray(run.volumes)) il.error(key, RULE, `"volumes" must be an array, got ${describeValue(run.volumes)}`)
    else run.volumes.forEach((v, i) => resolve(il, c, key, `volumes[${i}]`, v))
  }
  checkEnum(il, key, run, 'status_goal', STATUS_GOALS, 'error')
  checkEnum(il, key, run, 'restart_policy', RESTART_POLICIES, 'error')
  if (run.group !== undefined) {
    if (typeof run.group !== 'string') il.error(key, RULE, `"group" must be a string, got ${describeValue(run.group)}`)
    else if (!groups.names.has(run.group)) il.error(key, RULE, `"group" ${q(run.group)} is not defined in ${groups.where}`)
  }
  if (run.runlevel !== undefined) {
    const rl = run.runlevel
    if (typeof rl !== 'string') il.error(key, RULE, `"runlevel" must be a string, got ${describeValue(rl)}`)
    else if (!DEFAULT_GROUPS.includes(rl)) il.warn(key, RULE, `"runlevel" ${q(rl)} is not one of ${DEFAULT_GROUPS.join(', ')} (ignored by the device)`)
    else if (!groups.names.has(rl)) il.error(key, RULE, `"runlevel" ${q(rl)} is not a group defined in ${groups.where}`)
    else il.warn(key, RULE, '"runlevel" is deprecated: use "group"')
  }
  if (Array.isArray(run.roles)) {
    for (const r of run.roles) {
      if (typeof r !== 'string') il.error(key, RULE, `"roles" must hold strings, got ${describeValue(r)}`)
      else if (!ROLES.includes(r)) il.warn(key, RULE, `role ${q(r)} is not one of ${ROLES.join(', ')} (ignored by the device)`)
    }
  } else if (run.roles !== undefined && !isPlainObject(run.roles)) {
    il.warn(key, RULE, `"roles" should be an array, got ${describeValue(run.roles)} (ignored by the device)`)
  }
  if (run.storage !== undefined) {
    if (!isPlainObject(run.storage)) il.error(key, RULE, `"storage" must be an object, got ${describeValue(run.storage)}`)
    else storage(il, key, run.storage, groups.disks, 'storage')
  }
  if (run.drivers !== undefined) {
    if (!isPlainObject(run.drivers)) il.warn(key, RULE, `"drivers" should be an object, got ${describeValue(run.drivers)}`)
    else {
      for (const f of ['required', 'optional', 'manual']) {
        const d = run.drivers[f]
        if (d !== undefined && !(Array.isArray(d) && d.every(x => typeof x === 'string')))
          il.warn(key, RULE, `drivers.${f} should be an array of strings, got ${describeValue(d)}`)
      }
    }
  }
}

const DM_KEY = /^([^/]+)\/_dm\/(.+)\.json$/

function dmManifest(il: IssueList, key: string, c: string): void {
  const dm = inlineObject(il, key, 'dm')
  if (dm === undefined) return
  if (dm.type !== 'dm-verity') il.error(key, 'dm', `"type" must be "dm-verity", got ${describeValue(dm.type)}`)
  for (const f of ['data_device', 'hash_device']) {
    const v = dm[f]
    if (typeof v !== 'string' || v === '') {
      il.error(key, 'dm', `needs a string "${f}", got ${describeValue(v)}`)
      continue
    }
    const bad = relPathProblem(v)
    if (bad !== null) il.error(key, 'dm', `"${f}" ${q(v)} ${bad}`)
    else if (!il.keys.has(`${c}/${v}`)) il.error(key, 'dm', `"${f}" names ${q(v)} but the state has no key ${q(`${c}/${v}`)}`)
  }
  if (typeof dm.root_hash !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(dm.root_hash))
    il.error(key, 'dm', `"root_hash" must be a hex string, got ${describeValue(dm.root_hash)}`)
}

/** Rule 5 and the dm manifests, for a pantavisor-service-system@1 state. */
export function validateContainers(il: IssueList, containers: string[]): void {
  const groups = readGroups(il)
  for (const c of containers) container(il, c, groups)
  const known = new Set(containers)
  for (const key of il.keys) {
    const dm = DM_KEY.exec(key)
    if (dm !== null) {
      dmManifest(il, key, dm[1])
      continue
    }
    if (/^[^/]+\/.+\/run\.json$/.test(key) && isPlainObject(il.json[key]) && il.json[key].name !== undefined) {
      il.warn(key, RULE, 'Pantavisor parses every inline object ending in /run.json as a container manifest')
    }
    const cfg = /^_config\/([^/]+)\//.exec(key)
    if (cfg !== null && !known.has(cfg[1])) il.warn(key, RULE, `configuration for ${q(cfg[1])}, which is not a container of this state`)
  }
}
