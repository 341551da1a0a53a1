/**
 * The command palette (Ctrl+K, Ctrl+Shift+P): every action of every screen,
 * filtered as the technician types (fuzzy: the letters in order), Enter
 * runs the chosen one. `?` lists the keyboard shortcuts; `g` then a letter
 * goes to a screen. The keys do nothing while the focus is in a text field
 * or a dialog is open (except the palette's own).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { go } from './hooks.js'
import { closeDialog, Dialog, dialogClosed } from './ui.js'

export interface Action {
  id: string
  title: string
  /** Where it belongs: Go to, Library, Peers, Devices, Transfers, Trust, Display, Help. */
  group: string
  /** A key sequence that does the same, shown beside it. */
  keys?: string
  run: () => void
}

/** `g` then one of these goes to the screen. */
export const GO_KEYS: ReadonlyArray<[string, string, string]> = [
  ['l', 'library', 'Library'],
  ['p', 'peers', 'Peers'],
  ['d', 'devices', 'Devices'],
  ['t', 'transfers', 'Transfers'],
  ['u', 'usb', 'USB'],
  ['r', 'trust', 'Trust'],
]

export interface Match {
  score: number
  hits: number[]
}

/**
 * Fuzzy match: every character of `query` appears in `text` in order (case
 * and spaces in the query ignored). Letters at the start of a word and runs
 * of adjacent letters score higher; null when it does not match.
 */
