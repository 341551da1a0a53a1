/**
 * The device's glob matching for `pvs.include`/`pvs.exclude`, as
 * Pantavisor's signature.c does it on top of musl's fnmatch (Pantavisor is
 * built with musl, in the C locale: one byte is one character):
 *
 * - `**` alone becomes the empty pattern with FNM_LEADING_DIR: it matches
 *   only an empty key or one starting with `/` (in practice: nothing);
 * - `X/**` becomes dirname(`X/**`) = `X` with FNM_LEADING_DIR: `X` itself
 *   and everything under it;
 * - anything else is plain fnmatch with FNM_PATHNAME: `*`, `?` and `[...]`
 *   never cross a `/`, so `**` in the middle acts like `*` (one level).
 *
 * This is a port of musl's src/regex/fnmatch.c ("Sea of Stars"), keeping its
 * quirks (bracket parsing, escapes, a leading `]` or `-` in brackets).
 */

const END = 0
const UNMATCHABLE = -2
const BRACKET = -3
const QUESTION = -4
const STAR = -5
const SLASH = 0x2f

type Step = [c: number, step: number]

function patNext(P: string, p: number, m: number): Step {
  if (m <= 0 || p >= P.length) return [END, 0]
  const ch = P[p]
  if (ch === '\\' && p + 1 < P.length) return [P.charCodeAt(p + 1), 2]
  if (ch === '[') {
    let k = 1
    const at = (i: number): string | undefined => P[p + i]
    if (k < m && (at(k) === '^' || at(k) === '!')) k++
    if (k < m && at(k) === ']') k++
    for (; k < m && at(k) !== undefined && at(k) !== ']'; k++) {
      const n1 = at(k + 1)
      if (k + 1 < m && n1 !== undefined && at(k) === '[' && (n1 === ':' || n1 === '.' || n1 === '=')) {
        const z = n1
        k += 2
        if (k < m && at(k) !== undefined) k++
        while (k < m && at(k) !== undefined && (at(k - 1) !== z || at(k) !== ']')) k++
        if (k === m || at(k) === undefined) break
      }
    }
    if (k === m || at(k) === undefined) return [0x5b, 1]
    return [BRACKET, k + 1]
  }
  if (ch === '*') return [STAR, 1]
  if (ch === '?') return [QUESTION, 1]
  return [P.charCodeAt(p), 1]
}

function strNext(S: string, s: number, n: number): Step {
  if (n <= 0 || s >= S.length) return [0, 0]
  return [S.charCodeAt(s), 1]
}

const CLASSES: Record<string, (c: number) => boolean> = {
  alnum: c => /[A-Za-z0-9]/.test(String.fromCharCode(c)),
  alpha: c => /[A-Za-z]/.test(String.fromCharCode(c)),
  blank: c => c === 0x20 || c === 0x09,
  cntrl: c => c < 0x20 || c === 0x7f,
  digit: c => c >= 0x30 && c <= 0x39,
  graph: c => c > 0x20 && c < 0x7f,
  lower: c => c >= 0x61 && c <= 0x7a,
  print: c => c >= 0x20 && c < 0x7f,
  punct: c => c > 0x20 && c < 0x7f && !/[A-Za-z0-9]/.test(String.fromCharCode(c)),
  space: c => c === 0x20 || (c >= 0x09 && c <= 0x0d),
  upper: c => c >= 0x41 && c <= 0x5a,
  xdigit: c => /[0-9A-Fa-f]/.test(String.fromCharCode(c)),
}

/** musl match_bracket; p points at the '['. */
function matchBracket(P: string, p: number, k: number): boolean {
  let inv = false
  p++
  if (P[p] === '^' || P[p] === '!') {
    inv = true
    p++
  }
  if (P[p] === ']') {
    if (k === 0x5d) return !inv
    p++
  } else if (P[p] === '-') {
    if (k === 0x2d) return !inv
    p++
  }
  let wc = P.charCodeAt(p - 1)
  for (; p < P.length && P[p] !== ']'; p++) {
    if (P[p] === '-' && P[p + 1] !== ']') {
      p++
      const wc2 = P.charCodeAt(p)
      if (wc <= wc2 && k >= wc && k - wc <= wc2 - wc) return !inv
      continue
    }
    if (P[p] === '[' && (P[p + 1] === ':' || P[p + 1] === '.' || P[p + 1] === '=')) {
      const p0 = p + 2
      const z = P[p + 1]
      p += 3
      while (p < P.length && (P[p - 1] !== z || P[p] !== ']')) p++
      if (z === ':' && p - 1 - p0 < 16) {
        const cls = CLASSES[P.slice(p0, p - 1)]
        if (cls !== undefined && k < 0x80 && cls(k)) return !inv
      }
      continue
    }
    wc = P.charCodeAt(p)
    if (wc === k && (P[p + 1] !== '-' || P[p + 2] === ']')) return !inv
  }
  return inv
}

