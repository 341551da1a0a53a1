/**
 * For the pvtx tests: upstream's pvtx.sh and upstream's real pvtx binary
 * (read from ../shared, never copied into the repository), launchers that
 * put `fieldsync pvtx` or that binary on a bin folder as `pvtx`, and the
 * skip rule: a test whose upstream part is absent skips with one line, and
 * fails under CI=true (CI must run it).
 */
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliBin } from '../helpers/paths.js'
import { UPSTREAM_LIBPVTX, UPSTREAM_PVTX, underCi } from '../helpers/upstream.js'

export { DEVICE_KIT, PVTX_SH, UPSTREAM_LIBPVTX, UPSTREAM_PVTX } from '../helpers/upstream.js'

export function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Why a test cannot run here (null: it can). Under CI=true a missing part is
 * a failure, not a skip: the returned reason then makes the test throw.
 */
export function missing(what: Array<[boolean, string]>): string | null {
  const reasons = what.filter(([ok]) => !ok).map(([, why]) => why)
  return reasons.length === 0 ? null : reasons.join('; ')
}

export function skipOrFail(reason: string | null): string | false {
  if (reason === null) return false
  if (underCi()) return false // run, and fail in the test body
  return reason
}

export function assertRunnable(reason: string | null): void {
  if (reason !== null) throw new Error(`CI=true but this test cannot run: ${reason}`)
}

/** A bin folder whose `pvtx` execs `fieldsync pvtx` (this checkout's CLI, this node). */
export function fieldsyncPvtxBin(dir: string): string {
  mkdirSync(dir, { recursive: true })
  const f = join(dir, 'pvtx')
  writeFileSync(f, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cliBin)} pvtx "$@"\n`)
  chmodSync(f, 0o755)
  return dir
}

/**
 * A bin folder whose `pvtx` runs upstream's binary. ../shared flattened
 * libpvtx's symlinks into text files, so the library is copied to a private
 * folder under its soname and found with LD_LIBRARY_PATH.
 */
export function upstreamPvtxBin(dir: string): string {
  const lib = join(dir, 'lib')
  mkdirSync(lib, { recursive: true })
  copyFileSync(UPSTREAM_LIBPVTX, join(lib, 'libpvtx.so.0.1'))
  const f = join(dir, 'pvtx')
  writeFileSync(f, `#!/bin/sh\nLD_LIBRARY_PATH=${JSON.stringify(lib)} exec ${JSON.stringify(UPSTREAM_PVTX)} "$@"\n`)
  chmodSync(f, 0o755)
  return dir
}

export const upstreamBinaryPresent = (): boolean => existsSync(UPSTREAM_PVTX) && existsSync(UPSTREAM_LIBPVTX)

export interface Run {
  code: number | null
  stdout: Buffer
  stderr: string
}

/** Run a command with some environment and optional stdin bytes. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Uint8Array; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out), stderr: err })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input === undefined ? undefined : Buffer.from(opts.input))
  })
}
