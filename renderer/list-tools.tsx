/** Big lists that stay usable: a search box, and pages of a fixed size (500 revisions or 200 devices never make one long page). */
import { useEffect, useState } from 'preact/hooks'
import { Button } from './ui.js'

export const PAGE_SIZE = 50

/** True when every word of `query` is in one of `fields` (case-insensitive). */
export function matches(query: string, fields: Array<string | null | undefined>): boolean {
  const words = query
    .toLowerCase()
    .split(/\s+/)
    .filter(w => w !== '')
  if (words.length === 0) return true
  const hay = fields
    .filter((f): f is string => typeof f === 'string')
    .join('\n')
    .toLowerCase()
  return words.every(w => hay.includes(w))
}

/** The page of `items` to show; the page resets when `resetOn` changes (a new search). */
export function usePage<T>(items: T[], resetOn: unknown): { page: number; pages: number; shown: T[]; setPage: (n: number) => void } {
  const [page, setPage] = useState(0)
  useEffect(() => {
    setPage(0)
  }, [resetOn])
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE))
  const p = Math.min(page, pages - 1)
  return { page: p, pages, shown: items.slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), setPage }
}

export function SearchBox(p: { id: string; label: string; value: string; onInput: (v: string) => void; placeholder?: string }) {
  return (
    <span class='search'>
      <label class='sr-only' for={p.id}>
        {p.label}
      </label>
      <input
        id={p.id}
        type='search'
        class='input'
        placeholder={p.placeholder ?? 'Search'}
        value={p.value}
        onInput={e => {
          p.onInput((e.target as HTMLInputElement).value)
        }}
      />
    </span>
  )
}

export function Pager(p: { page: number; pages: number; total: number; what: string; setPage: (n: number) => void }) {
  const from = p.total === 0 ? 0 : p.page * PAGE_SIZE + 1
  const to = Math.min(p.total, (p.page + 1) * PAGE_SIZE)
  return (
    <nav class='pager' aria-label={`Pages of ${p.what}`}>
      <span class='muted small' data-testid='pager-count'>
        {from}–{to} of {p.total} {p.what}
      </span>
      {p.pages > 1 && (
        <span class='toolbar'>
          <Button
            small
            disabled={p.page === 0}
            onClick={() => {
              p.setPage(p.page - 1)
            }}
            label='Previous page'
          >
            ‹ Previous
          </Button>
          <span class='small'>
            Page {p.page + 1} of {p.pages}
          </span>
          <Button
            small
            disabled={p.page >= p.pages - 1}
            onClick={() => {
              p.setPage(p.page + 1)
            }}
            label='Next page'
          >
            Next ›
          </Button>
        </span>
      )}
    </nav>
  )
}
