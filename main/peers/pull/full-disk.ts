/**
 * After a pull stopped on a full disk: keep the partial objects a later pull
 * can resume (their saved ranges in `peer_partials` hold bytes), remove the
 * rest, files first (that frees room for the index to record it).
 */
import { rm, stat } from 'node:fs/promises'
import type { Library } from '../../store/library.js'
import type { PartialStore } from './partials.js'
import { formatBytes } from '../../../shared/units.js'

/** The pull's error after a full disk: E_NO_SPACE naming the library, with what was kept to resume. */
export async function fullDiskError(lib: Library, partials: PartialStore, shas: readonly string[], err: unknown, id: string): Promise<unknown> {
  const k = await keepResumable(partials, shas)
  const after =
    k.kept === 0
      ? 'no partial object was kept: free some space and pull again'
      : `${k.kept} partial object${k.kept === 1 ? '' : 's'} (${formatBytes(k.bytes)}) kept in ${partials.dir} to resume: free some space and pull again (only the rest is fetched)`
  return lib.diskFull(err, `pull ${id.slice(0, 12)}`, after)
}

export async function keepResumable(partials: PartialStore, shas: readonly string[]): Promise<{ kept: number; bytes: number }> {
  let kept = 0
  let bytes = 0
  const drop: string[] = []
  for (const sha of shas) {
    let saved = 0
    try {
      saved = (partials.load(sha)?.done ?? []).reduce((n, [s, e]) => n + e - s, 0)
    } catch {
      saved = 0 /* unreadable record: nothing to resume from */
    }
    const there = await stat(partials.path(sha)).then(
      s => s.isFile(),
      () => false,
    )
    if (saved > 0 && there) {
      kept++
      bytes += saved
    } else drop.push(sha)
  }
  for (const sha of drop) await rm(partials.path(sha), { force: true })
  // The records may not go (the index's disk is the full one): a record without its file resumes from nothing.
  for (const sha of drop) await partials.remove(sha).catch(() => {})
  return { kept, bytes }
}