export function fuzzy(query: string, text: string): Match | null {
  const q = query.toLowerCase().replace(/\s+/g, '')
  if (q === '') return { score: 0, hits: [] }
  const t = text.toLowerCase()
  const hits: number[] = []
  let score = 0
  let from = 0
  for (const ch of q) {
    // Prefer the next occurrence at a word start, else the next one at all.
    let at = -1
    for (let i = t.indexOf(ch, from); i >= 0; i = t.indexOf(ch, i + 1)) {
      if (at < 0) at = i
      if (i === 0 || /[\s\-_./:(]/.test(t[i - 1])) {
        at = i
        break
      }
    }
    if (at < 0) return null
    const prev = hits[hits.length - 1]
    score += (at === 0 || /[\s\-_./:(]/.test(t[at - 1]) ? 8 : 1) + (prev !== undefined && at === prev + 1 ? 5 : 0) - Math.min(3, at - from)
    hits.push(at)
    from = at + 1
  }
  return { score, hits }
}

function filterActions(actions: Action[], query: string): Array<{ a: Action; m: Match }> {
  const out: Array<{ a: Action; m: Match; i: number }> = []
  actions.forEach((a, i) => {
    const m =
      fuzzy(query, a.title) ??
      (() => {
        const g = fuzzy(query, `${a.group} ${a.title}`)
        return g === null ? null : { score: g.score - 10, hits: [] }
      })()
    if (m !== null) out.push({ a, m, i })
  })
  if (query.trim() !== '') out.sort((x, y) => y.m.score - x.m.score || x.i - y.i)
  return out
}

function Highlighted(p: { text: string; hits: number[] }) {
  if (p.hits.length === 0) return <>{p.text}</>
  const set = new Set(p.hits)
  return <>{[...p.text].map((c, i) => (set.has(i) ? <mark key={i}>{c}</mark> : c))}</>
}

export function Palette(p: { open: boolean; onClose: () => void; actions: Action[] }) {
  const ref = useRef<HTMLDialogElement>(null)
  const input = useRef<HTMLInputElement>(null)
  const listRef = useRef<HTMLUListElement>(null)
  const opener = useRef<HTMLElement | null>(null)
  const own = useRef(0)
  const [query, setQuery] = useState('')
  const [sel, setSel] = useState(0)
  const shown = useMemo(() => filterActions(p.actions, query), [p.actions, query])

  useEffect(() => {
    const d = ref.current
    if (d === null) return
    if (p.open && !d.open) {
      opener.current = document.activeElement as HTMLElement | null
      setQuery('')
      setSel(0)
      d.showModal()
      input.current?.focus()
    }
    if (!p.open && d.open) {
      closeDialog(d, own)
      // Focus goes back where it was, unless the action moved it (a dialog, a field it focused).
      const back = opener.current
      opener.current = null
      requestAnimationFrame(() => {
        if (back !== null && back.isConnected && (document.activeElement === document.body || document.activeElement === null)) back.focus()
      })
    }
  }, [p.open])
  useEffect(() => {
    listRef.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' })
  }, [sel, shown])

  const run = (a: Action | undefined) => {
    if (a === undefined) return
    p.onClose()
    a.run()
  }
  const onKey = (e: KeyboardEvent) => {
    const n = shown.length
    if (e.key === 'ArrowDown') {
      e.preventDefault()
      setSel(s => (n === 0 ? 0 : (s + 1) % n))
    } else if (e.key === 'ArrowUp') {
      e.preventDefault()
      setSel(s => (n === 0 ? 0 : (s - 1 + n) % n))
    } else if (e.key === 'Home' && e.ctrlKey) {
      e.preventDefault()
      setSel(0)
    } else if (e.key === 'End' && e.ctrlKey) {
      e.preventDefault()
      setSel(Math.max(0, n - 1))
    } else if (e.key === 'Enter') {
      e.preventDefault()
      run(shown[sel]?.a)
    }
  }

  return (
    <dialog ref={ref} class='dialog palette' aria-label='Command palette' onClose={dialogClosed(own, p.onClose)} onCancel={p.onClose}>
      {p.open && (
        <div class='dialog-inner'>
          <input
            ref={input}
            class='input palette-input'
            type='text'
            role='combobox'
            aria-expanded='true'
            aria-controls='palette-list'
            aria-autocomplete='list'
            aria-label='Type a command'
            placeholder='Type a command: import, export, pull, install, trust…'
            spellcheck={false}
            aria-activedescendant={shown[sel] !== undefined ? `palette-${shown[sel].a.id}` : undefined}
            value={query}
            onInput={e => {
              // The choice goes back to the first match with the keystroke itself, not in an effect
              // after the next paint, which would undo an arrow key pressed straight after typing.
              setQuery((e.target as HTMLInputElement).value)
              setSel(0)
            }}
            onKeyDown={onKey}
          />
          <ul id='palette-list' ref={listRef} class='palette-list' role='listbox' aria-label='Commands'>
            {shown.map(({ a, m }, i) => (
              <li
                key={a.id}
                id={`palette-${a.id}`}
                role='option'
                aria-selected={i === sel}
                class='palette-item'
                data-testid='palette-item'
                onMouseMove={() => {
                  if (i !== sel) setSel(i)
                }}
                onClick={() => {
                  run(a)
                }}
              >
                <span class='palette-group muted'>{a.group}</span>
                <span class='grow'>
                  <Highlighted text={a.title} hits={m.hits} />
                </span>
                {a.keys !== undefined && <kbd>{a.keys}</kbd>}
              </li>
            ))}
            {shown.length === 0 && (
              <li class='muted palette-item' role='option' aria-selected='false' aria-disabled='true'>
                No command matches “{query}”.
              </li>
            )}
          </ul>
          <div class='muted small palette-foot'>
            <kbd>↑</kbd> <kbd>↓</kbd> choose · <kbd>Enter</kbd> run · <kbd>Esc</kbd> close · <kbd>?</kbd> all shortcuts
          </div>
        </div>
      )}
    </dialog>
  )
}

const SHORTCUTS: Array<[string, string]> = [
  ['Ctrl+K', 'Open the command palette'],
  ['Ctrl+Shift+P', 'Open the command palette'],
  ['?', 'This list of shortcuts'],
  ...GO_KEYS.map(([k, , label]): [string, string] => [`g ${k}`, `Go to ${label}`]),
  ['Tab, Shift+Tab', 'Move between buttons, fields and links'],
  ['Enter, Space', 'Press the focused button'],
  ['Esc', 'Close a dialog or the palette'],
]

export function ShortcutsHelp(p: { open: boolean; onClose: () => void }) {
  return (
    <Dialog title='Keyboard shortcuts' open={p.open} onClose={p.onClose}>
      <table class='table table-compact shortcuts' aria-label='Keyboard shortcuts'>
        <tbody>
          {SHORTCUTS.map(([k, what]) => (
            <tr key={`${k}-${what}`}>
              <td>
                <kbd>{k}</kbd>
              </td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class='muted small'>The letter keys work when the focus is not in a text field.</p>
    </Dialog>
  )
}

function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null
  if (el === null || typeof el.tagName !== 'string') return false
  return (
    el.isContentEditable ||
    el.tagName === 'TEXTAREA' ||
    el.tagName === 'SELECT' ||
    (el.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes((el as HTMLInputElement).type))
  )
}

/** The global keys: Ctrl+K / Ctrl+Shift+P, `?`, and `g` + a letter. */
export function useKeyboard(openPalette: () => void, openHelp: () => void): void {
  const fns = useRef({ openPalette, openHelp })
  fns.current = { openPalette, openHelp }
  useEffect(() => {
    let gAt = 0
    const on = (e: KeyboardEvent) => {
      const k = e.key.toLowerCase()
      if ((e.ctrlKey || e.metaKey) && !e.altKey && ((k === 'k' && !e.shiftKey) || (k === 'p' && e.shiftKey))) {
        e.preventDefault()
        fns.current.openPalette()
        return
      }
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return
      if (typing(e.target) || document.querySelector('dialog[open]') !== null) {
        gAt = 0
        return
      }
      if (e.key === '?') {
        e.preventDefault()
        gAt = 0
        fns.current.openHelp()
        return
      }
      const target = gAt > 0 && Date.now() - gAt < 1500 ? GO_KEYS.find(([key]) => key === k) : undefined
      if (target !== undefined) {
        e.preventDefault()
        gAt = 0
        go(target[1])
        return
      }
      gAt = k === 'g' && !e.shiftKey ? Date.now() : 0
    }
    window.addEventListener('keydown', on)
    return () => {
      window.removeEventListener('keydown', on)
    }
  }, [])
}
