/** Run the real `fieldsync` CLI in a child process. */
import { spawn, type ChildProcess } from 'node:child_process'
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

/** A `fieldsync` command left running (killed with -9 after the test if it still runs). */
export interface RunningCli {
  child: ChildProcess
  pid: number
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves once `pred` holds for the stderr so far; rejects if the command exits first. */
  until: (pred: (stderr: string) => boolean) => Promise<void>
}

export function startCli(t: { after: (fn: () => Promise<void>) => void }, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [cliBin, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters = new Set<{ pred: (s: string) => boolean; resolve: () => void; reject: (e: Error) => void }>()
  const check = (): void => {
    for (const w of waiters) {
      if (w.pred(stderr)) {
        waiters.delete(w)
        w.resolve()
      }
    }
  }
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
    check()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => {
    child.on('exit', (code, signal) => {
      for (const w of waiters) w.reject(new Error(`fieldsync ${args.join(' ')} exited (${String(code ?? signal)}) before what the test waited for: ${stderr}`))
      waiters.clear()
      resolve({ code, signal })
    })
  })
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const until = (pred: (s: string) => boolean): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (pred(stderr)) {
        resolve()
        return
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`fieldsync ${args.join(' ')} has exited: ${stderr}`))
        return
      }
      waiters.add({ pred, resolve, reject })
    })
  return { child, pid: child.pid ?? 0, stdout: () => stdout, stderr: () => stderr, exited, until }
}
