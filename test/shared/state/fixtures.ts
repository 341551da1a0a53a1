/** The real state JSONs vendored in test/fixtures/upstream, for the state tests. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { vendoredUpstreamDir } from '../../helpers/paths.js'

/** The `json` entry of an export tarball (tar picks gzip by content). */
export function tarJson(file: string): Uint8Array {
  return new Uint8Array(execFileSync('tar', ['-xOf', join(vendoredUpstreamDir, file), 'json'], { maxBuffer: 64 * 1024 * 1024 }))
}

export const pvwificonnectJson = (): Uint8Array => tarJson('pvwificonnect.tgz')
export const watchdogJson = (): Uint8Array => tarJson('watchdog_pinger.tar')
export const initialStateJson = (): Uint8Array => new Uint8Array(readFileSync(join(vendoredUpstreamDir, 'initial_state.json')))
export const seedJson = (): Uint8Array => new Uint8Array(readFileSync(join(vendoredUpstreamDir, 'seed-awconnect-rpi64.json')))

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)
