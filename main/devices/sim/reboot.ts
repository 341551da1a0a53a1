/**
 * Whether an update needs a reboot, as upstream Pantavisor decides it
 * (state.c pv_state_stop_platforms: pv_state_compare_jsons and
 * pv_state_compare_objects). A key that changed, appeared or went away
 * needs a reboot when it belongs to no platform (the BSP, device.json) or to
 * a platform whose restart policy is `system`, in the running state or the
 * new one; otherwise only the platforms it belongs to restart (UPDATED).
 *
 * A platform's restart policy: its run.json's `restart_policy`, else its
 * group's (state.c pv_state_set_default_restart_policies). Its group: its
 * run.json's `group`; else, with groups in device.json, the last of them
 * (state.c pv_state_set_default_groups); else upstream's default groups
 * (defaults/groups.json, parser_system1.c "using_runlevels") where the first
 * platform without a group, in key order, is put in `root` when no platform
 * is there, and the rest in `platform` (pv_state_set_default_runlevels).
 * Default groups: data, root and platform restart the system, app a
 * container. An unknown policy reboots (pv_state_platform_requires_reboot).
 */

type Json = Record<string, unknown>

const DEFAULT_GROUPS: Array<{ name: string; restart: string }> = [
  { name: 'data', restart: 'system' },
  { name: 'root', restart: 'system' },
  { name: 'platform', restart: 'system' },
  { name: 'app', restart: 'container' },
]

function obj(v: unknown): Json | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : null
}

/** Platform name → its restart policy, in one state. */
export function restartPolicies(state: Json): Map<string, string> {
  const names = Object.keys(state)
    .flatMap(k => {
      const m = /^([^/]+)\/run\.json$/.exec(k)
      return m !== null && m[1] !== 'bsp' && m[1] !== '_config' ? [m[1]] : []
    })
    .sort()
  const device = obj(state['device.json'])
  const declared = Array.isArray(device?.groups)
    ? (device.groups as unknown[]).map(obj).filter((g): g is Json => g !== null && typeof g.name === 'string')
    : null
  const groups =
    declared !== null && declared.length > 0
      ? declared.map(g => ({ name: g.name as string, restart: typeof g.restart_policy === 'string' ? g.restart_policy : 'container' }))
      : DEFAULT_GROUPS
  const groupOf = new Map<string, string>()
  for (const n of names) {
    const g = obj(state[`${n}/run.json`])?.group
    if (typeof g === 'string') groupOf.set(n, g)
  }
  const unconfigured = names.filter(n => !groupOf.has(n))
  if (declared !== null && declared.length > 0) {
    for (const n of unconfigured) groupOf.set(n, groups[groups.length - 1].name)
  } else {
    const rootTaken = [...groupOf.values()].includes('root')
    unconfigured.forEach((n, i) => {
      groupOf.set(n, !rootTaken && i === 0 ? 'root' : 'platform')
    })
  }
  const out = new Map<string, string>()
  for (const n of names) {
    const explicit = obj(state[`${n}/run.json`])?.restart_policy
    out.set(n, typeof explicit === 'string' ? explicit : (groups.find(g => g.name === groupOf.get(n))?.restart ?? 'unknown'))
  }
  return out
}

/** The platform a key belongs to, or null (BSP, device.json, other top-level files). Signatures are not platform data. */
function platformOf(key: string, platforms: ReadonlySet<string>): string | null | 'ignore' {
  if (key === '#spec' || key.startsWith('_sigs/')) return 'ignore'
  const parts = key.split('/')
  const name = parts[0] === '_config' ? parts[1] : parts[0]
  return name !== undefined && platforms.has(name) ? name : null
}

export function needsReboot(current: Json, pending: Json): boolean {
  const cur = restartPolicies(current)
  const pen = restartPolicies(pending)
  const reboots = (p: string): boolean => {
    for (const m of [cur, pen]) {
      const r = m.get(p)
      if (r !== undefined && r !== 'container') return true
    }
    return false
  }
  const keys = new Set([...Object.keys(current), ...Object.keys(pending)])
  const platforms = new Set([...cur.keys(), ...pen.keys()])
  for (const k of keys) {
    if (JSON.stringify(current[k]) === JSON.stringify(pending[k])) continue
    const p = platformOf(k, platforms)
    if (p === 'ignore') continue
    if (p === null || reboots(p)) return true
  }
  return false
}
