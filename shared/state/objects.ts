/** Object references of a state: keys whose value is a sha256. */
import { sortKeys } from './canonical.js'
import { isSha, stateJson, type StateInput } from './types.js'

export interface ObjectRef {
  key: string
  sha: string
}

/** Every key whose value is a 64-lowercase-hex string (.json keys holding a sha included), in canonical key order. */
export function objectRefs(state: StateInput): ObjectRef[] {
  const json = stateJson(state)
  const out: ObjectRef[] = []
  for (const key of sortKeys(Object.keys(json))) {
    if (key === '#spec') continue
    const v = json[key]
    if (isSha(v)) out.push({ key, sha: v })
  }
  return out
}

/** The distinct shas of some refs, in order of first appearance. */
export function uniqueShas(refs: ObjectRef[]): string[] {
  const seen = new Set<string>()
  for (const r of refs) seen.add(r.sha)
  return [...seen]
}
