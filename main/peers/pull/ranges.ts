/** Byte ranges [start, end): merging, subtracting, splitting. */

export type Range = [number, number]

/** Sorted, merged copy. */
export function mergeRanges(rs: readonly Range[]): Range[] {
  const s = rs
    .filter(r => r[1] > r[0])
    .map(r => [r[0], r[1]] as Range)
    .sort((a, b) => a[0] - b[0])
  const out: Range[] = []
  for (const r of s) {
    const last = out[out.length - 1]
    if (last !== undefined && r[0] <= last[1]) last[1] = Math.max(last[1], r[1])
    else out.push(r)
  }
  return out
}

export function addRange(rs: readonly Range[], r: Range): Range[] {
  return mergeRanges([...rs, r])
}

/** [0, size) minus `done`. */
export function missingRanges(size: number, done: readonly Range[]): Range[] {
  const out: Range[] = []
  let at = 0
  for (const [s, e] of mergeRanges(done)) {
    if (s > at) out.push([at, Math.min(s, size)])
    at = Math.max(at, e)
  }
  if (at < size) out.push([at, size])
  return out.filter(r => r[1] > r[0])
}

/** Split ranges into pieces of at most `max` bytes, cut on multiples of `max` so pieces line up across runs. */
export function splitRanges(rs: readonly Range[], max: number): Range[] {
  const out: Range[] = []
  for (const [s, e] of rs) {
    let at = s
    while (at < e) {
      const cut = Math.min(e, (Math.floor(at / max) + 1) * max)
      out.push([at, cut])
      at = cut
    }
  }
  return out
}

/** End of the contiguous prefix [0, x) covered by `done`. */
export function prefixEnd(done: readonly Range[]): number {
  const m = mergeRanges(done)
  return m.length > 0 && m[0][0] === 0 ? m[0][1] : 0
}

/** Validate a JSON value read back from the database. */
export function parseRanges(v: unknown, size: number): Range[] | undefined {
  if (!Array.isArray(v)) return undefined
  const out: Range[] = []
  for (const r of v) {
    if (!Array.isArray(r) || r.length !== 2 || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1]) || r[0] < 0 || r[1] > size || r[0] >= r[1])
      return undefined
    out.push([r[0], r[1]])
  }
  return mergeRanges(out)
}

/** `r` minus every range in `cover`. */
export function subtract(r: Range, cover: readonly Range[]): Range[] {
  let parts: Range[] = [r]
  for (const [cs, ce] of cover) {
    parts = parts.flatMap(([s, e]) => {
      if (ce <= s || cs >= e) return [[s, e] as Range]
      const out: Range[] = []
      if (cs > s) out.push([s, cs])
      if (ce < e) out.push([ce, e])
      return out
    })
  }
  return parts
}
