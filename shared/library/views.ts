/**
 * The models of `show` and `diff`: built here, once, from what the library
 * knows; the UI's handlers return them as they are (`library.show`,
 * `library.diff`), the CLI prints them as text (`main/cli/views.ts`) or, with
 * `--json`, as they are.
 */
import type {
  DiffEntry,
  ObjectDetail,
  PartDetail,
  RevisionDetail,
  RevisionDiff,
  RevisionRecord,
  RevisionSummary,
  SignatureReportView,
  SignatureStatus,
} from '../api/types.js'
import { cidOf } from '../ids.js'
import { diffStates, isSha, summarizeState, type ObjectInfo, type ParsedState } from '../state/index.js'

/** The library queries the models need (main/store's Library has them). */
export interface LibraryReader {
  state: (id: string) => ParsedState
  objectsOf: (id: string) => Array<{ key: string; sha: string; size: number | null; present: boolean }>
  objectSize: (sha: string) => number | null
  /** Ids of the revisions that reference an object. */
  referencedBy: (sha: string) => string[]
}

/** A revision as lists and `show` give it: what the library records, and its signature status. */
export function revisionSummary(r: RevisionRecord, signature: SignatureStatus): RevisionSummary {
  return {
    id: r.id,
    name: r.name,
    names: r.names,
    spec: r.spec,
    source: r.source,
    importedAt: r.importedAt,
    complete: r.complete,
    objects: r.objects,
    missing: r.missing,
    bytes: r.bytes,
    signature,
  }
}

/** What `show` says of a revision: its parts, their objects, sizes, what other revisions share, and its signatures. */
export function revisionDetail(library: LibraryReader, revision: RevisionSummary, signatureReport: SignatureReportView | null): RevisionDetail {
  const state = library.state(revision.id)
  const objects = library.objectsOf(revision.id)
  const bySha = new Map(objects.map(o => [o.sha, o]))
  const sum = summarizeState(state, sha => bySha.get(sha)?.size ?? null)
  const sharedWith = new Map<string, number>()
  for (const sha of bySha.keys()) sharedWith.set(sha, Math.max(0, library.referencedBy(sha).length - 1))
  const detail = (o: ObjectInfo): ObjectDetail => ({
    key: o.key,
    sha: o.sha,
    cid: cidOf(o.sha),
    size: o.size,
    present: bySha.get(o.sha)?.present ?? false,
    sharedWith: sharedWith.get(o.sha) ?? 0,
  })
  const uniqueBytes = (list: ObjectInfo[], which: (sha: string) => boolean): number => {
    const seen = new Set<string>()
    let n = 0
    for (const o of list) {
      if (seen.has(o.sha)) continue
      seen.add(o.sha)
      if (which(o.sha)) n += o.size ?? 0
    }
    return n
  }
  const sharedBytesOf = (list: ObjectInfo[]): number => uniqueBytes(list, sha => (sharedWith.get(sha) ?? 0) > 0)
  const parts: PartDetail[] = []
  if (sum.bsp !== null)
    parts.push({ name: 'bsp', kind: 'bsp', bytes: sum.bsp.bytes, sharedBytes: sharedBytesOf(sum.bsp.objects), objects: sum.bsp.objects.map(detail) })
  for (const c of sum.containers) {
    const p: PartDetail = { name: c.name, kind: 'container', bytes: c.bytes, sharedBytes: sharedBytesOf(c.objects), objects: c.objects.map(detail) }
    if (c.group !== undefined) p.group = c.group
    if (c.status_goal !== undefined) p.statusGoal = c.status_goal
    parts.push(p)
  }
  if (sum.other.length > 0) {
    parts.push({
      name: 'other',
      kind: 'other',
      bytes: uniqueBytes(sum.other, () => true),
      sharedBytes: sharedBytesOf(sum.other),
      objects: sum.other.map(detail),
    })
  }
  return { revision, signatureReport, parts, signatures: sum.signatures, keys: state.keys.length, sharedBytes: sharedBytesOf(sum.objects) }
}

/** What `diff` says: the keys added, removed and changed from a to b, and what a device running a needs for b. */
export function revisionDiff(library: LibraryReader, a: { id: string; name: string }, b: { id: string; name: string }): RevisionDiff {
  const sa = library.state(a.id)
  const sb = library.state(b.id)
  const diff = diffStates(sa, sb, sha => library.objectSize(sha))
  const entry =
    (json: Record<string, unknown>) =>
    (key: string): DiffEntry => {
      const v = json[key]
      return { key, bytes: isSha(v) ? library.objectSize(v) : null }
    }
  return {
    a: { id: a.id, name: a.name },
    b: { id: b.id, name: b.name },
    added: diff.added.map(entry(sb.json)),
    removed: diff.removed.map(entry(sa.json)),
    changed: diff.changed.map(entry(sb.json)),
    transferBytes: diff.transferBytes,
    transferObjects: diff.transferObjects.length,
    unknownSizes: diff.unknownSizes.length,
  }
}
