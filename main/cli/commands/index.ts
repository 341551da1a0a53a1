/** Every command group registers here: one line each. */
import type { Command } from 'commander'
import type { Cli } from '../cli.js'
import { register as library } from './library.js'
import { register as ui } from './ui.js'
import { register as trust } from './trust.js'
import { register as usb } from './usb.js'
import { register as peers } from './peers.js'
import { register as devices } from './devices.js'

export function registerAll (program: Command, cli: Cli): void {
  library(program, cli)
  ui(program, cli)
  trust(program, cli)
  usb(program, cli)
  peers(program, cli)
  devices(program, cli)
}
