/**
 * One library, two processes: real `fieldsync` processes on one home, in
 * loops. Commands starting together on a new home take turns at the schema
 * migration.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { writeTarball } from '../helpers/revisions.js'

interface Fixture { good: string, corrupt: string, shas: string[], state: Record<string, string> }

/** 15 objects of 1 MiB; `good` holds them all, `corrupt` the same but the last one's bytes are wrong. */
async function fixture (dir: string): Promise<Fixture> {
  const objs: Array<{ sha: string, path: string }> = []
  for (let n = 0; n < 15; n++) {
    const data = randomBytes(1 << 20)
    const path = join(dir, `o${n}`)
    await writeFile(path, data)
    objs.push({ sha: createHash('sha256').update(data).digest('hex'), path })
  }
  const state: Record<string, string> = { '#spec': 'pantavisor-service-system@1' }
  objs.forEach((o, n) => { state[`_config/app/blob${String(n).padStart(2, '0')}`] = o.sha })
  const good = join(dir, 'good.tar')
  await writeTarball(good, JSON.stringify(state), objs)
  const bad = join(dir, 'bad-last')
  await writeFile(bad, randomBytes(1 << 20))
  const corrupt = join(dir, 'corrupt.tar')
  await writeTarball(corrupt, JSON.stringify(state), [...objs.slice(0, 14), { sha: objs[14].sha, path: bad }])
  return { good, corrupt, shas: objs.map(o => o.sha), state }
}

describe('library: two processes on one home', { concurrency: false }, () => {
  it('commands starting together on a new home take turns at the migration (20 rounds of 3)', async (t) => {
    const fx = await fixture(await tempDir(t))
    const base = await tempDir(t)
    const failures: string[] = []
    for (let i = 0; i < 20; i++) {
      const home = join(base, `h${i}`)
      const runs = await Promise.all([
        runCli(['stats', '--json'], { home }),
        runCli(['ls', '--json'], { home }),
        runCli(['import', fx.good, '--json'], { home }),
      ])
      for (const r of runs) if (r.code !== 0) failures.push(`round ${i}: ${r.stdout.trim()} ${r.stderr.trim()}`)
    }
    assert.deepEqual(failures, [])
  })
})
