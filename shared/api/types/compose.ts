/** Compositions of revisions, as pvtx composes them on a device. */
import type { DiffEntry, RevisionSummary } from './library.js'

/** One composition step: add a package (a library revision) or remove a part, as pvtx does. */
export type ComposeOpRequest = { add: string } | { remove: string }

/** What a composition would give, before it is saved (`library.composePreview`). */
export interface ComposePreview {
  base: { id: string; name: string }
  packages: Array<{ id: string; name: string }>
  /** The id the result has, and the revision holding it already, if any. */
  id: string
  existing: { id: string; name: string } | null
  /** Parts: a signature's name, else a container folder, else the key. */
  parts: { added: string[]; replaced: string[]; removed: string[]; unchanged: string[] }
  keys: { added: DiffEntry[]; replaced: DiffEntry[]; removed: DiffEntry[] }
  steps: Array<{ op: 'add' | 'remove'; label: string; addedKeys: number; removedKeys: number }>
  warnings: string[]
  /** What a device's parser would say of the result (errors stop the save). */
  issues: Array<{ key: string; message: string; severity: 'error' | 'warning' }>
  objects: { count: number; missing: number; bytes: number }
  /** What a device running the base needs to move to the result. */
  transfer: { bytes: number; objects: number }
  /** The composed state JSON's size. */
  stateBytes: number
  signature: {
    policy: string
    pass: boolean
    summary: string
    reason: string | null
    /** The device's answer when it refuses the step, e.g. 422 "Secureboot: Signature validation failed". */
    device: string | null
    /** Signatures that verified where they came from and do not in the result. */
    broken: Array<{ key: string; message: string }>
  }
  /** The result's parts, for "Remove part…". */
  resultParts: string[]
}

export interface ComposeSaveResult {
  revision: RevisionSummary
  /** The library had this state already (it gained the name). */
  existed: boolean
}
