/** Human output helpers for the CLI: sizes, tables, progress bars on a TTY, text made safe for a terminal. */
import { createRequire } from 'node:module'
import { formatBytes } from '../../shared/units.js'

export { formatBytes }

/**
 * The most characters of one piece of untrusted text (a device's message, a
 * state key, a revision's source) shown on a terminal line; the rest is
 * counted, not shown (JSON output carries the text, up to the caps where it
 * is read: main/devices/drivers/types.ts).
 */
export const TERMINAL_TEXT_MAX = 200

/**
 * Characters a terminal could act on rather than show: C0 controls (ESC
 * starts the sequences that move the cursor, retitle the window, ...), DEL,
 * C1 controls (0x9b is a CSI of its own), the line and paragraph
 * separators, and the bidirectional overrides and isolates (they reorder
 * what is shown around them).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u
// eslint-disable-next-line no-control-regex
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

function escapeChar(ch: string): string {
  const c = ch.codePointAt(0) as number
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`
}

/**
 * One piece of untrusted text for a terminal line: every unsafe character
 * (newlines and tabs too) shown as `\xHH` / `\u{HHHH}`, and at most `max`
 * characters of the result, then `… (N more characters)`.
 */
export function terminalText(s: string, max = TERMINAL_TEXT_MAX): string {
  let out = ''
  let shown = 0
  let i = 0
  for (const ch of s) {
    const piece = UNSAFE.test(ch) ? escapeChar(ch) : ch
    if (shown + piece.length > max) break
    out += piece
    shown += piece.length
    i += ch.length
  }
  if (i >= s.length) return out
  const rest = codePoints(s, i)
  return `${out}… (${rest} more character${rest === 1 ? '' : 's'})`
}

/** Characters (code points) of `s` from index `from`, without copying it (a device's message may be megabytes). */
function codePoints(s: string, from: number): number {
  let n = 0
  for (let j = from; j < s.length; j++) {
    const c = s.charCodeAt(j)
    if (c >= 0xd800 && c <= 0xdbff && j + 1 < s.length) {
      const d = s.charCodeAt(j + 1)
      if (d >= 0xdc00 && d <= 0xdfff) j++
    }
    n++
  }
  return n
}

/** Whole lines of output (a command's text, an error): unsafe characters escaped as above, newlines kept. */
export function terminalLines(s: string): string {
  return s.replace(UNSAFE_BUT_NEWLINE, escapeChar)
}

export function table(rows: string[][], head: string[]): string {
  const all = [head, ...rows]
  const widths = head.map((_, c) => Math.max(...all.map(r => (r[c] ?? '').length)))
  return all
    .map(r =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

export interface ProgressSink {
  update: (done: number, total: number, detail?: string) => void
  stop: () => void
}

/** A progress bar on stderr when it is a terminal (and --json is off); otherwise nothing. */
export function progressBar(label: string, opts: { unit: 'bytes' | 'items'; enabled: boolean }): ProgressSink {
  if (!opts.enabled || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  // Loaded only for a bar on a terminal: commands that draw none (and scripts) start without it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress')
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {done}/{all} {rate} ETA {left} {detail}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  )
  const started = Date.now()
  let running = false
  const fmt = (n: number) => (opts.unit === 'bytes' ? formatBytes(n) : String(n))
  return {
    update(done, total, detail = '') {
      const secs = (Date.now() - started) / 1000
      const rate = secs > 0 && opts.unit === 'bytes' ? `${formatBytes(done / secs)}/s` : ''
      const payload = { done: fmt(done), all: fmt(total), rate, left: eta(done, total, secs), detail }
      if (!running) {
        bar.start(total, done, payload)
        running = true
      } else {
        bar.setTotal(total)
        bar.update(done, payload)
      }
    },
    stop() {
      if (running) bar.stop()
      running = false
    },
  }
}

/** Time left at the average rate so far; `--` until a second has passed (the first samples say little). */
export function eta(done: number, total: number, secs: number): string {
  if (done >= total) return '0s'
  if (secs < 1 || done <= 0) return '--'
  const left = Math.round((total - done) / (done / secs))
  if (left < 60) return `${left}s`
  if (left < 3600) return `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s`
  return `${Math.floor(left / 3600)}h${String(Math.floor(left / 60) % 60).padStart(2, '0')}m`
}
