/** `export --parts`: keep some parts of a state. */
import { BadInputError } from '../errors.js'
import { sortKeys } from './canonical.js'
import { decodeUtf8, parseJsonText } from './rawjson.js'
import { isParsedState, stateJson, type StateInput } from './types.js'

export interface FilterPartsOptions {
  /**
   * Also keep `_config/<part>/...` and `_sigs/<part>.json` for a part that is a
   * top-level directory (default true), so that a container keeps its
   * configuration and its signature stays verifiable. pvr's own `export
   * --parts` does not add them (pass false for its exact behaviour; with pvr
   * one lists them as parts).
   */
  companions?: boolean
}

function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true })
  else o[k] = v
}

function exactJson(state: StateInput): Record<string, unknown> {
  if (!isParsedState(state)) return stateJson(state)
  const text = decodeUtf8(state.raw)
  return text === null ? state.json : (parseJsonText(text, { rawNumbers: true, goStrings: true }) as Record<string, unknown>)
}

function matches(key: string, part: string): boolean {
  if (key === part) return true
  return key.startsWith(part.endsWith('/') ? part : part + '/')
}

/**
 * Keep `#spec`, the keys equal to a part or under `part/` (pvr semantics: a
 * part is a top-level directory like `bsp` or `awconnect`, a deeper directory,
 * or a full key) and, unless disabled, each directory part's `_config/<part>/`
 * keys and `_sigs/<part>.json`. Throws BadInputError if a part matches nothing.
 * No parts: the whole state.
 *
 * From a ParsedState the values come from the raw bytes with numbers kept as
 * written (JsonNumber), so that `canonicalBytes(filterParts(...))` is exactly
 * what pvr writes, big integers included.
 */
export function filterParts(state: StateInput, parts: string[], opts: FilterPartsOptions = {}): Record<string, unknown> {
  const json = exactJson(state)
  const keys = sortKeys(Object.keys(json))
  const keep = new Set<string>()
  for (const raw of parts) {
    if (typeof raw !== 'string' || raw === '' || raw === '/') throw new BadInputError(`--parts: ${JSON.stringify(raw)} is not a part name`)
    let hit = false
    for (const k of keys) {
      if (k !== '#spec' && matches(k, raw)) {
        keep.add(k)
        hit = true
      }
    }
    if (!hit) throw new BadInputError(`--parts: ${JSON.stringify(raw)} matches no key of the state`, { part: raw })
    const dir = raw.replace(/\/+$/, '')
    if (opts.companions !== false && dir !== '' && !dir.includes('/') && !dir.startsWith('_')) {
      for (const k of keys) if (k.startsWith(`_config/${dir}/`) || k === `_sigs/${dir}.json`) keep.add(k)
    }
  }
  const out: Record<string, unknown> = {}
  for (const k of keys) if (k === '#spec' || parts.length === 0 || keep.has(k)) setKey(out, k, json[k])
  return out
}
