/**
 * A folder (or file) chooser over `fs.list`: it browses the computer that
 * runs the core, which in both modes is this one. Quick picks for home,
 * Downloads and mounted drives (USB sticks).
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { DirListing } from '../shared/api/types.js'
import { bytes } from './format.js'
import { useApi } from './hooks.js'
import { Button, Dialog, ErrorBox } from './ui.js'

export function FolderPicker(p: {
  open: boolean
  title: string
  start?: string
  files?: boolean
  accept?: (name: string) => boolean
  onPick: (path: string) => void
  onClose: () => void
  chooseLabel?: string
  allowFolder?: boolean
}) {
  const api = useApi()
  const [listing, setListing] = useState<DirListing | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [typed, setTyped] = useState('')
  const [file, setFile] = useState<string | null>(null)

  // Only the answer to the latest request counts: on a busy machine the
  // listing of the start folder may arrive after the one the user asked for.
  const latest = useRef(0)
  // The user edited the path field since the latest request: what they typed
  // wins over the path of a listing that arrives late (it still shows its
  // entries, and Go lists what was typed).
  const edited = useRef(false)
  const open = (path?: string) => {
    const seq = ++latest.current
    edited.current = false
    setError(null)
    setFile(null)
    api.fs.list({ path, files: p.files === true }).then(
      l => {
        if (seq === latest.current) {
          setListing(l)
          if (!edited.current) setTyped(l.path)
        }
      },
      (err: unknown) => {
        if (seq === latest.current) setError(err)
      },
    )
  }
  useEffect(() => {
    if (p.open) open(p.start)
  }, [p.open])

  const sep = listing?.path.includes('\\') === true ? '\\' : '/'
  const join = (name: string) => (listing === null ? name : listing.path.endsWith(sep) ? listing.path + name : listing.path + sep + name)
  const entries = listing?.entries.filter(e => e.kind === 'dir' || p.accept === undefined || p.accept(e.name)) ?? []

  return (
    <Dialog title={p.title} open={p.open} onClose={p.onClose} wide>
      <div class='picker'>
        <nav class='picker-places' aria-label='Places'>
          {listing?.places.map(pl => (
            <button
              type='button'
              key={pl.path}
              class={`place${listing.path === pl.path ? ' place-current' : ''}`}
              onClick={() => {
                open(pl.path)
              }}
            >
              {pl.label}
            </button>
          ))}
        </nav>
        <div class='picker-main'>
          <form
            class='picker-path'
            onSubmit={e => {
              e.preventDefault()
              open(typed)
            }}
          >
            <label class='sr-only' for='picker-path'>
              Folder path
            </label>
            <input
              id='picker-path'
              class='input mono'
              value={typed}
              onInput={e => {
                edited.current = true
                setTyped((e.target as HTMLInputElement).value)
              }}
              spellcheck={false}
            />
            <Button type='submit' small>
              Go
            </Button>
            <Button
              small
              disabled={listing?.parent == null}
              onClick={() => {
                if (listing?.parent != null) open(listing.parent)
              }}
              label='Up one folder'
            >
              ↑ Up
            </Button>
          </form>
          {error !== null && <ErrorBox error={error} title='Cannot open that folder' />}
          <ul class='picker-list' role='listbox' aria-label='Folder contents'>
            {entries.length === 0 && (
              <li role='none' class='picker-empty'>
                {p.files === true ? 'Nothing to choose here' : 'No sub-folders'}
              </li>
            )}
            {entries.map(e => (
              <li key={e.name} role='none'>
                <button
                  type='button'
                  role='option'
                  aria-selected={file === e.name}
                  class={`picker-entry picker-${e.kind}${file === e.name ? ' picker-selected' : ''}`}
                  onClick={() => {
                    if (e.kind === 'dir') open(join(e.name))
                    else setFile(e.name)
                  }}
                  onDblClick={() => {
                    if (e.kind === 'file') p.onPick(join(e.name))
                  }}
                >
                  <span class='picker-icon' aria-hidden='true'>
                    {e.kind === 'dir' ? '▸' : '·'}
                  </span>
                  <span class='picker-name'>{e.name}</span>
                  {e.kind === 'file' && <span class='picker-size'>{bytes(e.size)}</span>}
                </button>
              </li>
            ))}
          </ul>
        </div>
      </div>
      <footer class='dialog-foot'>
        <span class='muted mono picker-chosen'>{file !== null ? join(file) : listing?.path}</span>
        <Button onClick={p.onClose}>Cancel</Button>
        {p.files === true && p.allowFolder === true && (
          <Button
            disabled={listing === null}
            onClick={() => {
              if (listing !== null) p.onPick(listing.path)
            }}
          >
            Use this folder
          </Button>
        )}
        {p.files === true ? (
          <Button
            kind='primary'
            disabled={file === null}
            onClick={() => {
              if (file !== null) p.onPick(join(file))
            }}
          >
            {p.chooseLabel ?? 'Choose file'}
          </Button>
        ) : (
          <Button
            kind='primary'
            disabled={listing === null}
            onClick={() => {
              if (listing !== null) p.onPick(listing.path)
            }}
          >
            {p.chooseLabel ?? 'Choose this folder'}
          </Button>
        )}
      </footer>
    </Dialog>
  )
}
