/**
 * Sizes for people: the one formatter of Fieldsync, used by the CLI, the
 * app and every message. Binary units as IEC names them (1 KiB = 1024 B,
 * 1 MiB = 1024 KiB), as `du -h`, `df -h` and the stick's file system count:
 * one decimal under 100 (3.4 MiB), none from 100 up (512 MiB), whole bytes
 * under 1 KiB (812 B). Messages never print raw byte counts.
 */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '?'
  const neg = n < 0
  let v = Math.abs(n)
  let i = 0
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024
    i++
  }
  // 1023.96 KiB would print as "1024.0 KiB": step up instead.
  if (i > 0 && i < UNITS.length - 1 && Number(v.toFixed(v >= 100 ? 0 : 1)) >= 1024) {
    v /= 1024
    i++
  }
  const text = i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[i]}`
  return neg ? `-${text}` : text
}

/** A rate in bytes per second; '—' when nothing moved. */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 && Number.isFinite(bytesPerSecond) ? `${formatBytes(bytesPerSecond)}/s` : '—'
}

/**
 * A revision's size: exact when all its objects are in the library; a lower
 * bound ("≥ 3.4 MiB") while some are missing (their sizes are not known
 * until they arrive); "unknown" when none of them is here.
 */
export function revisionSizeText(r: { bytes: number; missing: number }): string {
  if (r.missing === 0) return formatBytes(r.bytes)
  return r.bytes === 0 ? 'unknown' : `≥ ${formatBytes(r.bytes)}`
}

/** Two sizes that should agree and do not, in words: "3.4 MiB, 12 B short of the expected 3.4 MiB". */
export function sizeMismatch(actual: number, expected: number, expectedWhat = 'expected'): string {
  const d = actual - expected
  return `${formatBytes(actual)}, ${formatBytes(Math.abs(d))} ${d < 0 ? 'short of' : 'more than'} the ${expectedWhat} ${formatBytes(expected)}`
}
