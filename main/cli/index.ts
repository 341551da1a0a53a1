/**
 * `fieldsync`: the command line. Heavy modules load inside the commands that
 * need them; `--version` loads nothing but package.json.
 */
import { readFileSync } from 'node:fs'
import { versionOnly } from './commands/groups.js'

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }

export async function main(argv: string[]): Promise<number> {
  if (versionOnly(argv)) {
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  const [{ Command, CommanderError }, { Cli }, { commandName, registerAll }] = await Promise.all([
    import('commander'),
    import('./cli.js'),
    import('./commands/index.js'),
  ])
  const cli = new Cli()
  const program = new Command('fieldsync')
    .description('Carry, share and install Pantavisor revisions where there is no internet.')
    .version(pkg.version, '-V, --version')
    .option('--home <dir>', 'library folder (default: $FIELDSYNC_HOME or the platform app-data folder)')
    .option('--json', 'print exactly one JSON document on stdout')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: s => process.stderr.write(s) })
  await registerAll(program, cli, commandName(argv))
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0
      return 2
    }
    cli.fail(err, argv.includes('--json'))
  }
  return cli.exitCode
}

void main(process.argv).then(code => {
  process.exitCode = code
})
