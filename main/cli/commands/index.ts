/** Every command group registers here: one line each. */
import type { Command } from 'commander'
import type { Cli } from '../cli.js'

type Register = (program: Command, cli: Cli) => void

/** The command groups, in help order; each module is loaded when registered. */
const GROUPS: Array<[string, () => Promise<{ register: Register }>]> = [
  ['library', async () => await import('./library.js')],
  ['compose', async () => await import('./compose.js')],
  ['ui', async () => await import('./ui.js')],
  ['trust', async () => await import('./trust.js')],
  ['usb', async () => await import('./usb.js')],
  ['peers', async () => await import('./peers.js')],
  ['devices', async () => await import('./devices.js')],
  ['rollout', async () => await import('./rollout.js')],
  ['pvtx', async () => await import('./pvtx.js')],
]

/**
 * The command named on the command line (the first operand after the global
 * options), so that `pvtx`, which scripts call many times in a row, loads
 * only its own modules.
 */
export function commandName (argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--home') { i++; continue }
    if (a.startsWith('-')) continue
    return a
  }
  return undefined
}

export async function registerAll (program: Command, cli: Cli, only?: string): Promise<void> {
  const groups = only === 'pvtx' ? GROUPS.filter(([n]) => n === only) : GROUPS
  const mods = await Promise.all(groups.map(async ([, load]) => await load()))
  for (const m of mods) m.register(program, cli)
}
