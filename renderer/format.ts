/** Numbers for people: sizes, rates, durations, times, ids. */
import { formatBytes, formatRate } from '../shared/units.js'

/** Sizes and rates: shared/units.ts, the formatter the CLI uses too (binary units: KiB, MiB, GiB). */
export const bytes = formatBytes
export const rate = formatRate

export function duration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return '—'
  if (secs < 1) return 'under 1 s'
  const s = Math.max(0, Math.round(secs))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 > 0 ? `${s % 60} s` : ''}`.trim()
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

export function ago(t: number | null | undefined, now = Date.now()): string {
  if (t === null || t === undefined) return '—'
  const s = Math.round((now - t) / 1000)
  if (s < 10) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return new Date(t).toISOString().slice(0, 10)
}

export function dateTime(t: number): string {
  const d = new Date(t)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
}

export function shortId(id: string): string {
  return id.slice(0, 12)
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** How far along, 0-100; null when the total is not known. Nothing to do (a total of 0) is complete. */
export function percent(done: number, total: number | null): number | null {
  if (total === null || total < 0) return null
  if (total === 0) return 100
  return Math.max(0, Math.min(100, (done / total) * 100))
}
