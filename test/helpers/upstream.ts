/**
 * Upstream code the tests run but the repository never holds (pvcontrol,
 * pvtx.sh, the device kit's binaries), and the rule for its absence: a test
 * that needs it skips with one line saying what is missing and where it was
 * looked for, and FAILS under CI=true, where it is always present (a skip
 * there would hide a regression).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sharedDir, upstreamCodeDir } from './paths.js'

/** Pantavisor's tools/pvcontrol (a POSIX shell script over curl). */
export const PVCONTROL = process.env.PVCONTROL ?? join(upstreamCodeDir, 'pvcontrol')
/** Pantavisor's test/pvtx/pvtx.sh (upstream's pvtx test suite). */
export const PVTX_SH = join(upstreamCodeDir, 'pvtx', 'pvtx.sh')
/** The Pantavisor device kit: upstream Pantavisor built from source, run in namespaces. */
export const DEVICE_KIT = process.env.PVKIT_DIR ?? join(sharedDir, 'pantavisor-device')
/** Upstream's pvtx binary and its library, from the device kit. */
export const UPSTREAM_PVTX = process.env.PVTX ?? join(DEVICE_KIT, 'rootfs', 'usr', 'bin', 'pvtx')
export const UPSTREAM_LIBPVTX = join(DEVICE_KIT, 'rootfs', 'usr', 'lib', 'libpvtx.so.0.1.0')

export const underCi = (): boolean => process.env.CI === 'true'

/** The one line a test skips with when an upstream file is absent, or null when it is there. */
export function upstreamAbsent(path: string, what: string): string | null {
  return existsSync(path) ? null : `${what} is absent at ${path} (upstream code, not part of this repository: see CONTRIBUTING.md)`
}

/**
 * Skip the test with `why`, or throw under CI=true. Returns true when the
 * test must stop. `why` null: the test runs.
 */
export function skipWithoutUpstream(t: { skip: (why: string) => void }, why: string | null): boolean {
  if (why === null) return false
  if (underCi()) throw new Error(`CI=true but ${why} (CI always has it: this is a regression, not a skip)`)
  t.skip(why)
  return true
}

/**
 * For one optional part of a test: true when it must be left out (with a
 * diagnostic line saying why); under CI=true its absence throws.
 */
export function leaveOutWithoutUpstream(t: { diagnostic: (line: string) => void }, why: string | null): boolean {
  if (why === null) return false
  if (underCi()) throw new Error(`CI=true but ${why} (CI always has it: this is a regression, not a skip)`)
  t.diagnostic(`left out: ${why}`)
  return true
}
