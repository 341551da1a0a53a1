/**
 * "Add package…" and "Remove part…" on a revision page: compose a new
 * revision as pvtx does on a device, see what changes (parts, keys, bytes)
 * and the signature verdict a device would give, then save it under a name.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ComposeOpRequest, ComposePreview, RevisionSummary } from '../../shared/api/types.js'
import { bytes, plural, shortId } from '../format.js'
import { go, useApi, useClient, useResource } from '../hooks.js'
import { Badge, Button, Dialog, ErrorBox, useNotify } from '../ui.js'
import { Entries } from './diff.js'

export type ComposeMode = 'add' | 'remove'

function nameFor(base: string, op: ComposeOpRequest | null, pkgName: string): string {
  const tail = op === null ? '' : 'add' in op ? `+${pkgName}` : `-no-${op.remove.replace(/^_(sigs|config)\//, '').replace(/\.json$/, '')}`
  return `${base}${tail}`
    .replace(/[^A-Za-z0-9._@+:-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128)
}

function PartList(p: { label: string; list: string[]; tone: 'ok' | 'warn' | 'bad' | 'muted' }) {
  if (p.list.length === 0) return null
  return (
    <div class='row wrap compose-parts'>
      <span class='muted'>{p.label}</span>
      {p.list.map(x => (
        <Badge key={x} tone={p.tone}>
          {x}
        </Badge>
      ))}
    </div>
  )
}

export function PreviewPanel(p: { preview: ComposePreview }) {
  const v = p.preview
  const s = v.signature
  return (
    <div class='compose-preview' data-testid='compose-preview'>
      <div class='compose-summary'>
        <PartList label='Parts added' list={v.parts.added} tone='ok' />
        <PartList label='Parts replaced' list={v.parts.replaced} tone='warn' />
        <PartList label='Parts removed' list={v.parts.removed} tone='bad' />
        <PartList label='Unchanged' list={v.parts.unchanged} tone='muted' />
        <p data-testid='compose-keys'>
          {v.keys.added.length} keys added, {v.keys.replaced.length} replaced, {v.keys.removed.length} removed; the result has{' '}
          {plural(v.objects.count, 'object')}, {bytes(v.objects.bytes)}
          {v.objects.missing > 0 ? ` (${v.objects.missing} not in the library)` : ''}.
        </p>
        <div class='callout'>
          A device running <strong>{v.base.name}</strong> needs <strong data-testid='compose-bytes'>{bytes(v.transfer.bytes)}</strong> in{' '}
          {plural(v.transfer.objects, 'object')} to move to it.
        </div>
      </div>
      <div class='sigs compose-verdict' data-testid='compose-verdict'>
        <div class='row wrap'>
          {s.pass ? <Badge tone='ok'>passes “{s.policy}”</Badge> : <Badge tone='bad'>refused by “{s.policy}”</Badge>}
          <span>{s.summary}</span>
        </div>
        {s.device !== null && (
          <p class='strong'>
            A device in “{s.policy}” mode answers {s.device}.
          </p>
        )}
        {s.device !== null && s.broken.length === 0 && s.reason !== null && <p class='small'>{s.reason}</p>}
        {s.broken.length > 0 && (
          <ul class='key-list' data-testid='compose-broken'>
            {s.broken.map(b => (
              <li key={b.key}>
                <span class='mono'>{b.key}</span>: no longer covers what the state holds ({b.message})
              </li>
            ))}
          </ul>
        )}
      </div>
      {v.warnings.map(w => (
        <p key={w} class='small muted'>
          {w}
        </p>
      ))}
      {v.issues.map(i => (
        <p key={i.key + i.message} class={i.severity === 'error' ? 'alert alert-bad' : 'small muted'} role={i.severity === 'error' ? 'alert' : undefined}>
          {i.key}: {i.message}
        </p>
      ))}
      {v.existing !== null && (
        <p class='muted'>
          The library holds this state already, as <strong>{v.existing.name}</strong> ({shortId(v.existing.id)}); saving gives it the new name.
        </p>
      )}
      <div class='diff-groups'>
        <Entries title='Added' sign='+' tone='ok' list={v.keys.added} />
        <Entries title='Replaced' sign='~' tone='warn' list={v.keys.replaced} />
        <Entries title='Removed' sign='−' tone='bad' list={v.keys.removed} />
      </div>
    </div>
  )
}

export function ComposeDialog(p: { revision: RevisionSummary; mode: ComposeMode | null; onClose: () => void }) {
  const api = useApi()
  const client = useClient()
  const notify = useNotify()
  const r = p.revision
  const list = useResource(a => a.library.list(), [], ['revision'])
  const parts = useResource(a => (p.mode === 'remove' ? a.library.composePreview({ base: r.id, ops: [] }) : Promise.resolve(null)), [r.id, p.mode])
  const [choice, setChoice] = useState('')
  // the name of a package just imported from a file, before the library list shows it
  const [imported, setImported] = useState<{ id: string; name: string } | null>(null)
  const [name, setName] = useState('')
  const [named, setNamed] = useState(false)
  const [busy, setBusy] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const fileInput = useRef<HTMLInputElement>(null)
  useEffect(() => {
    setChoice('')
    setName('')
    setNamed(false)
    setError(null)
  }, [p.mode, r.id])

  const others = (list.data?.revisions ?? []).filter(x => x.id !== r.id)
  const op: ComposeOpRequest | null = choice === '' ? null : p.mode === 'add' ? { add: choice } : { remove: choice }
  const preview = useResource(a => (op === null ? Promise.resolve(null) : a.library.composePreview({ base: r.id, ops: [op] })), [r.id, p.mode, choice])
  const pkgName = others.find(x => x.id === choice)?.name ?? (imported?.id === choice ? imported.name : choice.slice(0, 12))
  useEffect(() => {
    if (!named) setName(nameFor(r.name, op, pkgName))
  }, [choice, pkgName])

  const fromFile = (file: File) => {
    setBusy(`Importing ${file.name}…`)
    setError(null)
    client
      .importFile(file, {})
      .then(res => {
        setImported({ id: res.id, name: res.name ?? res.id.slice(0, 12) })
        setChoice(res.id)
      }, setError)
      .finally(() => {
        setBusy(null)
      })
  }
  const save = () => {
    if (op === null) return
    setBusy('Saving…')
    setError(null)
    api.library
      .composeSave({ base: r.id, ops: [op], name })
      .then(res => {
        notify({
          tone: 'ok',
          title: `Saved ${res.revision.name}`,
          body: res.existed
            ? 'The library had this state already: it gained the name.'
            : `${r.name} ${p.mode === 'add' ? `with ${pkgName}` : `without ${choice}`}`,
        })
        p.onClose()
        go('revision', res.revision.id)
      }, setError)
      .finally(() => {
        setBusy(null)
      })
  }

  const v = preview.data ?? null
  const blocked = v === null || v.issues.some(i => i.severity === 'error')
  const title = p.mode === 'remove' ? `Remove a part from ${r.name}` : `Add a package to ${r.name}`
  return (
    <Dialog title={title} open={p.mode !== null} onClose={p.onClose} wide>
      <form
        class='form'
        onSubmit={e => {
          e.preventDefault()
          save()
        }}
      >
        <p class='muted'>
          {p.mode === 'add'
            ? 'The package replaces the parts it carries (a part is what its signature signs, or its folder), as pvtx add does on a device.'
            : 'A container, its configuration or its signature names the whole part its signature signs, as pvtx remove does on a device.'}
        </p>
        {p.mode === 'add' && (
          <div class='field'>
            <label for='compose-package'>Package</label>
            <div class='row'>
              <select
                id='compose-package'
                class='input grow'
                value={choice}
                onChange={e => {
                  setChoice((e.target as HTMLSelectElement).value)
                }}
              >
                <option value=''>choose a revision of the library…</option>
                {others.map(x => (
                  <option key={x.id} value={x.id}>
                    {x.name} ({shortId(x.id)})
                  </option>
                ))}
              </select>
              <input
                ref={fileInput}
                type='file'
                class='sr-only'
                tabIndex={-1}
                aria-hidden='true'
                accept='.tgz,.tar,.gz,.bz2,.json'
                data-testid='compose-file-input'
                onChange={e => {
                  const f = (e.target as HTMLInputElement).files?.[0]
                  if (f !== undefined) fromFile(f)
                  ;(e.target as HTMLInputElement).value = ''
                }}
              />
              <Button onClick={() => fileInput.current?.click()} title='a package tarball or state JSON: it is imported into the library first'>
                From a file…
              </Button>
            </div>
          </div>
        )}
        {p.mode === 'remove' && (
          <div class='field'>
            <label for='compose-part'>Part</label>
            <select
              id='compose-part'
              class='input'
              value={choice}
              onChange={e => {
                setChoice((e.target as HTMLSelectElement).value)
              }}
            >
              <option value=''>choose a part…</option>
              {(parts.data?.resultParts ?? []).map(x => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          </div>
        )}
        {busy !== null && (
          <p class='muted' role='status'>
            {busy}
          </p>
        )}
        {preview.error !== undefined && <ErrorBox error={preview.error} title='Cannot compose that' />}
        {op !== null && v === null && preview.error === undefined && <p class='muted'>Composing…</p>}
        {v !== null && <PreviewPanel preview={v} />}
        <div class='field'>
          <label for='compose-name'>Name of the new revision</label>
          <input
            id='compose-name'
            class='input'
            value={name}
            onInput={e => {
              setName((e.target as HTMLInputElement).value)
              setNamed(true)
            }}
            required
          />
        </div>
        {error !== null && <ErrorBox error={error} title='Not saved' />}
        <footer class='dialog-foot'>
          <Button onClick={p.onClose}>Cancel</Button>
          <Button kind='primary' type='submit' busy={busy === 'Saving…'} disabled={blocked || name === ''} testId='compose-save'>
            Save as new revision
          </Button>
        </footer>
      </form>
    </Dialog>
  )
}
