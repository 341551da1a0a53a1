/**
 * A state as pvtx handles it: its top-level members with their raw text
 * (keys and values exactly as written), read from bytes and written back in
 * pvtx's form. Signatures are checked by the device against the raw text of
 * the state, so a composition keeps every value's raw text as it came.
 */
import { InvalidStateError } from '../errors.js'
import { SPEC_SYSTEM1 } from './parse.js'
import { JsonSyntaxError, decodeUtf8, firstInvalidUtf8, parseJsonText } from './rawjson.js'
import { isParsedState, type ParsedState } from './types.js'

/** What jsmn calls a token's type, for a member's value. */
export type RawValueType = 'object' | 'array' | 'string' | 'primitive'

export interface StateMember {
  /** The key as written between its quotes (escapes kept). */
  rawKey: string
  /** The key decoded. */
  key: string
  /** The value's token text: between the quotes for a string, the whole text otherwise. */
  raw: string
  type: RawValueType
}

export interface StateDoc {
  /** Raw text of the `#spec` string, or null when the state has none. */
  spec: string | null
  /** Every member but `#spec`, in raw order. */
  members: StateMember[]
  /** The text the document was read from (or written as). */
  text: string
}

/** What compose and pvtx accept as a state: its bytes, its text, or a ParsedState (its raw bytes are used). */
export type ComposeInput = Uint8Array | string | ParsedState

/** `pvtx begin empty`: the state with nothing in it. */
export const EMPTY_STATE_TEXT = `{"#spec":"${SPEC_SYSTEM1}"}`

function typeOf(c: string): RawValueType {
  if (c === '{') return 'object'
  if (c === '[') return 'array'
  if (c === '"') return 'string'
  return 'primitive'
}

function textOf(input: ComposeInput, source: string): string {
  if (typeof input === 'string') return input
  const raw = isParsedState(input) ? input.raw : input
  const text = decodeUtf8(raw)
  if (text === null) throw new InvalidStateError(`${source}: not valid UTF-8 (bad byte at offset ${firstInvalidUtf8(raw)})`, { offset: firstInvalidUtf8(raw) })
  return text
}

/**
 * Read a state's members with their raw text. Throws InvalidStateError when it
 * is not a JSON object, holds a top-level key twice, or has a `#spec` that is
 * not a string. `#spec` may be missing (a package need not carry one).
 */
export function readStateDoc(input: ComposeInput, source: string): StateDoc {
  const text = textOf(input, source)
  const members: StateMember[] = []
  const seen = new Set<string>()
  let spec: string | null = null
  let doc: unknown
  try {
    doc = parseJsonText(text, {
      onTopMember: (key, vs, ve, ks, ke) => {
        if (seen.has(key)) throw new InvalidStateError(`${source}: key ${JSON.stringify(key)} appears more than once`, { key })
        seen.add(key)
        const type = typeOf(text[vs])
        const raw = type === 'string' ? text.slice(vs + 1, ve - 1) : text.slice(vs, ve)
        if (key === '#spec') {
          if (type !== 'string') throw new InvalidStateError(`${source}: "#spec" must be a string`, { key })
          spec = raw
          return
        }
        members.push({ rawKey: text.slice(ks, ke), key, raw, type })
      },
    })
  } catch (err) {
    if (err instanceof JsonSyntaxError)
      throw new InvalidStateError(`${source}: not valid JSON: ${err.message}`, { line: err.line, column: err.column }, { cause: err })
    throw err
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidStateError(`${source}: the top level must be a JSON object`)
  return { spec, members, text }
}

/**
 * pvtx's form of a state (pvtx_state.c write_header/write_key/write_footer):
 * `{"#spec":"<spec>","<raw key>":<raw value>,...}` with no whitespace between
 * members and every value's raw text as it came (a string re-quoted around
 * its raw content).
 */
export function writeStateDoc(spec: string | null, members: readonly StateMember[]): string {
  const parts = [`"#spec":"${spec ?? SPEC_SYSTEM1}"`]
  for (const m of members) parts.push(m.type === 'string' ? `"${m.rawKey}":"${m.raw}"` : `"${m.rawKey}":${m.raw}`)
  return `{${parts.join(',')}}`
}

/** The decoded value of a member (for reports and for the ParsedState of a result). */
export function memberValue(m: StateMember): unknown {
  return parseJsonText(m.type === 'string' ? `"${m.raw}"` : m.raw)
}
