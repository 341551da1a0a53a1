/** The Library's search, filter and sort (500 revisions stay one screen: pages of 50). */
import { useMemo, useState } from 'preact/hooks'
import type { RevisionSummary, SignatureState } from '../../shared/api/types.js'
import { matches, SearchBox, usePage } from '../list-tools.js'

type SortKey = 'listed' | 'imported' | 'name' | 'size'
type Status = '' | 'complete' | 'incomplete'

export interface LibraryFilter {
  query: string
  setQuery: (q: string) => void
  status: Status
  setStatus: (s: Status) => void
  sig: SignatureState | ''
  setSig: (s: SignatureState | '') => void
  sort: SortKey
  setSort: (s: SortKey) => void
  matching: number
  page: ReturnType<typeof usePage<RevisionSummary>>
}

const ORDER: Record<SortKey, (a: RevisionSummary, b: RevisionSummary) => number> = {
  listed: () => 0,
  imported: (a, b) => b.importedAt - a.importedAt,
  name: (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }),
  size: (a, b) => b.bytes - a.bytes,
}

export function useLibraryFilter(all: RevisionSummary[]): LibraryFilter {
  const [query, setQuery] = useState('')
  const [status, setStatus] = useState<Status>('')
  const [sig, setSig] = useState<SignatureState | ''>('')
  const [sort, setSort] = useState<SortKey>('listed')
  const list = useMemo(
    () =>
      all
        .filter(r => status === '' || (status === 'complete') === r.complete)
        .filter(r => sig === '' || r.signature.state === sig)
        .filter(r => matches(query, [r.name, r.id, r.source, ...r.names]))
        .sort(ORDER[sort]),
    [all, query, status, sig, sort],
  )
  const page = usePage(list, `${query}|${status}|${sig}|${sort}`)
  return { query, setQuery, status, setStatus, sig, setSig, sort, setSort, matching: list.length, page }
}

export function LibraryFilters(p: { f: LibraryFilter }) {
  const f = p.f
  return (
    <div class='filters'>
      <SearchBox id='library-search' label='Search revisions' placeholder='Search name, id, source' value={f.query} onInput={f.setQuery} />
      <label class='small' for='library-status'>
        Status
      </label>
      <select
        id='library-status'
        class='input'
        value={f.status}
        onChange={e => {
          f.setStatus((e.target as HTMLSelectElement).value as Status)
        }}
      >
        <option value=''>any</option>
        <option value='complete'>complete</option>
        <option value='incomplete'>incomplete</option>
      </select>
      <label class='small' for='library-sig'>
        Signature
      </label>
      <select
        id='library-sig'
        class='input'
        value={f.sig}
        onChange={e => {
          f.setSig((e.target as HTMLSelectElement).value as SignatureState | '')
        }}
      >
        <option value=''>any</option>
        <option value='valid'>signed</option>
        <option value='warning'>signed, with a note</option>
        <option value='untrusted'>untrusted signer</option>
        <option value='invalid'>invalid</option>
        <option value='unsigned'>unsigned</option>
      </select>
      <label class='small' for='library-sort'>
        Sort by
      </label>
      <select
        id='library-sort'
        class='input'
        value={f.sort}
        onChange={e => {
          f.setSort((e.target as HTMLSelectElement).value as SortKey)
        }}
      >
        <option value='listed'>Library order</option>
        <option value='imported'>Newest first</option>
        <option value='name'>Name</option>
        <option value='size'>Size</option>
      </select>
    </div>
  )
}
