/**
 * Start-up of the command a technician types: `fieldsync --version` and
 * `fieldsync ls` on an empty library, run as the README's set-up installs it
 * (`npm link` puts bin/fieldsync.cjs on the PATH: the file runs through its
 * shebang), beside `node -e 0` in the same run, interleaved, as a ratio of
 * medians. The first run writes the launcher's V8 code cache
 * (bin/fieldsync.cjs), as a technician's first command does. Also `fieldsync
 * ls` without that cache (FIELDSYNC_CODE_CACHE=0: the first run after a
 * build), unbundled (dist/main/cli/index.js, what every command ran before
 * the CLI bundle), and the floor of `ls`: a bare script that loads
 * better-sqlite3 and opens the library's index. Goal (issue #16): both
 * commands within 1.5x of `node -e 0`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliBin, repoRoot } from '../helpers/paths.js'
import { median, report, timeCmd, verdict } from './lib.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 21)

const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-startup-'))
try {
  const home = join(dir, 'home')
  const env = { FIELDSYNC_HOME: home }
  // The empty library exists (a first `ls` creates it): the runs below only open it.
  await timeCmd(cliBin, ['ls'], { env })
  const floor = join(dir, 'floor.mjs')
  writeFileSync(
    floor,
    `import { createRequire } from 'node:module'\nconst D = createRequire(${JSON.stringify(join(repoRoot, 'package.json'))})('better-sqlite3')\nnew D(${JSON.stringify(join(home, 'index.db'))}, { readonly: true }).prepare('select 1').get()\n`,
  )
  const cases: Array<[string, string, string[], NodeJS.ProcessEnv?]> = [
    ['node -e 0', process.execPath, ['-e', '0']],
    ['fieldsync --version', cliBin, ['--version']],
    ['fieldsync ls (empty library)', cliBin, ['ls']],
    ['fieldsync ls, no code cache', cliBin, ['ls'], { FIELDSYNC_CODE_CACHE: '0' }],
    ['fieldsync ls, unbundled (dist/main/cli)', process.execPath, [join(repoRoot, 'dist', 'main', 'cli', 'index.js'), 'ls']],
    ['floor of ls: node + better-sqlite3 + open', process.execPath, [floor]],
  ]
  const times = new Map<string, number[]>(cases.map(([name]) => [name, []]))
  for (let i = 0; i < RUNS; i++) {
    for (const [name, cmd, args, extra] of cases) times.get(name)?.push((await timeCmd(cmd, args, { env: { ...env, ...extra } })).seconds)
  }
  const base = median(times.get('node -e 0') ?? [])
  const rows: Array<[string, string]> = cases.map(([name]) => {
    const m = median(times.get(name) ?? [])
    return [name, `${(m * 1000).toFixed(0)} ms = ${(m / base).toFixed(2)}x node -e 0`]
  })
  const ratio = (name: string): number => median(times.get(name) ?? []) / base
  rows.push(['goal: --version within 1.5x', verdict(ratio('fieldsync --version') <= 1.5)])
  rows.push(['goal: ls within 1.5x', verdict(ratio('fieldsync ls (empty library)') <= 1.5)])
  report(`start-up, median of ${RUNS} interleaved runs`, rows)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
