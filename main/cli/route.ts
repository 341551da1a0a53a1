/**
 * Which CLI bundle a command line runs (bin/fieldsync.cjs asks, before it
 * loads anything else; built into dist/cli/route.cjs): the bundle of the
 * command's group, or the one with every group for help, `--version`, no
 * command or an unknown one. See scripts/build-cli.mjs.
 */
import { commandName, groupOf } from './commands/groups.js'

/** The bundle's file name in dist/cli/, without `.cjs`. */
export function bundleFor(argv: readonly string[]): string {
  const group = groupOf(commandName(argv))
  return group === undefined ? 'fieldsync' : `fieldsync-${group}`
}
