/**
 * The signed payload, rebuilt from the stored state exactly as signature.c
 * does it: the top-level members in raw order, each written back as
 * `"<raw key>":<raw value>` when the value starts with `{` or `[`, else as
 * `"<raw key>":"<raw token text>"` (so a number or `true` comes back quoted),
 * joined with commas inside braces. No included key at all gives `}` (a quirk
 * of get_json_files that no signer produces: such a signature never verifies).
 */
import { compileGlob, globMatches, type DeviceGlob } from './fnmatch.js'
import type { RawPair } from './jsmn.js'

export interface StateEntry extends RawPair {
  /** The key decoded for display (equal to rawKey unless it has escapes). */
  key: string
  /** Matched by an include or exclude glob of a signature the device got that far with. */
  covered: boolean
}

export function displayKey (rawKey: string): string {
  if (!rawKey.includes('\\')) return rawKey
  try {
    return JSON.parse(`"${rawKey}"`) as string
  } catch {
    return rawKey
  }
}

export function stateEntries (pairs: RawPair[]): StateEntry[] {
  return pairs.map(p => ({ ...p, key: displayKey(p.rawKey), covered: false }))
}

export interface Selection {
  /** Entries whose included flag ended true, in state order. */
  included: StateEntry[]
  /** Entries an exclude glob matched. */
  excluded: StateEntry[]
  payload: string
}

/**
 * _filter_json for the include globs then the exclude globs (an exclude wins),
 * marking entries covered as the device does (includes and excludes alike).
 */
export function selectPayload (entries: StateEntry[], include: string[], exclude: string[]): Selection {
  const inc: DeviceGlob[] = include.map(compileGlob)
  const exc: DeviceGlob[] = exclude.map(compileGlob)
  const included: StateEntry[] = []
  const excluded: StateEntry[] = []
  for (const e of entries) {
    let isIn = false
    for (const g of inc) {
      if (globMatches(g, e.rawKey)) {
        isIn = true
        e.covered = true
      }
    }
    let isOut = false
    for (const g of exc) {
      if (globMatches(g, e.rawKey)) {
        isOut = true
        e.covered = true
      }
    }
    if (isOut) excluded.push(e)
    if (isIn && !isOut) included.push(e)
  }
  return { included, excluded, payload: buildPayload(included) }
}

export function buildPayload (included: StateEntry[]): string {
  if (included.length === 0) return '}'
  const parts = included.map(e => (e.raw[0] === '{' || e.raw[0] === '[') ? `"${e.rawKey}":${e.raw}` : `"${e.rawKey}":"${e.raw}"`)
  return '{' + parts.join(',') + '}'
}

/** _is_oem_signable: no included key lies under bsp/ (or <oem>/ when an OEM name is set). */
export function oemSignable (included: StateEntry[], oemName: string | null): boolean {
  const globs = ['bsp/**', ...(oemName !== null ? [`${oemName}/**`] : [])].map(compileGlob)
  return !included.some(e => globs.some(g => globMatches(g, e.rawKey)))
}

/** Globs whose device meaning is likely not what the signer meant (pvr matches with doublestar). */
export function globNotes (globs: string[], which: 'include' | 'exclude'): string[] {
  const notes: string[] = []
  for (const g of globs) {
    if (g === '**') notes.push(`${which} "**" matches no key on the device (it becomes an empty pattern); use "<folder>/**"`)
    else if (/\*\*/.test(g) && !(g.length > 3 && g.endsWith('/**') && !g.slice(0, -3).includes('**'))) {
      notes.push(`${which} "${g}": on the device "**" inside a pattern matches one path level only (fnmatch), unlike pvr's doublestar`)
    }
  }
  return notes
}
