/** Every command group registers here: one line each. */
import type { Command } from 'commander'
import type { Cli } from '../cli.js'
import { register as library } from './library.js'
import { register as ui } from './ui.js'
import { register as trust } from './trust.js'
import { register as usb } from './usb.js'
import { register as peers } from './peers.js'
import { register as devices } from './devices.js'
import { register as pvtx } from './pvtx.js'

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

export function registerAll (program: Command, cli: Cli, only?: string): void {
  if (only === 'pvtx') { pvtx(program, cli); return }
  library(program, cli)
  ui(program, cli)
  trust(program, cli)
  usb(program, cli)
  peers(program, cli)
  devices(program, cli)
  pvtx(program, cli)
}
