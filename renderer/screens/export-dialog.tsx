/** Export a revision as a pvr export tarball into a folder of this computer (a stick, Downloads, ...). */
import { useEffect, useState } from 'preact/hooks'
import type { RevisionSummary } from '../../shared/api/types.js'
import { useInfo } from '../app-context.js'
import { FolderPicker } from '../folder-picker.js'
import { bytes } from '../format.js'
import { useApi } from '../hooks.js'
import { Button, Dialog, ErrorBox, useNotify } from '../ui.js'

type Format = 'tgz' | 'tgz-compressed' | 'tar'
const FORMATS: Array<[Format, string, string]> = [
  ['tgz', '.tgz, fast', 'gzip without compression: as fast as a copy; objects are squashfs images, already compressed'],
  ['tgz-compressed', '.tgz, compressed', 'deflated: a little smaller at best, many times slower'],
  ['tar', '.tar', 'plain tar'],
]

export function ExportDialog(p: { revision: RevisionSummary | null; onClose: () => void }) {
  const api = useApi()
  const info = useInfo()
  const notify = useNotify()
  const [folder, setFolder] = useState(info.defaultFolder)
  const [format, setFormat] = useState<Format>('tgz')
  const [picking, setPicking] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    setError(null)
  }, [p.revision])

  const rev = p.revision
  const run = () => {
    if (rev === null) return
    setBusy(true)
    setError(null)
    api.library
      .export({ rev: rev.id, folder, gzip: format !== 'tar', compress: format === 'tgz-compressed' })
      .then(r => {
        notify({ tone: 'ok', title: `Exported ${rev.name}`, body: `${r.file} (${bytes(r.bytes)}, ${r.objects} objects)` })
        p.onClose()
      }, setError)
      .finally(() => {
        setBusy(false)
      })
  }

  return (
    <Dialog title={rev === null ? 'Export' : `Export ${rev.name}`} open={rev !== null} onClose={p.onClose}>
      {rev !== null && (
        <form
          class='form'
          onSubmit={e => {
            e.preventDefault()
            run()
          }}
        >
          <p class='muted'>
            Writes a pvr export tarball ({bytes(rev.bytes)} of objects) that <code>pvr import</code>, <code>pvcontrol steps install</code> and Fieldsync on
            another laptop accept.
          </p>
          {!rev.complete && (
            <div class='alert alert-warn' role='alert'>
              This revision is incomplete ({rev.missing} objects missing): it cannot be exported until they are pulled or imported.
            </div>
          )}
          <div class='field'>
            <label for='export-folder'>Folder</label>
            <div class='row'>
              <input
                id='export-folder'
                class='input mono grow'
                value={folder}
                onInput={e => {
                  setFolder((e.target as HTMLInputElement).value)
                }}
                spellcheck={false}
              />
              <Button
                onClick={() => {
                  setPicking(true)
                }}
              >
                Choose…
              </Button>
            </div>
          </div>
          <fieldset class='fieldset'>
            <legend>Format</legend>
            {FORMATS.map(([v, label, note]) => (
              <label key={v} class='check'>
                <input
                  type='radio'
                  name='export-format'
                  value={v}
                  checked={format === v}
                  onChange={() => {
                    setFormat(v)
                  }}
                />
                <span>
                  <span class='strong'>{label}</span> <span class='muted small'>{note}</span>
                </span>
              </label>
            ))}
          </fieldset>
          {error !== null && <ErrorBox error={error} title='Export failed' />}
          <footer class='dialog-foot'>
            <Button onClick={p.onClose}>Cancel</Button>
            <Button kind='primary' type='submit' busy={busy} disabled={!rev.complete || folder === ''}>
              Export
            </Button>
          </footer>
        </form>
      )}
      <FolderPicker
        open={picking}
        title='Export to folder'
        start={folder}
        onClose={() => {
          setPicking(false)
        }}
        onPick={f => {
          setFolder(f)
          setPicking(false)
        }}
      />
    </Dialog>
  )
}
