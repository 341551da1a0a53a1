/**
 * Canonical JSON exactly as pvr writes it with gibson042/canonicaljson-go:
 * keys sorted by code point (Go compares UTF-8 bytes), no whitespace, strings
 * escaped only where needed (`"`, `\`, controls: \b \t \n \f \r or \u00XX with
 * uppercase hex; lone surrogates \uDXXX; `<>&`, U+2028/9 and all other
 * characters raw), integers as plain digits, other numbers as
 * `d.dddE[-]x` (normalizeNumber, a port of the library's function).
 *
 * Identity: pvr decodes state JSON with encoding/json + UseNumber (numbers stay
 * literal, escaped lone surrogates become U+FFFD) and re-encodes it with that
 * library; `canonicalBytes(parsedState)` does the same from the raw bytes, so
 * big integers and long fractions keep pvr's exact output.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { InvalidStateError } from '../errors.js'
import { bytesToHex } from '../hex.js'
import { compareKeys } from './keys.js'
import { JsonNumber, decodeUtf8, parseJsonText, JSON_MAX_DEPTH } from './rawjson.js'
import { isParsedState, type ParsedState, type StateInput } from './types.js'

// Force capital-E exponent, remove + signs and leading zeroes (same regexps as the Go library)
const EXP_NORMALIZER = /(?:E(?:[+]0*|(-|)0+)|e(?:[+]|(-|))0*)([0-9])/g
// Find the significant digits in a numeric string
const SIGNIFICANT_DIGITS = /^(?:0(?:\.0*|)|)([0-9.]+?)(?:0*\.?0*|)(?:E|$)/d
const VALID_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/

/** Normalize a valid JSON number literal (port of canonicaljson-go's normalizeNumber). */
const PLAIN_INTEGER = /^-?(?:0|[1-9][0-9]*)$/

export function normalizeNumber(literal: string): string {
  if (PLAIN_INTEGER.test(literal)) return literal === '-0' ? '0' : literal // the common case, same result
  if (!VALID_NUMBER.test(literal)) throw new InvalidStateError(`canonical JSON: invalid number literal ${JSON.stringify(literal)}`)
  let s = literal.replace(EXP_NORMALIZER, (_m, a?: string, b?: string, c?: string) => `E${a ?? ''}${b ?? ''}${c ?? ''}`)
  const negative = s[0] === '-'
  if (negative) s = s.slice(1)
  let exp = 0
  let expPos = s.lastIndexOf('E')
  if (expPos === -1) {
    expPos = s.length
  } else {
    exp = Number(s.slice(expPos + 1))
    // Go's strconv.Atoi fails beyond int64; keep to exactly representable exponents
    if (!Number.isSafeInteger(exp)) throw new InvalidStateError(`canonical JSON: exponent out of range in ${literal}`)
  }
  const m = SIGNIFICANT_DIGITS.exec(s)
  const range = m?.indices?.[1]
  if (range === undefined) throw new InvalidStateError(`canonical JSON: no significand in ${JSON.stringify(literal)}`)
  const [sigStart, sigEnd] = range
  if (s[sigStart] === '0') return '0'
  const pointPos = s.indexOf('.')
  const effectivePointPos = pointPos === -1 ? expPos : pointPos
  let significand = pointPos > sigStart && pointPos < sigEnd ? s.slice(sigStart, pointPos) + s.slice(pointPos + 1, sigEnd) : s.slice(sigStart, sigEnd)
  // integers: the significand fits within the exponent
  const isInt = (exp <= 0 && effectivePointPos + exp >= sigEnd) || (exp > 0 && effectivePointPos + exp + 1 >= sigEnd)
  if (effectivePointPos > 1) exp += effectivePointPos - 1
  else if (sigStart > 0) exp -= sigStart - 1
  let out = negative ? '-' : ''
  if (isInt) {
    out += significand
    if (significand.length < exp + 1) out += '0'.repeat(exp + 1 - significand.length)
  } else {
    if (significand.length === 1) significand += '0'
    out += `${significand[0]}.${significand.slice(1)}E${exp}`
  }
  return out
}

/**
 * A JS number as canonicaljson-go writes a float64: the shortest round-trip
 * digits (Go's FormatFloat 'E' -1 and JS's toExponential() agree), normalized.
 */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new InvalidStateError(`canonical JSON: cannot encode ${n}`)
  if (Number.isSafeInteger(n)) return String(n + 0)
  return normalizeNumber(n.toExponential())
}

const NEEDS_ESCAPE = /[\u0000-\u001f"\\]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g // eslint-disable-line no-control-regex
const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' }

function escapeChar(c: string): string {
  return SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`
}

/** A JSON string literal in canonical form. */
export function quoteString(s: string): string {
  NEEDS_ESCAPE.lastIndex = 0
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`
  NEEDS_ESCAPE.lastIndex = 0
  return `"${s.replace(NEEDS_ESCAPE, escapeChar)}"`
}

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/

/** Sort keys in canonical order (UTF-16 order is the same when no key has a unit at or above U+D800). */
export function sortKeys(keys: string[]): string[] {
  for (const k of keys) if (ABOVE_SURROGATES.test(k)) return keys.sort(compareKeys)
  return keys.sort()
}

function write(v: unknown, depth: number): string {
  if (depth > JSON_MAX_DEPTH + 1) throw new InvalidStateError(`canonical JSON: value nested deeper than ${JSON_MAX_DEPTH} levels (or circular)`)
  switch (typeof v) {
    case 'string':
      return quoteString(v)
    case 'number':
      return formatNumber(v)
    case 'bigint':
      return v.toString()
    case 'boolean':
      return v ? 'true' : 'false'
    case 'object':
      break
    default:
      throw new InvalidStateError(`canonical JSON: cannot encode a value of type ${typeof v}`)
  }
  if (v === null) return 'null'
  if (v instanceof JsonNumber) return normalizeNumber(v.raw)
  if (Array.isArray(v)) {
    let out = '['
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ','
      const e = v[i]
      out += e === undefined || typeof e === 'function' || typeof e === 'symbol' ? 'null' : write(e, depth + 1)
    }
    return out + ']'
  }
  const o = v as Record<string, unknown>
  const keys = sortKeys(Object.keys(o).filter(k => o[k] !== undefined))
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out += ','
    out += quoteString(keys[i]) + ':' + write(o[keys[i]], depth + 1)
  }
  return out + '}'
}

/** Canonical JSON text of a value (undefined members are left out, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw new InvalidStateError('canonical JSON: cannot encode undefined')
  return write(value, 0)
}

/**
 * Canonical form of JSON text as pvr produces it (numbers kept literal,
 * escaped lone surrogates turned into U+FFFD, duplicate keys: last wins).
 * Throws JsonSyntaxError on invalid JSON.
 */
export function canonicalizeJsonText(text: string): string {
  return canonicalJson(parseJsonText(text, { rawNumbers: true, goStrings: true }))
}

const encoder = new TextEncoder()

/** UTF-8 bytes of the canonical JSON of a state (from the raw bytes for a ParsedState). */
export function canonicalBytes(state: StateInput): Uint8Array {
  if (isParsedState(state)) {
    const text = decodeUtf8(state.raw)
    if (text === null) throw new InvalidStateError('state JSON: not valid UTF-8')
    return encoder.encode(canonicalizeJsonText(text))
  }
  return encoder.encode(canonicalJson(state))
}

/** Hex sha256 of the canonical bytes: Pantahub's state-sha, our revision id. */
export function revisionId(state: ParsedState | Record<string, unknown>): string {
  return bytesToHex(sha256(canonicalBytes(state)))
}

export { compareKeys }
