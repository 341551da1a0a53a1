/**
 * The key order of canonical JSON and of pvtx's merge. Apart from
 * canonical.ts so that light users (pvtx, the composition engine) need not
 * load its hashing.
 */

function codePointAtUnit(s: string, i: number): number {
  const c = s.charCodeAt(i)
  if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
    const h = s.charCodeAt(i - 1)
    if (h >= 0xd800 && h <= 0xdbff) return ((h - 0xd800) << 10) + (c - 0xdc00) + 0x10000
  }
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const l = s.charCodeAt(i + 1)
    if (l >= 0xdc00 && l <= 0xdfff) return ((c - 0xd800) << 10) + (l - 0xdc00) + 0x10000
  }
  return c
}

/** Key order of canonical JSON: by Unicode code point (= UTF-8 byte order), not by UTF-16 unit. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    if (x < 0xd800 && y < 0xd800) return x - y
    return codePointAtUnit(a, i) - codePointAtUnit(b, i)
  }
  return a.length - b.length
}
