/**
 * Who sent which bytes of an object, and whom that convicts. After a bad
 * hash, every piece of the failed attempt is hashed and kept with its sender
 * (`Obj.history`); the next attempt comes from one peer at a time. When an
 * attempt hashes right, its bytes are the truth: an earlier piece that
 * differs from them convicts its sender.
 */
import type { Contribution, Obj } from './fetch-state.js'
import type { PartialFile } from './partials.js'
import { subtract } from './ranges.js'

/** The sender of bytes that were already in a partial file when this pull started. */
export const RESUMED = '(resumed)'

/**
 * Record the pieces of a failed attempt in `o.history` (hashed), bytes of a
 * resumed file under RESUMED; returns the peers that sent them.
 */
export async function recordFailedAttempt(o: Obj, file: PartialFile): Promise<Set<string>> {
  const known = o.contributions
  const pieces: Contribution[] = [...known]
  const covered = known.map(c => c.range)
  for (const r of file.done) {
    // Any done range not covered by this run's contributions came from a resumed file.
    const uncovered = covered.length === 0 ? [r] : subtract(r, covered)
    for (const u of uncovered) pieces.push({ range: u, peer: RESUMED })
  }
  const digests = await file.pieceDigests(pieces.map(p => p.range))
  pieces.forEach((p, i) => o.history.push({ range: p.range, peer: p.peer, digest: digests[i] }))
  return new Set(pieces.map(p => p.peer))
}

/** With the true bytes in `file`, the peers whose earlier pieces differ from them. */
export async function liarsAgainstTruth(o: Obj, file: PartialFile): Promise<string[]> {
  if (o.history.length === 0) return []
  const truth = await file.pieceDigests(o.history.map(h => h.range))
  return [...new Set(o.history.filter((h, i) => h.digest !== truth[i] && h.peer !== RESUMED).map(h => h.peer))]
}

/**
 * After a bad hash: the least suspect usable peer not tried yet sends the
 * whole object (`o.singleSource`); false when none is left.
 */
export function pickSingleSource(o: Obj, usable: (peer: string) => boolean): boolean {
  if (o.singleSource !== undefined) o.tried.add(o.singleSource)
  const candidates = [...o.holders].filter(h => usable(h) && !o.tried.has(h))
  if (candidates.length === 0) {
    o.singleSource = undefined
    return false
  }
  const sent = new Map<string, number>()
  for (const h of o.history) sent.set(h.peer, (sent.get(h.peer) ?? 0) + h.range[1] - h.range[0])
  candidates.sort((a, b) => (sent.get(a) ?? 0) - (sent.get(b) ?? 0))
  o.singleSource = candidates[0]
  return true
}
