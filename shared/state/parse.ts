/** Reading a state JSON from bytes: just enough to have a usable state (validation is validate.ts). */
import { InvalidStateError, StateTooLargeError } from '../errors.js'
import { JsonSyntaxError, decodeUtf8, firstInvalidUtf8, parseJsonText, rawMembersOf, type RawMember } from './rawjson.js'
import type { ParsedState } from './types.js'

export const STATE_MAX_BYTES = 16 * 1024 * 1024

export const SPEC_SYSTEM1 = 'pantavisor-service-system@1'
export const SPEC_MULTI1 = 'pantavisor-multi-platform@1'
export const SPEC_EMBED1 = 'pantavisor-service-embed@1'

/** The #spec values a Pantavisor device parses. */
export const KNOWN_SPECS: readonly string[] = Object.freeze([SPEC_SYSTEM1, SPEC_MULTI1])

/** Why a #spec value is not usable, or null when it is. */
export function specProblem(spec: unknown): string | null {
  if (spec === undefined) return 'no "#spec" key'
  if (typeof spec !== 'string') return `"#spec" must be a string, got ${describeValue(spec)}`
  if (KNOWN_SPECS.includes(spec)) return null
  if (spec === SPEC_EMBED1) return `"#spec" ${spec} is accepted by Pantahub but rejected by Pantavisor devices (use ${SPEC_SYSTEM1})`
  return `unknown "#spec" ${JSON.stringify(spec)} (known: ${KNOWN_SPECS.join(', ')})`
}

/** Short description of a JSON value for messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  if (typeof v === 'string') return v.length > 80 ? `the string ${JSON.stringify(v.slice(0, 77) + '...')}` : `the string ${JSON.stringify(v)}`
  return `${typeof v} ${String(v)}`
}

function decodeOrThrow(raw: Uint8Array, source: string): string {
  const text = decodeUtf8(raw)
  if (text !== null) return text
  const at = firstInvalidUtf8(raw)
  throw new InvalidStateError(`${source}: not valid UTF-8 (bad byte 0x${(raw[at] ?? 0).toString(16).padStart(2, '0')} at offset ${at})`, { offset: at })
}

function syntaxError(source: string, err: unknown): never {
  if (err instanceof JsonSyntaxError) {
    throw new InvalidStateError(`${source}: not valid JSON: ${err.message}`, { line: err.line, column: err.column }, { cause: err })
  }
  throw err
}

/**
 * Parse state JSON bytes. Throws StateTooLargeError (over STATE_MAX_BYTES) or
 * InvalidStateError (not UTF-8, not JSON, top level not an object, duplicate
 * top-level key, no or unknown #spec); messages start with `source`.
 */
export function parseState(raw: Uint8Array, source: string): ParsedState {
  if (raw.byteLength > STATE_MAX_BYTES) {
    throw new StateTooLargeError(`${source}: state JSON is ${raw.byteLength} bytes, over the limit of ${STATE_MAX_BYTES} bytes`, {
      size: raw.byteLength,
      max: STATE_MAX_BYTES,
    })
  }
  const text = decodeOrThrow(raw, source)
  if (text.charCodeAt(0) === 0xfeff) throw new InvalidStateError(`${source}: not valid JSON: starts with a byte order mark (U+FEFF)`)
  const keys: string[] = []
  const seen = new Set<string>()
  let duplicate: string | undefined
  let json: unknown
  try {
    json = parseJsonText(text, {
      onTopMember: key => {
        if (seen.has(key)) duplicate ??= key
        else {
          seen.add(key)
          keys.push(key)
        }
      },
    })
  } catch (err) {
    syntaxError(source, err)
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidStateError(`${source}: the top level must be a JSON object, got ${describeValue(json)}`)
  }
  if (duplicate !== undefined) throw new InvalidStateError(`${source}: key ${JSON.stringify(duplicate)} appears more than once`, { key: duplicate })
  const obj = json as Record<string, unknown>
  const problem = specProblem(obj['#spec'])
  if (problem !== null) throw new InvalidStateError(`${source}: ${problem}`, { key: '#spec' })
  return { raw, json: obj, spec: obj['#spec'] as string, keys }
}

/**
 * Top-level members of a state JSON with the exact raw text of each value, in
 * raw order (what signatures are computed over). Throws InvalidStateError.
 */
export function rawMembers(raw: Uint8Array | string, source = 'state JSON'): RawMember[] {
  const text = typeof raw === 'string' ? raw : decodeOrThrow(raw, source)
  try {
    return rawMembersOf(text)
  } catch (err) {
    if (err instanceof TypeError) throw new InvalidStateError(`${source}: ${err.message}`)
    return syntaxError(source, err)
  }
}
