/** Finding which revision `<rev>` means, on this laptop or on team peers. */
import { AmbiguousRevisionError, isCode, ErrorCodes, UnknownRevisionError } from '../../../shared/errors.js'
import type { Library } from '../../store/library.js'
import type { RemoteRevision } from '../catalog/protocol.js'

export interface Resolved {
  id: string
  /** A name to give it locally, if the peers had one. */
  names: string[]
  /** Peers that list it, complete ones first. */
  holders: string[]
}

/**
 * `rev` is a full id, a unique id prefix (8+ hex), or a name; a local
 * revision with that name or id wins (pulling completes it), else the peers'
 * catalogs decide, and must agree.
 */
export function resolveRevision(library: Library, rev: string, catalogs: ReadonlyMap<string, RemoteRevision[]>): Resolved {
  let id: string | undefined
  try {
    id = library.resolve(rev).id
  } catch (err) {
    if (!isCode(err, ErrorCodes.UnknownRevision)) throw err
  }
  const matches = new Map<string, RemoteRevision>()
  for (const revs of catalogs.values()) {
    for (const r of revs) {
      const hit = id !== undefined ? r.id === id : r.id === rev || r.names.includes(rev) || (/^[0-9a-f]{8,63}$/.test(rev) && r.id.startsWith(rev))
      if (hit && !matches.has(r.id)) matches.set(r.id, r)
    }
  }
  if (id === undefined) {
    if (matches.size === 0) {
      const where = catalogs.size === 0 ? 'no team peer is connected' : `none of the ${catalogs.size} team peer(s) has it`
      throw new UnknownRevisionError(`revision ${rev}: not in this library and ${where} (see \`fieldsync peers\`)`)
    }
    if (matches.size > 1) {
      const ids = [...matches.keys()]
      throw new AmbiguousRevisionError(
        `revision ${rev}: team peers have ${ids.length} different revisions by that name or prefix (${ids.map(i => i.slice(0, 12)).join(', ')}); give the id`,
        { matches: ids },
      )
    }
    id = [...matches.keys()][0]
  }
  const holders: Array<{ peer: string; complete: boolean }> = []
  const names = new Set<string>()
  for (const [peer, revs] of catalogs) {
    const r = revs.find(x => x.id === id)
    if (r === undefined) continue
    holders.push({ peer, complete: r.complete })
    for (const n of r.names) names.add(n)
  }
  holders.sort((a, b) => Number(b.complete) - Number(a.complete))
  // The name asked for comes first.
  const ordered = [...names].sort((a, b) => Number(b === rev) - Number(a === rev))
  return { id, names: ordered, holders: holders.map(h => h.peer) }
}
