/** Paths for tests: compiled tests live in dist/test/..., the repo root is above dist/. */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot (): string {
  let d = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(d, 'package.json')) || d.endsWith('/dist') || existsSync(join(d, '.tsbuildinfo'))) {
    const up = dirname(d)
    if (up === d) throw new Error('repo root not found')
    d = up
  }
  return d
}

export const repoRoot = findRoot()
export const fixturesDir = resolve(repoRoot, '../shared/fixtures')
export const upstreamDir = join(fixturesDir, 'upstream')
export const cliBin = join(repoRoot, 'bin', 'fieldsync.js')
/** Upstream data vendored into the repository (test/fixtures/upstream/PROVENANCE.md). */
export const vendoredUpstreamDir = join(repoRoot, 'test', 'fixtures', 'upstream')
export const pvtxDataDir = join(vendoredUpstreamDir, 'pvtx')
