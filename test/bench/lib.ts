/** Shared bits for benchmarks: timing commands, medians, and the report table. */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'

export interface Timed {
  seconds: number
  maxRssKb?: number
  stdout: string
  stderr: string
}

/** Run a command, timing it; with /usr/bin/time also its peak RSS. */
export function timeCmd(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; rss?: boolean } = {}): Promise<Timed> {
  const useTime = opts.rss === true && existsSync('/usr/bin/time')
  const argv = useTime ? ['-f', '__RSS__%M', cmd, ...args] : args
  const bin = useTime ? '/usr/bin/time' : cmd
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(bin, argv, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', code => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`))
        return
      }
      const m = /__RSS__(\d+)/.exec(stderr)
      resolve({ seconds, maxRssKb: m === null ? undefined : Number(m[1]), stdout, stderr: stderr.replace(/__RSS__\d+\n?/, '') })
    })
  })
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export function mbps(bytes: number, seconds: number): string {
  return `${(bytes / seconds / 1e6).toFixed(0)} MB/s`
}

export function report(title: string, rows: Array<[string, string]>): void {
  const w = Math.max(...rows.map(r => r[0].length))
  process.stdout.write(`\n== ${title}\n`)
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`)
}

export function verdict(ok: boolean): string {
  return ok ? 'goal met' : 'GOAL MISSED'
}
