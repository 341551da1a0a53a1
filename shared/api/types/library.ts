/** The library: revisions, their signatures, `show` and `diff` (shared/library/views.ts builds those two), imports and exports. */

export type SignatureState = 'unsigned' | 'valid' | 'warning' | 'untrusted' | 'invalid'

export interface SignatureStatus {
  state: SignatureState
  /** One line: "signed by pv-developer-01 (Pantavisor Dev CA), all keys covered", "unsigned", "INVALID: ...". */
  summary: string
}

/** A revision as the library knows it (main/store's RevisionInfo). */
export interface RevisionRecord {
  id: string
  /** The most recent name, or the short id when it has none. */
  name: string
  names: string[]
  spec: string
  source: string
  importedAt: number
  complete: boolean
  /** Unique objects the revision references. */
  objects: number
  /** Unique objects not in the store. */
  missing: number
  /** Sum of the known sizes of its unique objects. */
  bytes: number
}

export interface RevisionSummary extends RevisionRecord {
  signature: SignatureStatus
}

export interface LibraryStats {
  revisions: number
  objects: number
  /** Bytes on disk (each object once). */
  storedBytes: number
  /** Sum of the revisions' sizes (what it would take without deduplication). */
  logicalBytes: number
}

export interface LibraryList {
  revisions: RevisionSummary[]
  stats: LibraryStats
}

export interface ObjectDetail {
  key: string
  sha: string
  /** The same name as a CIDv1 (raw, sha2-256), as team peers ask for it. */
  cid: string
  size: number | null
  present: boolean
  /** How many other revisions in the library reference this object. */
  sharedWith: number
}

export interface PartDetail {
  /** "bsp", a container name, or "other". */
  name: string
  kind: 'bsp' | 'container' | 'other'
  /** Sum of the known sizes of its unique objects. */
  bytes: number
  /** Of those, bytes of objects other revisions also use. */
  sharedBytes: number
  objects: ObjectDetail[]
  group?: string
  statusGoal?: string
}

export interface SignatureDetail {
  key: string
  ok: boolean
  /** valid; untrusted (its CA or key is not trusted here); invalid (changed after signing, or malformed). */
  verdict: 'valid' | 'untrusted' | 'invalid'
  /** Leaf certificate CN or pinned key name, with its trust anchor. */
  signer: string | null
  alg: string | null
  message: string | null
  /** Keys the signature covers. */
  covers: string[]
  notes: string[]
}

/** The full verdict, as `fieldsync verify-sig` gives it. */
export interface SignatureReportView {
  policy: string
  pass: boolean
  reason: string | null
  signatures: SignatureDetail[]
  uncovered: string[]
  excluded: string[]
  warnings: string[]
}

export interface RevisionDetail {
  revision: RevisionSummary
  /** null when signature checks are not available. */
  signatureReport: SignatureReportView | null
  parts: PartDetail[]
  /** _sigs/*.json keys. */
  signatures: string[]
  keys: number
  sharedBytes: number
}

export interface DiffEntry {
  key: string
  /** Size of the object the key names (in b for added/changed, in a for removed), when it names one. */
  bytes: number | null
}

export interface RevisionDiff {
  a: { id: string; name: string }
  b: { id: string; name: string }
  added: DiffEntry[]
  removed: DiffEntry[]
  changed: DiffEntry[]
  /** Bytes of the objects b needs that a does not have: what a device running a must receive. */
  transferBytes: number
  transferObjects: number
  unknownSizes: number
}

export interface ImportResult {
  id: string
  name: string | null
  objects: number
  missing: number
  bytes: number
  newBytes: number
  existed: boolean
}

export interface ExportResult {
  file: string
  bytes: number
  objects: number
}
