/**
 * The CLI loads only the command group it runs: GROUPS lists, per group, the
 * commands its module registers, and that list must stay true, or a command
 * would be missing when run on its own. `--version` loads no group at all.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Command } from 'commander'
import { Cli } from '../../../main/cli/cli.js'
import { commandName, GROUPS, registerAll } from '../../../main/cli/commands/index.js'
import { cliBin, repoRoot } from '../../helpers/paths.js'

describe('cli: command groups', () => {
  it('each group registers exactly the commands GROUPS lists for it', async () => {
    for (const [group, commands, load] of GROUPS) {
      const program = new Command('fieldsync')
      ;(await load()).register(program, new Cli())
      assert.deepEqual(
        program.commands.map(c => c.name()),
        [...commands],
        `group ${group}`,
      )
    }
    const all = GROUPS.flatMap(([, commands]) => commands)
    assert.equal(new Set(all).size, all.length, 'no command in two groups')
  })

  it('a command registers its own group only; no command or an unknown one registers all', async () => {
    const names = async (argv: string[]): Promise<string[]> => {
      const program = new Command('fieldsync')
      await registerAll(program, new Cli(), commandName(argv))
      return program.commands.map(c => c.name())
    }
    assert.deepEqual(await names(['node', 'fieldsync', '--home', '/x', '--json', 'ls']), ['import', 'export', 'ls', 'show', 'diff', 'stats', 'verify', 'gc'])
    assert.deepEqual(await names(['node', 'fieldsync', 'pull', 'rev']), ['serve', 'pull', 'peers', 'team'])
    const every = GROUPS.flatMap(([, commands]) => commands)
    assert.deepEqual(await names(['node', 'fieldsync', '--help']), every)
    assert.deepEqual(await names(['node', 'fieldsync', 'lss']), every)
  })

  it('fieldsync --version prints the package version, and an unknown command still suggests the right one', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    assert.equal(execFileSync(process.execPath, [cliBin, '--version']).toString(), `${pkg.version}\n`)
    assert.equal(execFileSync(process.execPath, [cliBin, '-V']).toString(), `${pkg.version}\n`)
    let err = ''
    try {
      execFileSync(process.execPath, [cliBin, 'lss'], { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (e) {
      err = String((e as { stderr: Buffer }).stderr)
    }
    assert.match(err, /unknown command 'lss'[^]*Did you mean ls\?/)
  })
})
