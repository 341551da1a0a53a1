/**
 * Composition: a new full state from a base state, packages added onto it
 * and parts removed from it, with the rules of Pantavisor's own on-device
 * tool pvtx (compose-rules.ts). The engine behind `fieldsync pvtx`,
 * `fieldsync compose`, the revision page's "Add package…" / "Remove part…"
 * and installs of a package onto what a device runs. Pure: no I/O.
 *
 *   compose(base, [{ add: pkgBytes }, { remove: 'awconnect' }])
 *     -> { text, raw, state, changed, keys, parts, steps, warnings }
 *
 * Raw bytes: the result is written as pvtx writes it (`#spec` first, then the
 * members, no whitespace between them) with every value's raw text kept, so
 * that a signature still verifies on the device when what it covers is
 * unchanged. A remove that matches nothing leaves the text as it was (as
 * pvtx does); an add always rewrites it.
 */
import { BadInputError } from '../errors.js'
import { readStateDoc, writeStateDoc, type ComposeInput, type StateDoc, type StateMember } from './compose-doc.js'
import { compareKeys } from './keys.js'
import { addPackage, removePart, signaturePrefixes } from './compose-rules.js'
import { SPEC_SYSTEM1 } from './parse.js'
import { parseJsonText } from './rawjson.js'
import type { ParsedState } from './types.js'

export { EMPTY_STATE_TEXT, readStateDoc, writeStateDoc, type ComposeInput, type StateDoc, type StateMember, type RawValueType } from './compose-doc.js'
export { signaturePrefixes } from './compose-rules.js'

export type ComposeOp = { add: ComposeInput; label?: string } | { remove: string }

export interface ComposeStep {
  op: 'add' | 'remove'
  /** The package's label (or `package N`), or the part removed. */
  label: string
  /** Keys of the state before this step that it took away (replaced or dropped). */
  removedKeys: string[]
  /** Keys the package brought (add only). */
  addedKeys: string[]
  /** Whether the state's text changed. */
  changed: boolean
}

export interface KeyChanges {
  /** In the result only. */
  added: string[]
  /** In both, with other raw text. */
  replaced: string[]
  /** In the base only. */
  removed: string[]
}

export interface PartChanges extends KeyChanges {
  /** Parts an operation touched that ended up exactly as they were. */
  unchanged: string[]
}

export interface ComposeResult {
  /** The composed state's text, and its UTF-8 bytes (what a device gets and verifies). */
  text: string
  raw: Uint8Array
  /** The result as a ParsedState (its `spec` is whatever the base said, checked or not). */
  state: ParsedState
  /** False when no operation changed the base's text. */
  changed: boolean
  keys: KeyChanges
  /** Parts: a signature's name, else a container folder (`_config/<c>/` belongs to `<c>`), else the key. */
  parts: PartChanges
  steps: ComposeStep[]
  warnings: string[]
}

export interface ComposeOptions {
  /** Named in messages (default `base`). */
  baseLabel?: string
}

const SIGS = '_sigs/'

/**
 * The part a key belongs to: the first signature whose include/exclude
 * prefixes cover it (`device.json` belongs to `bsp` when bsp's signature
 * includes it), else its folder (`_sigs/<x>.json` and `_config/<x>/...` are
 * part `<x>`), else the key itself (a top-level file).
 */
export function partOfKey(rawKey: string, signatures: ReadonlyArray<{ part: string; prefixes: string[] }>): string {
  if (rawKey.startsWith(SIGS) && rawKey.endsWith('.json') && rawKey.length > SIGS.length + 5) return rawKey.slice(SIGS.length, -5)
  for (const s of signatures) if (s.prefixes.some(p => p !== '' && rawKey.startsWith(p))) return s.part
  if (rawKey.startsWith('_config/')) {
    const rest = rawKey.slice('_config/'.length)
    const i = rest.indexOf('/')
    return i > 0 ? rest.slice(0, i) : rawKey
  }
  const i = rawKey.indexOf('/')
  return i > 0 ? rawKey.slice(0, i) : rawKey
}

/** The parts of a state (see partOfKey), in key order. */
export function partsOfState(input: ComposeInput): string[] {
  const doc = readStateDoc(input, 'state')
  const sigs = signaturesOf([doc])
  return [...new Set(doc.members.map(m => partOfKey(m.rawKey, sigs)))].sort(compareKeys)
}

function signaturesOf(docs: StateDoc[]): Array<{ part: string; prefixes: string[] }> {
  const out: Array<{ part: string; prefixes: string[] }> = []
  const seen = new Set<string>()
  for (const d of docs) {
    for (const m of d.members) {
      if (!m.rawKey.startsWith(SIGS) || !m.rawKey.endsWith('.json') || seen.has(m.rawKey)) continue
      seen.add(m.rawKey)
      let prefixes: string[]
      try {
        prefixes = signaturePrefixes(m)
      } catch {
        prefixes = []
      }
      out.push({ part: m.rawKey.slice(SIGS.length, -5), prefixes })
    }
  }
  return out
}

function sameMember(a: StateMember, b: StateMember): boolean {
  return a.type === b.type && a.raw === b.raw
}

