/** Human output helpers for the CLI: sizes, tables, progress bars on a TTY. */
import cliProgress from 'cli-progress'
import { formatBytes } from '../../shared/units.js'

export { formatBytes }

export function table (rows: string[][], head: string[]): string {
  const all = [head, ...rows]
  const widths = head.map((_, c) => Math.max(...all.map(r => (r[c] ?? '').length)))
  return all.map(r => r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n')
}

export interface ProgressSink {
  update: (done: number, total: number, detail?: string) => void
  stop: () => void
}

/** A progress bar on stderr when it is a terminal (and --json is off); otherwise nothing. */
export function progressBar (label: string, opts: { unit: 'bytes' | 'items', enabled: boolean }): ProgressSink {
  if (!opts.enabled || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% {done}/{all} {rate} ETA {left} {detail}`,
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic)
  const started = Date.now()
  let running = false
  const fmt = (n: number) => opts.unit === 'bytes' ? formatBytes(n) : String(n)
  return {
    update (done, total, detail = '') {
      const secs = (Date.now() - started) / 1000
      const rate = secs > 0 && opts.unit === 'bytes' ? `${formatBytes(done / secs)}/s` : ''
      const payload = { done: fmt(done), all: fmt(total), rate, left: eta(done, total, secs), detail }
      if (!running) { bar.start(total, done, payload); running = true } else { bar.setTotal(total); bar.update(done, payload) }
    },
    stop () { if (running) bar.stop(); running = false },
  }
}

/** Time left at the average rate so far; `--` until a second has passed (the first samples say little). */
export function eta (done: number, total: number, secs: number): string {
  if (done >= total) return '0s'
  if (secs < 1 || done <= 0) return '--'
  const left = Math.round((total - done) / (done / secs))
  if (left < 60) return `${left}s`
  if (left < 3600) return `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s`
  return `${Math.floor(left / 3600)}h${String(Math.floor(left / 60) % 60).padStart(2, '0')}m`
}

