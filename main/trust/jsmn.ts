/**
 * A flat JSON tokenizer with the token semantics of jsmn, the parser
 * Pantavisor's signature.c uses. The device never decodes JSON for signature
 * checks: it looks at raw token spans. A string token spans the text between
 * its quotes (escapes kept as written), every other token its whole text.
 * Tokens come in document order (an object, then its first key, that key's
 * value and the value's children, then the next key...), so "the token after
 * a key" is its value, and "the next n tokens" after an array token are its
 * elements only when those are scalars: exactly what the device relies on.
 *
 * Input must be strict JSON (RFC 8259); anything else gives null. jsmn itself
 * is laxer (unquoted primitives); the state was validated strictly before it
 * gets here and the protected header is written by a JOSE library.
 */

export type TokType = 'object' | 'array' | 'string' | 'primitive'

export interface Tok {
  type: TokType
  /** Start offset: after the opening quote for strings. */
  start: number
  /** End offset (exclusive): the closing quote for strings. */
  end: number
  /** Object: number of keys; array: number of elements; key string: 1. */
  size: number
}

const MAX_DEPTH = 1000

class Tokenizer {
  pos = 0
  readonly toks: Tok[] = []
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s
    let p = this.pos
    for (;;) {
      const c = s.charCodeAt(p)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++
      else break
    }
    this.pos = p
  }

  value(depth: number): boolean {
    if (depth > MAX_DEPTH) return false
    const c = this.s[this.pos]
    if (c === '{') return this.container('object', '}', depth)
    if (c === '[') return this.container('array', ']', depth)
    if (c === '"') return this.string() !== null
    return this.primitive()
  }

  container(type: 'object' | 'array', close: string, depth: number): boolean {
    const tok: Tok = { type, start: this.pos, end: -1, size: 0 }
    this.toks.push(tok)
    this.pos++
    this.ws()
    if (this.s[this.pos] === close) {
      this.pos++
      tok.end = this.pos
      return true
    }
    for (;;) {
      this.ws()
      if (type === 'object') {
        if (this.s[this.pos] !== '"') return false
        const key = this.string()
        if (key === null) return false
        key.size = 1
        this.ws()
        if (this.s[this.pos] !== ':') return false
        this.pos++
        this.ws()
      }
      if (!this.value(depth + 1)) return false
      tok.size++
      this.ws()
      const c = this.s[this.pos]
      if (c === ',') {
        this.pos++
        continue
      }
      if (c === close) {
        this.pos++
        tok.end = this.pos
        return true
      }
      return false
    }
  }

  string(): Tok | null {
    const s = this.s
    const start = ++this.pos
    let p = start
    for (;;) {
      if (p >= s.length) return null
      const c = s.charCodeAt(p)
      if (c === 0x22) break
      if (c < 0x20) return null
      if (c === 0x5c) {
        const e = s[p + 1]
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(p + 2, p + 6))) return null
          p += 6
          continue
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) return null
        p += 2
        continue
      }
      p++
    }
    const tok: Tok = { type: 'string', start, end: p, size: 0 }
    this.toks.push(tok)
    this.pos = p + 1
    return tok
  }

  primitive(): boolean {
    const m = /(?:true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/y
    m.lastIndex = this.pos
    const r = m.exec(this.s)
    if (r === null) return false
    const end = this.pos + r[0].length
    if (/[0-9a-zA-Z.+-]/.test(this.s[end] ?? '')) return false
    this.toks.push({ type: 'primitive', start: this.pos, end, size: 0 })
    this.pos = end
    return true
  }
}

/** Tokenize strict JSON text; null when it is not JSON. */
export function tokenize(text: string): Tok[] | null {
  const t = new Tokenizer(text)
  t.ws()
  if (!t.value(0)) return null
  t.ws()
  if (t.pos !== text.length) return null
  return t.toks
}

export function tokText(text: string, tok: Tok): string {
  return text.slice(tok.start, tok.end)
}

/**
 * pv_json_get_value: the first STRING token anywhere (key or value, any
 * depth) whose raw text equals `key`, and the raw text of the token after it.
 */
export function getValue(text: string, toks: Tok[], key: string): { tok: Tok; raw: string } | null {
  for (let i = 0; i < toks.length - 1; i++) {
    const t = toks[i]
    if (t.type === 'string' && t.end - t.start === key.length && text.startsWith(key, t.start)) {
      const v = toks[i + 1]
      return { tok: v, raw: tokText(text, v) }
    }
  }
  return null
}

/**
 * jsmnutil_array_count + pv_json_array_get_one_str: parse `text`; when its
 * first token is an array of n elements, the raw text of the n tokens that
 * follow it (the elements themselves when they are scalars). null when the
 * text is not an array (the device then matches or loads nothing).
 */
export function arrayStrings(text: string): string[] | null {
  const toks = tokenize(text)
  if (toks === null || toks[0].type !== 'array') return null
  const n = toks[0].size
  const out: string[] = []
  for (let i = 1; i <= n && i < toks.length; i++) out.push(tokText(text, toks[i]))
  return out
}

export interface RawPair {
  /** The key as written between its quotes (escapes kept). */
  rawKey: string
  /** The value token's raw text (string: between the quotes). */
  raw: string
  type: TokType
}

/** jsmnutil_get_object_keys on the top-level object: its members in raw order, duplicates kept. */
export function topLevelPairs(text: string, toks: Tok[]): RawPair[] | null {
  if (toks.length === 0 || toks[0].type !== 'object') return null
  const out: RawPair[] = []
  const root = toks[0]
  let i = 1
  while (i < toks.length && toks[i].start < root.end) {
    const k = toks[i]
    const v = toks[i + 1]
    out.push({ rawKey: tokText(text, k), raw: tokText(text, v), type: v.type })
    // skip the value and its descendants
    let j = i + 2
    while (j < toks.length && toks[j].start < v.end && v.type !== 'string' && v.type !== 'primitive') j++
    i = j
  }
  return out
}
