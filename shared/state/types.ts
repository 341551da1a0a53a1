/** Types shared by the state modules, and the two spellings a state comes in. */

/** A state JSON as read from bytes: the bytes stay untouched, the identity is computed from them. */
export interface ParsedState {
  /** the original bytes, untouched */
  raw: Uint8Array
  /** the parsed value */
  json: Record<string, unknown>
  spec: string
  /** top-level keys in the order of the raw text */
  keys: string[]
}

/** Functions take either a ParsedState or a bare state object. */
export type StateInput = ParsedState | Record<string, unknown>

export function isParsedState(s: unknown): s is ParsedState {
  if (s === null || typeof s !== 'object') return false
  const p = s as Partial<ParsedState> & Record<string, unknown>
  return (
    p.raw instanceof Uint8Array &&
    p.json !== null &&
    typeof p.json === 'object' &&
    typeof p.spec === 'string' &&
    Array.isArray(p.keys) &&
    !Object.hasOwn(p, '#spec')
  )
}

/** The state object of either spelling. */
export function stateJson(s: StateInput): Record<string, unknown> {
  return isParsedState(s) ? s.json : s
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export const SHA256_RE = /^[0-9a-f]{64}$/

export function isSha(v: unknown): v is string {
  return typeof v === 'string' && v.length === 64 && SHA256_RE.test(v)
}
