/**
 * Which team peer holds which missing object, at which size. The sizes come
 * from the peers' `have` answers and are checked before anything is planned
 * (issue #15): a size is a promise of that many bytes to allocate ranges for
 * and write to disk, so a claim must be possible for that object, under
 * ObjectsLimits.maxObjectBytes, and within what the same peer lists for the
 * whole revision. A peer that makes an impossible claim is not used for any
 * object of the pull. Among the valid claims the majority wins; a tie goes to
 * the smaller size (the cheaper one to disprove by hashing).
 */
import { ObjectsLimits } from '../objects/protocol.js'
import { formatBytes } from '../../../shared/units.js'

/** sha256 of zero bytes: the one object whose size is 0. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

export interface WantedObject {
  sha: string
  size: number
  holders: Set<string>
}

/** A claim we did not believe, and why. */
export interface RefusedClaim {
  peer: string
  sha: string
  size: number
  why: string
  /** This claim is the impossible one (else the peer made another). */
  direct: boolean
}

export interface HaveAnswer {
  peer: string
  have: ReadonlyMap<string, number>
  /** What the peer lists as the revision's bytes (sum of its objects' sizes), when it lists the revision. */
  listedBytes?: number
}

/** Why `size` cannot be the size of object `sha`, or undefined when it can. */
export function impossibleSize(sha: string, size: number, listedBytes?: number): string | undefined {
  if (!Number.isSafeInteger(size) || size < 0) return `${size} is not a size`
  if (size === 0 && sha !== EMPTY_SHA256) return 'an object of 0 bytes can only be the empty one (sha256 e3b0c442...)'
  if (size !== 0 && sha === EMPTY_SHA256) return `the empty object has 0 bytes, not ${size}`
  if (size > ObjectsLimits.maxObjectBytes) return `${formatBytes(size)} is over the limit of ${formatBytes(ObjectsLimits.maxObjectBytes)} per object`
  if (listedBytes !== undefined && size > listedBytes)
    return `${formatBytes(size)} is more than the ${formatBytes(listedBytes)} the peer lists for the whole revision`
  return undefined
}

/** The holders and size of each of `shas`, from the valid claims only; `refused` says which claims were not believed. */
export function chooseHolders(shas: readonly string[], answers: readonly HaveAnswer[]): { wanted: WantedObject[]; refused: RefusedClaim[] } {
  const refused: RefusedClaim[] = []
  const valid: Array<{ peer: string; have: ReadonlyMap<string, number> }> = []
  for (const a of answers) {
    let bad: RefusedClaim | undefined
    let sum = 0
    for (const [sha, size] of a.have) {
      const why = impossibleSize(sha, size, a.listedBytes)
      if (why !== undefined) {
        bad = { peer: a.peer, sha, size, why, direct: true }
        break
      }
      sum += size
    }
    if (bad === undefined && a.listedBytes !== undefined && sum > a.listedBytes) {
      const [sha, size] = [...a.have][0]
      bad = {
        peer: a.peer,
        sha,
        size,
        why: `its sizes add up to ${formatBytes(sum)}, more than the ${formatBytes(a.listedBytes)} it lists for the whole revision`,
        direct: true,
      }
    }
    if (bad === undefined) {
      valid.push(a)
      continue
    }
    // One impossible claim discredits the others of that peer.
    refused.push(bad)
    for (const [sha, size] of a.have)
      if (sha !== bad.sha)
        refused.push({ peer: a.peer, sha, size, why: `it claims ${formatBytes(bad.size)} for object ${bad.sha.slice(0, 12)}: ${bad.why}`, direct: false })
  }
  const wanted = shas.map(sha => {
    const bySize = new Map<number, string[]>()
    for (const a of valid) {
      const s = a.have.get(sha)
      if (s !== undefined) bySize.set(s, [...(bySize.get(s) ?? []), a.peer])
    }
    const best = [...bySize.entries()].sort((x, y) => y[1].length - x[1].length || x[0] - y[0])[0]
    return { sha, size: best?.[0] ?? 0, holders: new Set(best?.[1] ?? []) }
  })
  return { wanted, refused }
}