function keyChanges(base: StateDoc, result: StateDoc): KeyChanges & { same: Set<string> } {
  const before = new Map(base.members.map(m => [m.rawKey, m]))
  const after = new Map(result.members.map(m => [m.rawKey, m]))
  const out = { added: [] as string[], replaced: [] as string[], removed: [] as string[], same: new Set<string>() }
  for (const [k, m] of after) {
    const b = before.get(k)
    if (b === undefined) out.added.push(k)
    else if (!sameMember(b, m)) out.replaced.push(k)
    else out.same.add(k)
  }
  for (const k of before.keys()) if (!after.has(k)) out.removed.push(k)
  for (const l of [out.added, out.replaced, out.removed]) l.sort(compareKeys)
  return out
}

function partChanges(base: StateDoc, result: StateDoc, keys: KeyChanges & { same: Set<string> }, touched: string[]): PartChanges {
  const sigs = signaturesOf([result, base])
  const partsOf = (doc: StateDoc) => new Set(doc.members.map(m => partOfKey(m.rawKey, sigs)))
  const inBase = partsOf(base)
  const inResult = partsOf(result)
  const changed = new Set([...keys.added, ...keys.replaced, ...keys.removed].map(k => partOfKey(k, sigs)))
  const out: PartChanges = { added: [], replaced: [], removed: [], unchanged: [] }
  for (const p of inResult) if (!inBase.has(p)) out.added.push(p)
  for (const p of inBase) {
    if (!inResult.has(p)) out.removed.push(p)
    else if (changed.has(p)) out.replaced.push(p)
  }
  for (const p of new Set(touched.map(k => partOfKey(k, sigs)))) {
    if (inBase.has(p) && inResult.has(p) && !changed.has(p)) out.unchanged.push(p)
  }
  for (const l of [out.added, out.replaced, out.removed, out.unchanged]) l.sort(compareKeys)
  return out
}

function decodedKey(rawKey: string, members: StateMember[]): string {
  return members.find(m => m.rawKey === rawKey)?.key ?? rawKey
}

/**
 * Compose a new state: apply `ops` in order to `base` (bytes, text or a
 * ParsedState). Throws InvalidStateError for an input that is not a JSON
 * object (or holds a key twice), BadInputError for an empty part name or a
 * signature whose protected header cannot be decoded.
 */
export function compose(base: ComposeInput, ops: readonly ComposeOp[], opts: ComposeOptions = {}): ComposeResult {
  const baseLabel = opts.baseLabel ?? 'base'
  const first = readStateDoc(base, baseLabel)
  let doc = first
  const steps: ComposeStep[] = []
  const warnings: string[] = []
  const touched: string[] = []
  let n = 0
  for (const op of ops) {
    if ('add' in op) {
      n++
      const label = op.label ?? `package ${n}`
      const pkg = readStateDoc(op.add, label)
      if (pkg.spec !== null && doc.spec !== null && pkg.spec !== doc.spec) {
        warnings.push(
          `${label}: "#spec" is ${JSON.stringify(pkg.spec)} but the state it goes onto says ${JSON.stringify(doc.spec)}; the result keeps ${JSON.stringify(doc.spec)}`,
        )
      }
      const res = addPackage(doc, pkg)
      const text = writeStateDoc(doc.spec, res.members)
      steps.push({ op: 'add', label, removedKeys: res.removed.map(m => m.key), addedKeys: pkg.members.map(m => m.key), changed: text !== doc.text })
      touched.push(...res.removed.map(m => m.rawKey), ...pkg.members.map(m => m.rawKey))
      doc = { spec: doc.spec ?? SPEC_SYSTEM1, members: res.members, text }
    } else {
      const name = op.remove
      if (typeof name !== 'string' || name === '')
        throw new BadInputError('remove: a part name is needed (a container like "awconnect", "_config/awconnect" or "_sigs/awconnect.json")')
      const res = removePart(doc, name)
      if (res.removed.length === 0) {
        warnings.push(`remove ${JSON.stringify(name)}: no key of the state belongs to it; nothing removed`)
        steps.push({ op: 'remove', label: name, removedKeys: [], addedKeys: [], changed: false })
        continue
      }
      const text = writeStateDoc(doc.spec, res.members)
      steps.push({ op: 'remove', label: name, removedKeys: res.removed.map(m => m.key), addedKeys: [], changed: text !== doc.text })
      touched.push(...res.removed.map(m => m.rawKey))
      doc = { spec: doc.spec ?? SPEC_SYSTEM1, members: res.members, text }
    }
  }
  const raw = new TextEncoder().encode(doc.text)
  const stateKeys: string[] = []
  const json = parseJsonText(doc.text, {
    onTopMember: k => {
      stateKeys.push(k)
    },
  }) as Record<string, unknown>
  const spec = typeof json['#spec'] === 'string' ? json['#spec'] : ''
  const keys = keyChanges(first, doc)
  const parts = partChanges(first, doc, keys, touched)
  const decode = (l: string[], d: StateDoc) => l.map(k => decodedKey(k, d.members))
  return {
    text: doc.text,
    raw,
    state: { raw, json, spec, keys: stateKeys },
    changed: doc.text !== first.text,
    keys: { added: decode(keys.added, doc), replaced: decode(keys.replaced, doc), removed: decode(keys.removed, first) },
    parts,
    steps,
    warnings,
  }
}