function charMatches(P: string, c: number, at: number, k: number): boolean {
  if (c === BRACKET) return matchBracket(P, at, k)
  return c === QUESTION || c === k
}

/** musl fnmatch_internal on P[pat, pat+m) against S[str, str+n). */
function internal(P: string, pat: number, m: number, S: string, str: number, n: number): boolean {
  for (;;) {
    const [c, pinc] = patNext(P, pat, m)
    if (c === UNMATCHABLE) return false
    if (c === STAR) {
      pat++
      m--
      break
    }
    const [k, sinc] = strNext(S, str, n)
    if (k <= 0) return c === END
    str += sinc
    n -= sinc
    if (c === END || !charMatches(P, c, pat, k)) return false
    pat += pinc
    m -= pinc
  }
  m = Math.max(0, Math.min(m, P.length - pat))
  let endpat = pat + m
  let ptail = pat
  let tailcnt = 0
  for (let p = pat; p < endpat;) {
    const [c, pinc] = patNext(P, p, endpat - p)
    if (c === UNMATCHABLE) return false
    if (c === STAR) {
      tailcnt = 0
      ptail = p + 1
    } else tailcnt++
    p += pinc
  }
  n = Math.max(0, Math.min(n, S.length - str))
  let endstr = str + n
  if (n < tailcnt) return false
  const stail = endstr - tailcnt
  let s = stail
  for (let p = ptail; ;) {
    const [c, pinc] = patNext(P, p, endpat - p)
    p += pinc
    const [k, sinc] = strNext(S, s, endstr - s)
    if (k <= 0) {
      if (c !== END) return false
      break
    }
    s += sinc
    if (c === END || !charMatches(P, c, p - pinc, k)) return false
  }
  endstr = stail
  endpat = ptail
  while (pat < endpat) {
    let p = pat
    s = str
    let c: number
    for (;;) {
      const [cc, pinc] = patNext(P, p, endpat - p)
      c = cc
      p += pinc
      if (c === STAR) {
        pat = p
        str = s
        break
      }
      const [k, sinc] = strNext(S, s, endstr - s)
      if (k === 0) return false
      if (c === END || !charMatches(P, c, p - pinc, k)) break
      s += sinc
    }
    if (c === STAR) continue
    str += 1
  }
  return true
}

/** musl fnmatch(pattern, string, FNM_PATHNAME | (leadingDir ? FNM_LEADING_DIR : 0)) on byte strings. */
export function fnmatchPathname(P: string, S: string, leadingDir: boolean): boolean {
  let pat = 0
  let str = 0
  for (;;) {
    let s = str
    while (s < S.length && S.charCodeAt(s) !== SLASH) s++
    let p = pat
    let c: number
    let inc: number
    for (;;) {
      ;[c, inc] = patNext(P, p, Infinity)
      if (c === END || c === SLASH) break
      p += inc
    }
    const sc = s < S.length ? SLASH : 0
    if (c !== sc && (sc === 0 || !leadingDir)) return false
    if (!internal(P, pat, p - pat, S, str, s - str)) return false
    if (c === END) return true
    str = s + 1
    pat = p + inc
  }
}

/** musl dirname(3). */
export function dirname(s: string): string {
  if (s === '') return '.'
  let i = s.length - 1
  for (; s[i] === '/'; i--) if (i === 0) return '/'
  for (; s[i] !== '/'; i--) if (i === 0) return '.'
  for (; s[i] === '/'; i--) if (i === 0) return '/'
  return s.slice(0, i + 1)
}

/** One byte per character, as the device's C strings are matched. */
export function byteString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, 'utf8').toString('latin1')
}

/** A compiled include/exclude glob as signature.c's _filter_json applies it. */
export interface DeviceGlob {
  glob: string
  pattern: string
  leadingDir: boolean
}

export function compileGlob(rawGlob: string): DeviceGlob {
  if (rawGlob === '**') return { glob: rawGlob, pattern: '', leadingDir: true }
  if (rawGlob.length > 3 && rawGlob.endsWith('/**')) return { glob: rawGlob, pattern: byteString(dirname(rawGlob)), leadingDir: true }
  return { glob: rawGlob, pattern: byteString(rawGlob), leadingDir: false }
}

/** Does the device consider `rawKey` (the key as written) matched by this glob? */
export function globMatches(g: DeviceGlob, rawKey: string): boolean {
  return fnmatchPathname(g.pattern, byteString(rawKey), g.leadingDir)
}
