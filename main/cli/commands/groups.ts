/**
 * The command groups, in help order, with the commands each registers
 * (test/main/cli/groups.test.ts holds the lists to what the modules
 * register), and which group a command line runs. A command loads only its
 * own group; the CLI is built as one bundle per group (scripts/build-cli.mjs)
 * and bin/fieldsync.cjs runs the one a command line needs (../route.ts).
 * Data only: the launcher loads this before anything else.
 */
export const GROUP_COMMANDS = {
  library: ['import', 'export', 'ls', 'show', 'diff', 'stats', 'verify', 'gc'],
  compose: ['compose'],
  ui: ['ui'],
  trust: ['trust', 'verify-sig'],
  usb: ['usb'],
  peers: ['serve', 'pull', 'peers', 'team'],
  devices: ['devices', 'install', 'device-sim'],
  rollout: ['rollout'],
  pvtx: ['pvtx'],
} as const satisfies Record<string, readonly string[]>

export type GroupName = keyof typeof GROUP_COMMANDS

/**
 * The command named on the command line (the first operand after the global
 * options), so that a command loads only its own group's modules (`pvtx`,
 * which scripts call many times in a row, `ls`...).
 */
export function commandName(argv: readonly string[]): string | undefined {
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

/** The group of `command`; undefined for no command or an unknown one (help and its error need every group). */
export function groupOf(command: string | undefined): GroupName | undefined {
  if (command === undefined) return undefined
  for (const [group, commands] of Object.entries(GROUP_COMMANDS) as Array<[GroupName, readonly string[]]>) {
    if (commands.includes(command)) return group
  }
  return undefined
}

/** `fieldsync --version` (or -V) alone: the version without loading any command. */
export function versionOnly(argv: readonly string[]): boolean {
  const rest = argv.slice(2)
  return rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')
}
