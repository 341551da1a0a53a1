/** Paths for tests: compiled tests live in dist/test/..., the repo root is above dist/. */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(d, 'package.json')) || d.endsWith('/dist') || existsSync(join(d, '.tsbuildinfo'))) {
    const up = dirname(d)
    if (up === d) throw new Error('repo root not found')
    d = up
  }
  return d
}

export const repoRoot = findRoot()
export const cliBin = join(repoRoot, 'bin', 'fieldsync.cjs')
/**
 * Upstream DATA vendored into the repository (export tarballs, state JSONs,
 * the Dev CA, pvtx.sh's resources and expected states), with its provenance
 * in test/fixtures/upstream/PROVENANCE.md: a plain clone has all of it.
 */
export const vendoredUpstreamDir = join(repoRoot, 'test', 'fixtures', 'upstream')
export const pvtxDataDir = join(vendoredUpstreamDir, 'pvtx')
/**
 * Upstream CODE is never copied into the repository (pvcontrol, pvtx.sh, the
 * Pantavisor device kit): tests run it from the `shared` folder beside the
 * checkout (FIELDSYNC_SHARED_DIR overrides) and skip without it, or fail
 * under CI=true (test/helpers/upstream.ts).
 */
export const sharedDir = resolve(process.env.FIELDSYNC_SHARED_DIR ?? join(repoRoot, '..', 'shared'))
export const upstreamCodeDir = join(sharedDir, 'fixtures', 'upstream')
