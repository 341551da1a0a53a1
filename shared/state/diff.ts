/** What changes between two revisions, and what a device running one needs to move to the other. */
import { canonicalJson, sortKeys } from './canonical.js'
import { objectRefs } from './objects.js'
import { stateJson, type StateInput } from './types.js'

export interface StateDiff {
  added: string[]
  removed: string[]
  changed: string[]
  /** sum of the known sizes of the unique objects that b references and a does not */
  transferBytes: number
  /** those objects (shas), in b's key order */
  transferObjects: string[]
  /** the transfer objects whose size is unknown (not counted in transferBytes) */
  unknownSizes: string[]
}

type SizeOf = (sha: string) => number | null | undefined

function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false
  return canonicalJson(x) === canonicalJson(y)
}

/** Keys added, removed and changed going from a to b (canonical key order), and the objects to transfer. */
export function diffStates(a: StateInput, b: StateInput, sizeOf: SizeOf): StateDiff {
  const ja = stateJson(a)
  const jb = stateJson(b)
  const added: string[] = []
  const removed: string[] = []
  const changed: string[] = []
  for (const k of sortKeys(Object.keys(jb))) {
    if (!Object.hasOwn(ja, k)) added.push(k)
    else if (!sameValue(ja[k], jb[k])) changed.push(k)
  }
  for (const k of sortKeys(Object.keys(ja))) if (!Object.hasOwn(jb, k)) removed.push(k)
  const have = new Set(objectRefs(ja).map(r => r.sha))
  const transferObjects: string[] = []
  const unknownSizes: string[] = []
  let transferBytes = 0
  for (const { sha } of objectRefs(jb)) {
    if (have.has(sha)) continue
    have.add(sha)
    transferObjects.push(sha)
    const size = sizeOf(sha)
    if (typeof size === 'number' && Number.isFinite(size)) transferBytes += size
    else unknownSizes.push(sha)
  }
  return { added, removed, changed, transferBytes, transferObjects, unknownSizes }
}
