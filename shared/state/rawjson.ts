/**
 * A small strict JSON parser (RFC 8259) that knows where things are in the raw
 * text: it gives line/column errors, the raw slices of the top-level members
 * (for signature checks, which work on the stored text) and, on request, keeps
 * number literals as written and decodes strings as Go's encoding/json does
 * (what pvr does before writing canonical JSON).
 */

/** A JSON number kept as its literal text (as Go's json.Number). */
export class JsonNumber {
  constructor(readonly raw: string) {}
  valueOf(): number {
    return Number(this.raw)
  }
  toJSON(): number {
    return Number(this.raw)
  }
  toString(): string {
    return this.raw
  }
}

export class JsonSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${problem} at line ${line} column ${column}`)
    this.name = 'JsonSyntaxError'
  }
}

export interface JsonParseOptions {
  /** Numbers become JsonNumber (literal kept) instead of JS numbers. */
  rawNumbers?: boolean
  /** Decode strings as Go's encoding/json: escaped lone surrogates become U+FFFD. */
  goStrings?: boolean
  /**
   * Called for each member of the top-level object, in raw order (duplicates
   * included): the decoded key, the value's span, and the span of the key's
   * raw text between its quotes (escapes as written).
   */
  onTopMember?: (key: string, valueStart: number, valueEnd: number, rawKeyStart: number, rawKeyEnd: number) => void
}

export const JSON_MAX_DEPTH = 1000

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0
  if (code < 0x20 || code === 0x7f) return `control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`
  if (code === 0xfeff) return 'byte order mark U+FEFF'
  return `'${c}'`
}

class Parser {
  pos = 0
  constructor(
    readonly text: string,
    readonly opts: JsonParseOptions,
  ) {}

  fail(problem: string, at = this.pos): never {
    let line = 1
    let lineStart = 0
    for (let i = this.text.indexOf('\n'); i !== -1 && i < at; i = this.text.indexOf('\n', i + 1)) {
      line++
      lineStart = i + 1
    }
    throw new JsonSyntaxError(problem, at, line, at - lineStart + 1)
  }

  unexpected(): never {
    if (this.pos >= this.text.length) this.fail('unexpected end of input')
    this.fail(`unexpected ${describeChar(String.fromCodePoint(this.text.codePointAt(this.pos) ?? 0))}`)
  }

  ws(): void {
    const t = this.text
    let p = this.pos
    for (;;) {
      const c = t.charCodeAt(p)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++
      else break
    }
    this.pos = p
  }

  parseDocument(): unknown {
    this.ws()
    const v = this.value(0)
    this.ws()
    if (this.pos < this.text.length) this.fail(`unexpected ${describeChar(this.text[this.pos])} after the end of the JSON value`)
    return v
  }

  value(depth: number): unknown {
    const c = this.text[this.pos]
    switch (c) {
      case '{':
        return this.object(depth + 1)
      case '[':
        return this.array(depth + 1)
      case '"':
        return this.string()
      case 't':
        return this.literal('true', true)
      case 'f':
        return this.literal('false', false)
      case 'n':
        return this.literal('null', null)
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number()
        return this.unexpected()
    }
  }

  literal<T>(word: string, v: T): T {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length
      return v
    }
    for (let i = 0; i < word.length; i++) {
      if (this.text[this.pos] !== word[i]) this.unexpected()
      this.pos++
    }
    return this.unexpected()
  }

  number(): number | JsonNumber {
    NUMBER.lastIndex = this.pos
    const m = NUMBER.exec(this.text)
    if (m === null) {
      if (this.text[this.pos] === '-') this.pos++
      return this.unexpected()
    }
    const raw = m[0]
    this.pos += raw.length
    // "01", "1." and "1e" stop the literal early: report the next character
    const next = this.text[this.pos]
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.unexpected()
    return this.opts.rawNumbers === true ? new JsonNumber(raw) : Number(raw)
  }

  string(): string {
    const t = this.text
    const start = ++this.pos
    let p = start
    // fast path: no escapes
    for (;;) {
      const c = t.charCodeAt(p)
      if (c === 0x22) {
        this.pos = p + 1
        return t.slice(start, p)
      }
      if (c === 0x5c || c < 0x20 || Number.isNaN(c)) break
      p++
    }
    let out = t.slice(start, p)
    let escapedSurrogate = false
    for (;;) {
      if (p >= t.length) this.fail('unterminated string', start - 1)
      const c = t.charCodeAt(p)
      if (c === 0x22) break
      if (c < 0x20) {
        this.pos = p
        this.fail(`${describeChar(t[p])} inside a string (must be escaped)`)
      }
      if (c !== 0x5c) {
        const q = p
        while (p < t.length) {
          const d = t.charCodeAt(p)
          if (d === 0x22 || d === 0x5c || d < 0x20) break
          p++
        }
        out += t.slice(q, p)
        continue
      }
      const e = t[p + 1]
      if (e === 'u') {
        const hex = t.slice(p + 2, p + 6)
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          this.pos = p
          this.fail('invalid \\u escape in a string')
        }
        const code = parseInt(hex, 16)
        if (code >= 0xd800 && code <= 0xdfff) escapedSurrogate = true
        out += String.fromCharCode(code)
        p += 6
      } else if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e]
        p += 2
      } else {
        this.pos = p
        if (e === undefined) this.fail('unterminated string', start - 1)
        this.fail(`invalid escape '\\${e}' in a string`)
      }
    }
    this.pos = p + 1
    if (escapedSurrogate && this.opts.goStrings === true) out = out.replace(LONE_SURROGATE, '\uFFFD')
    return out
  }

  array(depth: number): unknown[] {
    if (depth > JSON_MAX_DEPTH) this.fail(`nested deeper than ${JSON_MAX_DEPTH} levels`)
    this.pos++
    const out: unknown[] = []
    this.ws()
    if (this.text[this.pos] === ']') {
      this.pos++
      return out
    }
    for (;;) {
      this.ws()
      out.push(this.value(depth))
      this.ws()
      const c = this.text[this.pos]
      if (c === ',') {
        this.pos++
        continue
      }
      if (c === ']') {
        this.pos++
        return out
      }
      this.unexpected()
    }
  }

  object(depth: number): Record<string, unknown> {
    if (depth > JSON_MAX_DEPTH) this.fail(`nested deeper than ${JSON_MAX_DEPTH} levels`)
    this.pos++
    const out: Record<string, unknown> = {}
    this.ws()
    if (this.text[this.pos] === '}') {
      this.pos++
      return out
    }
    const top = depth === 1 ? this.opts.onTopMember : undefined
    for (;;) {
      this.ws()
      if (this.text[this.pos] !== '"') this.unexpected()
      const keyStart = this.pos + 1
      const key = this.string()
      const keyEnd = this.pos - 1
      this.ws()
      if (this.text[this.pos] !== ':') this.unexpected()
      this.pos++
      this.ws()
      const vstart = this.pos
      const v = this.value(depth)
      if (top !== undefined) top(key, vstart, this.pos, keyStart, keyEnd)
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true })
      else out[key] = v
      this.ws()
      const c = this.text[this.pos]
      if (c === ',') {
        this.pos++
        continue
      }
      if (c === '}') {
        this.pos++
        return out
      }
      this.unexpected()
    }
  }
}

/** Parse JSON text strictly; throws JsonSyntaxError with line and column. */
export function parseJsonText(text: string, opts: JsonParseOptions = {}): unknown {
  return new Parser(text, opts).parseDocument()
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Offset of the first byte that breaks UTF-8, or -1 when the bytes are valid UTF-8. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0
  const n = b.length
  while (i < n) {
    const c = b[i]
    if (c < 0x80) {
      i++
      continue
    }
    let need: number
    let min: number
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1
      min = 0x80
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2
      min = 0x800
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3
      min = 0x10000
    } else return i
    let cp = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07)
    for (let k = 1; k <= need; k++) {
      const d = b[i + k]
      if (d === undefined || (d & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (d & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += need + 1
  }
  return -1
}

/** Decode strict UTF-8 (a BOM is kept, so that the JSON parser rejects it). Returns null when invalid. */
export function decodeUtf8(b: Uint8Array): string | null {
  try {
    return decoder.decode(b)
  } catch {
    return null
  }
}

export interface RawMember {
  key: string
  rawValue: string
}

/**
 * Members of a top-level JSON object, in raw order, each with the exact raw
 * text of its value (duplicates included, as they appear). Throws
 * JsonSyntaxError on invalid JSON, TypeError when the top level is not an
 * object or the bytes are not UTF-8.
 */
export function rawMembersOf(text: string): RawMember[] {
  const out: RawMember[] = []
  const doc = parseJsonText(text, { onTopMember: (key, s, e) => out.push({ key, rawValue: text.slice(s, e) }) })
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new TypeError('the top level of the JSON text is not an object')
  return out
}
