/**
 * The signed payload, rebuilt from the stored state exactly as signature.c
 * does it: the top-level members in raw order, each written back as
 * `"<raw key>":<raw value>` when the value starts with `{` or `[`, else as
 * `"<raw key>":"<raw token text>"` (so a number or `true` comes back quoted),
 * joined with commas inside braces. No included key at all gives `}` (a quirk
 * of get_json_files that no signer produces: such a signature never verifies).
 */
import { byteString, compileGlob, globMatches, type DeviceGlob } from './fnmatch.js'
import type { RawPair } from './jsmn.js'

export interface StateEntry extends RawPair {
  /** The key decoded for display (equal to rawKey unless it has escapes). */
  key: string
  /** Matched by an include or exclude glob of a signature the device got that far with. */
  covered: boolean
}

export function displayKey(rawKey: string): string {
  if (!rawKey.includes('\\')) return rawKey
  try {
    return JSON.parse(`"${rawKey}"`) as string
  } catch {
    return rawKey
  }
}

export function stateEntries(pairs: RawPair[]): StateEntry[] {
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
 * The state's keys sorted (as the device compares them: bytes), to find the
 * keys a glob can match at all: every key a glob matches starts with the
 * glob's literal prefix (what comes before its first `*`, `?`, `[` or `\\`),
 * so a signature over `app/**` looks at the keys under `app/` only, not at
 * every key of the state. Matching itself is unchanged (globMatches).
 */
export class KeyIndex {
  private readonly sorted: Array<{ k: string; i: number }>

  constructor(entries: readonly StateEntry[]) {
    this.sorted = entries.map((e, i) => ({ k: byteString(e.rawKey), i })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
  }

  /** Indexes (in state order) of the entries any of `globs` could match. */
  candidates(globs: readonly DeviceGlob[]): number[] {
    const out = new Set<number>()
    for (const g of globs) {
      const m = /[*?[\\]/.exec(g.pattern)
      const prefix = m === null ? g.pattern : g.pattern.slice(0, m.index)
      let lo = 0
      let hi = this.sorted.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (this.sorted[mid].k < prefix) lo = mid + 1
        else hi = mid
      }
      for (let j = lo; j < this.sorted.length && this.sorted[j].k.startsWith(prefix); j++) out.add(this.sorted[j].i)
    }
    return [...out].sort((a, b) => a - b)
  }
}

/** Glob tests one verification may spend (house rule: every count from outside has a limit). */
export interface GlobBudget {
  left: number
}

/**
 * _filter_json for the include globs then the exclude globs (an exclude wins),
 * marking entries covered as the device does (includes and excludes alike).
 * With an index, only the keys the globs could match are tested; with a
 * budget, the tests are counted and a TooCostlyError ends the selection once
 * it is spent.
 */
export function selectPayload(entries: StateEntry[], include: string[], exclude: string[], index?: KeyIndex, budget?: GlobBudget): Selection {
  const inc: DeviceGlob[] = include.map(compileGlob)
  const exc: DeviceGlob[] = exclude.map(compileGlob)
  const included: StateEntry[] = []
  const excluded: StateEntry[] = []
  const which = index === undefined ? null : index.candidates([...inc, ...exc])
  const n = which === null ? entries.length : which.length
  if (budget !== undefined) {
    budget.left -= n * (inc.length + exc.length)
    if (budget.left < 0) throw new TooCostlyError()
  }
  for (let j = 0; j < n; j++) {
    const e = entries[which === null ? j : which[j]]
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

/** The glob budget of a verification is spent (verifyStateSignatures reports it). */
export class TooCostlyError extends Error {}

export function buildPayload(included: StateEntry[]): string {
  if (included.length === 0) return '}'
  const parts = included.map(e => (e.raw[0] === '{' || e.raw[0] === '[' ? `"${e.rawKey}":${e.raw}` : `"${e.rawKey}":"${e.raw}"`))
  return '{' + parts.join(',') + '}'
}

/** _is_oem_signable: no included key lies under bsp/ (or <oem>/ when an OEM name is set). */
export function oemSignable(included: StateEntry[], oemName: string | null): boolean {
  const globs = ['bsp/**', ...(oemName !== null ? [`${oemName}/**`] : [])].map(compileGlob)
  return !included.some(e => globs.some(g => globMatches(g, e.rawKey)))
}

/** Globs whose device meaning is likely not what the signer meant (pvr matches with doublestar). */
export function globNotes(globs: string[], which: 'include' | 'exclude'): string[] {
  const notes: string[] = []
  for (const g of globs) {
    if (g === '**') notes.push(`${which} "**" matches no key on the device (it becomes an empty pattern); use "<folder>/**"`)
    else if (/\*\*/.test(g) && !(g.length > 3 && g.endsWith('/**') && !g.slice(0, -3).includes('**'))) {
      notes.push(`${which} "${g}": on the device "**" inside a pattern matches one path level only (fnmatch), unlike pvr's doublestar`)
    }
  }
  return notes
}
