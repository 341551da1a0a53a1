/** Run the real `fieldsync` CLI in a child process. */
import { spawn } from 'node:child_process'
import { cliBin } from './paths.js'

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  json: () => any
}

export function runCli(
  args: string[],
  opts: { home?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const full = opts.home !== undefined ? ['--home', opts.home, ...args] : args
    const child = spawn(process.execPath, [cliBin, ...full], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, json: () => JSON.parse(stdout) })
    })
    child.stdin.end(opts.input ?? '')
  })
}
