/** Every command group registers here: one line each. */
import type { Command } from 'commander'
import type { Cli } from '../cli.js'

type Register = (program: Command, cli: Cli) => void

/**
 * The command groups, in help order, with the commands each registers
 * (test/main/cli/groups.test.ts holds the lists to what the modules
 * register); each module is loaded only when one of its commands runs, or
 * for help.
 */
export const GROUPS: ReadonlyArray<readonly [string, readonly string[], () => Promise<{ register: Register }>]> = [
  ['library', ['import', 'export', 'ls', 'show', 'diff', 'stats', 'verify', 'gc'], async () => await import('./library.js')],
  ['compose', ['compose'], async () => await import('./compose.js')],
  ['ui', ['ui'], async () => await import('./ui.js')],
  ['trust', ['trust', 'verify-sig'], async () => await import('./trust.js')],
  ['usb', ['usb'], async () => await import('./usb.js')],
  ['peers', ['serve', 'pull', 'peers', 'team'], async () => await import('./peers.js')],
  ['devices', ['devices', 'install', 'device-sim'], async () => await import('./devices.js')],
  ['rollout', ['rollout'], async () => await import('./rollout.js')],
  ['pvtx', ['pvtx'], async () => await import('./pvtx.js')],
]

/**
 * The command named on the command line (the first operand after the global
 * options), so that a command loads only its own group's modules (`pvtx`,
 * which scripts call many times in a row, `ls`...).
 */
export function commandName(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--home') {
      i++
      continue
    }
    if (a.startsWith('-')) continue
    return a
  }
  return undefined
}

/** Register the group of command `only`, or every group (no command, an unknown one: help and its error need them all). */
export async function registerAll(program: Command, cli: Cli, only?: string): Promise<void> {
  const own = GROUPS.filter(([, commands]) => only !== undefined && commands.includes(only))
  const groups = own.length > 0 ? own : GROUPS
  const mods = await Promise.all(groups.map(async ([, , load]) => await load()))
  for (const m of mods) m.register(program, cli)
}
