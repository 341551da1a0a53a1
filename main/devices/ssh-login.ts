/**
 * Which container an SSH login enters. On a Pantavisor device port 8222 is
 * Pantavisor's own dropbear with a forced command (fallbear-cmd, pantavisor
 * debug.c): the login name is the container to enter, and only a container
 * with the management role reaches pv-ctrl with privileges (ctrl/ctrl_caller.c).
 *
 * The role, as upstream's parser gives it (parser/parser_system1.c,
 * platforms.c): a container's `run.json` with `"roles": [...]` has the
 * management role when the array holds "mgmt"; `roles` as anything else
 * takes the role away; without `roles` a container has it by default
 * (pv_platform_add). Stock images say it outright: `pvr-sdk/run.json` has
 * `"roles": ["mgmt"]` and the others say nothing. So containers that name
 * the role come first, then those that have it by default; pvr-sdk first in
 * each, then by name.
 */
export const DEFAULT_SSH_CONTAINER = 'pvr-sdk'

/** The shape of a container name fallbear-cmd can be given as a login name (and sshd accepts). */
export const CONTAINER_RE = /^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * The containers of a state JSON (the parsed top-level object) that have the
 * management role, best first. A `run.json` held as an object's sha256
 * (not inline) cannot be read here and is left out.
 */
export function mgmtContainers(state: unknown): string[] {
  if (!isObject(state)) return []
  const named: string[] = []
  const byDefault: string[] = []
  for (const [key, run] of Object.entries(state)) {
    const m = /^([^/]+)\/run\.json$/.exec(key)
    if (m === null || m[1] === 'bsp' || !isObject(run)) continue
    // The platform's name is its run.json "name" (parser: do_action_for_name), which fallbear's lxc-info looks up.
    const name = typeof run.name === 'string' && run.name !== '' ? run.name : m[1]
    if (!CONTAINER_RE.test(name)) continue
    if (!Object.hasOwn(run, 'roles')) byDefault.push(name)
    else if (Array.isArray(run.roles) && run.roles.includes('mgmt')) named.push(name)
  }
  const order = (xs: string[]): string[] =>
    [...new Set(xs)].sort((a, b) => (a === DEFAULT_SSH_CONTAINER ? -1 : b === DEFAULT_SSH_CONTAINER ? 1 : a < b ? -1 : a > b ? 1 : 0))
  return [...order(named), ...order(byDefault).filter(n => !named.includes(n))]
}

/** Where the login name came from. */
export type SshLoginSource = 'flag' | 'state' | 'setting' | 'default'

export interface SshLoginChoice {
  container: string
  source: SshLoginSource
}

/**
 * The login name for a device: the name given for this run (a CLI flag, the
 * app's field); else, when the state the device ran is known, its management
 * container (the technician's remembered choice when it is one of them);
 * else the remembered choice; else pvr-sdk.
 */
export function chooseSshLogin(o: { given?: string | null; remembered?: string | null; mgmt?: readonly string[] | null }): SshLoginChoice {
  if (o.given !== undefined && o.given !== null && o.given !== '') return { container: o.given, source: 'flag' }
  const mgmt = o.mgmt ?? []
  const mine = o.remembered ?? null
  if (mgmt.length > 0) return mine !== null && mgmt.includes(mine) ? { container: mine, source: 'setting' } : { container: mgmt[0], source: 'state' }
  if (mine !== null) return { container: mine, source: 'setting' }
  return { container: DEFAULT_SSH_CONTAINER, source: 'default' }
}

/** What a device's SSH login is known to be (DeviceStore, migration 007). */
export interface SshLoginMemory {
  /** The technician's choice, once a login as it worked. */
  container: string | null
  /** The management containers of the state the device ran when last asked, best first; null when never read. */
  mgmt: string[] | null
  mgmtRevision: string | null
}

/** Says where the name came from, for a note. */
export function describeLogin(c: SshLoginChoice): string {
  switch (c.source) {
    case 'flag':
      return `logging in as ${c.container} (given)`
    case 'state':
      return `logging in as ${c.container}: the device's state gives it the management role`
    case 'setting':
      return `logging in as ${c.container} (remembered for this device)`
    case 'default':
      return `logging in as ${c.container} (the management container of stock images; nothing else known about this device)`
  }
}
