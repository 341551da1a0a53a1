/**
 * The composition rules of Pantavisor's pvtx (pvtx/src/pvtx_state.c),
 * rewritten from their behaviour:
 *
 * - A signature `_sigs/<x>.json` defines a part by the globs of its protected
 *   header: every include and exclude glob, cut at its first `*`, is a key
 *   prefix (`awconnect/**` -> `awconnect/`).
 * - The patterns of a name `P` are `P` itself plus those of the first
 *   signature (in state order) whose name after `_sigs/` starts with `P`
 *   once a leading `_config/` or `_sigs/` is dropped from `P`. So `awconnect`,
 *   `_config/awconnect` and `_sigs/awconnect.json` all name the awconnect part.
 * - Removing `P` drops every key that one of P's patterns prefixes, unless
 *   more patterns of all the state's signatures prefix it than P's do: a key
 *   another signature also claims stays.
 * - Adding a package removes, for each of its keys, what removing that key
 *   would remove (a package's signature thereby takes the whole part it
 *   signs in the base away), then merges the package's members in, both
 *   sides walked in order and the smaller key written first.
 *
 * Where upstream would write a key twice (the base's copy is kept because
 * two signatures claim it, and the package brings it again) only the
 * package's copy is written: what any JSON reader of upstream's output (jq,
 * the device) ends up with, without the duplicate.
 */
import { BadInputError } from '../errors.js'
import { compareKeys } from './keys.js'
import type { StateDoc, StateMember } from './compose-doc.js'
import { parseJsonText } from './rawjson.js'
import { base64UrlToText } from './b64.js'

const SIGS = '_sigs/'
const CONFIG = '_config/'

function headerGlobs(header: unknown, out: string[]): void {
  if (Array.isArray(header)) {
    for (const v of header) headerGlobs(v, out)
    return
  }
  if (header === null || typeof header !== 'object') return
  for (const [k, v] of Object.entries(header as Record<string, unknown>)) {
    if ((k === 'include' || k === 'exclude') && Array.isArray(v)) {
      for (const g of v) if (typeof g === 'string') out.push(g)
    } else headerGlobs(v, out)
  }
}

/**
 * The key prefixes a signature member claims (its include and exclude globs
 * cut at the first `*`). A value that is not a signature claims nothing; a
 * `protected` that is not base64url throws (pvtx: "couldn't decrypt ...").
 */
export function signaturePrefixes(m: StateMember): string[] {
  if (m.type !== 'object') return []
  let sig: unknown
  try {
    sig = parseJsonText(m.raw)
  } catch {
    return []
  }
  const prot = (sig as Record<string, unknown>).protected
  if (typeof prot !== 'string') return []
  const text = base64UrlToText(prot)
  if (text === null)
    throw new BadInputError(`${m.key}: the signature's "protected" header is not base64url-encoded UTF-8; cannot tell which keys it signs`, { key: m.key })
  let header: unknown
  try {
    header = parseJsonText(text)
  } catch {
    return []
  }
  const globs: string[] = []
  headerGlobs(header, globs)
  return globs.map(g => {
    const i = g.indexOf('*')
    return i === -1 ? g : g.slice(0, i)
  })
}

/** Signature prefixes of every `_sigs/` member of a document, computed once per document. */
export class SignatureIndex {
  private readonly cache = new Map<StateMember, string[]>()
  private allCache: string[] | undefined
  constructor(readonly doc: StateDoc) {}

  of(m: StateMember): string[] {
    let p = this.cache.get(m)
    if (p === undefined) {
      p = signaturePrefixes(m)
      this.cache.set(m, p)
    }
    return p
  }

  /** The prefixes of all signatures together (a prefix two signatures share counts twice). */
  all(): string[] {
    if (this.allCache === undefined) {
      this.allCache = this.doc.members.filter(m => m.rawKey.startsWith(SIGS)).flatMap(m => this.of(m))
    }
    return this.allCache
  }

  /** The signature member that defines the part `name`, as pvtx finds it (see the module comment). */
  signatureFor(name: string): StateMember | undefined {
    let p = name
    if (p.startsWith(CONFIG)) p = p.slice(CONFIG.length)
    else if (p.startsWith(SIGS)) p = p.slice(SIGS.length)
    return this.doc.members.find(m => m.rawKey.length > SIGS.length && m.rawKey.startsWith(SIGS) && m.rawKey.slice(SIGS.length).startsWith(p))
  }

  /** `name` and the prefixes of the signature that defines its part. */
  patternsOf(name: string): string[] {
    const sig = this.signatureFor(name)
    return sig === undefined ? [name] : [name, ...this.of(sig)]
  }
}

function prefixCount(prefixes: readonly string[], key: string): number {
  let n = 0
  for (const p of prefixes) if (key.startsWith(p)) n++
  return n
}

/** Indexes of the members that removing `name` drops. */
export function membersToRemove(idx: SignatureIndex, name: string): Set<number> {
  const mine = idx.patternsOf(name)
  const all = idx.all()
  const out = new Set<number>()
  idx.doc.members.forEach((m, i) => {
    const n = prefixCount(mine, m.rawKey)
    if (n < 1) return
    if (prefixCount(all, m.rawKey) > n) return
    out.add(i)
  })
  return out
}

/** Both sides in order, the smaller raw key first; on a tie the base's member goes first. */
export function mergeMembers(base: readonly StateMember[], pkg: readonly StateMember[]): StateMember[] {
  const out: StateMember[] = []
  let i = 0
  let j = 0
  while (i < pkg.length || j < base.length) {
    if (i < pkg.length && (j >= base.length || compareKeys(pkg[i].rawKey, base[j].rawKey) < 0)) out.push(pkg[i++])
    else out.push(base[j++])
  }
  return out
}

export interface AddOutcome {
  members: StateMember[]
  removed: StateMember[]
}

/** pvtx add: the package's members replace what their names take away in the base. */
export function addPackage(base: StateDoc, pkg: StateDoc): AddOutcome {
  const idx = new SignatureIndex(base)
  const drop = new Set<number>()
  for (const m of pkg.members) for (const i of membersToRemove(idx, m.rawKey)) drop.add(i)
  const pkgKeys = new Set(pkg.members.map(m => m.rawKey))
  const kept: StateMember[] = []
  const removed: StateMember[] = []
  base.members.forEach((m, i) => {
    if (drop.has(i) || pkgKeys.has(m.rawKey)) removed.push(m)
    else kept.push(m)
  })
  return { members: mergeMembers(kept, pkg.members), removed }
}

export interface RemoveOutcome {
  members: StateMember[]
  removed: StateMember[]
}

/** pvtx remove: drop the part `name` (nothing removed: the same members). */
export function removePart(doc: StateDoc, name: string): RemoveOutcome {
  const drop = membersToRemove(new SignatureIndex(doc), name)
  return {
    members: doc.members.filter((_, i) => !drop.has(i)),
    removed: doc.members.filter((_, i) => drop.has(i)),
  }
}
