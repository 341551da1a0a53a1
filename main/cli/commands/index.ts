/** Every command group's module loader, one line each; groups.ts lists the groups and their commands. */
import type { Command } from 'commander'
import type { Cli } from '../cli.js'
import { GROUP_COMMANDS, groupOf, type GroupName } from './groups.js'

export { commandName } from './groups.js'

type Register = (program: Command, cli: Cli) => void
type Loader = () => Promise<{ register: Register }>

/** Each group's module, loaded only when one of its commands runs, or for help. */
const LOADERS: Record<GroupName, Loader> = {
  library: async () => await import('./library.js'),
  compose: async () => await import('./compose.js'),
  ui: async () => await import('./ui.js'),
  trust: async () => await import('./trust.js'),
  usb: async () => await import('./usb.js'),
  peers: async () => await import('./peers.js'),
  devices: async () => await import('./devices.js'),
  rollout: async () => await import('./rollout.js'),
  pvtx: async () => await import('./pvtx.js'),
}

/** The command groups (groups.ts), in help order, with the commands each registers and its loader. */
export const GROUPS: ReadonlyArray<readonly [GroupName, readonly string[], Loader]> = (
  Object.entries(GROUP_COMMANDS) as Array<[GroupName, readonly string[]]>
).map(([group, commands]) => [group, commands, LOADERS[group]] as const)

/** Register the group of command `only`, or every group (no command, an unknown one: help and its error need them all). */
export async function registerAll(program: Command, cli: Cli, only?: string): Promise<void> {
  const own = groupOf(only)
  const groups = own !== undefined ? GROUPS.filter(([group]) => group === own) : GROUPS
  const mods = await Promise.all(groups.map(async ([, , load]) => await load()))
  for (const m of mods) m.register(program, cli)
}
