/** Library: what this laptop carries. Import (picker, drag and drop, path), export, open. */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { RevisionSummary, SignatureState, TransferInfo } from '../../shared/api/types.js'
import { useCommand } from '../commands.js'
import { FolderPicker } from '../folder-picker.js'
import { ago, bytes, dateTime, plural, shortId } from '../format.js'
import { useClient, useResource, useTick } from '../hooks.js'
import { Badge, Button, Empty, ErrorBox, ProgressBar, errorParts, importToastKey, useNotify, type Tone } from '../ui.js'
import { revisionSizeText } from '../../shared/units.js'
import { ExportDialog } from './export-dialog.js'
import { LibraryFilters, useLibraryFilter } from './library-filter.js'
import { Pager } from '../list-tools.js'
import { amount } from './transfers.js'

const SIG_TONE: Record<SignatureState, Tone> = { valid: 'ok', warning: 'warn', untrusted: 'warn', invalid: 'bad', unsigned: 'muted' }
const SIG_TEXT: Record<SignatureState, string> = {
  valid: 'Signed',
  warning: 'Signed, see note',
  untrusted: 'Untrusted signer',
  invalid: 'INVALID',
  unsigned: 'Unsigned',
}

export function SignatureBadge(p: { state: SignatureState; summary: string }) {
  const badge = (
    <Badge tone={SIG_TONE[p.state]} title={p.summary}>
      {SIG_TEXT[p.state]}
    </Badge>
  )
  // An untrusted signer is fixed on the Trust screen: the badge leads there.
  return p.state === 'untrusted' ? (
    <a href='#/trust' class='badge-link' aria-label={`${SIG_TEXT[p.state]}: trust its CA`}>
      {badge}
    </a>
  ) : (
    badge
  )
}

/** The size, marked as a lower bound while objects are missing. */
export function revisionSize(r: RevisionSummary): string {
  return revisionSizeText(r)
}

export function CompleteBadge(p: { r: RevisionSummary }) {
  return p.r.complete ? (
    <Badge tone='ok' title={`all ${p.r.objects} objects are in the library`}>
      Complete
    </Badge>
  ) : (
    <Badge tone='warn' title='pull or import the missing objects'>{`Incomplete · ${p.r.missing} missing`}</Badge>
  )
}

function Stats(p: { stats: { revisions: number; objects: number; storedBytes: number; logicalBytes: number } }) {
  const saved = Math.max(0, p.stats.logicalBytes - p.stats.storedBytes)
  const pct = p.stats.logicalBytes > 0 ? Math.round((saved / p.stats.logicalBytes) * 100) : 0
  return (
    <dl class='stats' aria-label='Library totals'>
      <div class='stat'>
        <dt>Revisions</dt>
        <dd>{p.stats.revisions}</dd>
      </div>
      <div class='stat'>
        <dt>Objects</dt>
        <dd>{p.stats.objects}</dd>
      </div>
      <div class='stat'>
        <dt>Stored on disk</dt>
        <dd>{bytes(p.stats.storedBytes)}</dd>
      </div>
      <div class='stat'>
        <dt>Revisions add up to</dt>
        <dd>{bytes(p.stats.logicalBytes)}</dd>
      </div>
      <div class='stat stat-accent'>
        <dt>Saved by sharing objects</dt>
        <dd>
          {bytes(saved)} <span class='muted'>({pct}%)</span>
        </dd>
      </div>
    </dl>
  )
}

function ActiveImports(p: { transfers: TransferInfo[] }) {
  const running = p.transfers.filter(t => t.state === 'running' && (t.kind === 'upload' || t.kind === 'import'))
  if (running.length === 0) return null
  return (
    <div class='active-list' aria-live='polite'>
      {running.map(t => (
        <div key={t.id} class='active-row'>
          <span class='active-label'>
            {t.kind === 'upload' ? 'Sending' : 'Importing'} {t.label.replace(/^(upload|import) /, '')}
          </span>
          <ProgressBar done={t.bytes} total={t.totalBytes} label={t.label} />
          <span class='muted num'>{amount(t)}</span>
        </div>
      ))}
    </div>
  )
}

export function LibraryScreen(p: { transfers: TransferInfo[] }) {
  const client = useClient()
  const notify = useNotify()
  const lib = useResource(api => api.library.list(), [], ['revision'])
  const [exporting, setExporting] = useState<RevisionSummary | null>(null)
  const [picking, setPicking] = useState(false)
  const [dragging, setDragging] = useState(false)
  const [uploads, setUploads] = useState<Array<{ name: string; sent: number; total: number }>>([])
  const fileInput = useRef<HTMLInputElement>(null)
  useTick(30_000)
  // The command palette's Library actions; an export waits for the list to name its revision.
  const [exportWanted, setExportWanted] = useState<string | null>(null)
  useCommand('library.import-file', () => {
    fileInput.current?.click()
  })
  useCommand('library.import-folder', () => {
    setPicking(true)
  })
  useCommand('library.export', id => {
    setExportWanted(id ?? null)
  })
  useEffect(() => {
    const r = exportWanted === null ? undefined : lib.data?.revisions.find(x => x.id === exportWanted)
    if (r !== undefined) {
      setExporting(r)
      setExportWanted(null)
    }
  }, [exportWanted, lib.data])

  const report = (
    what: string,
    res: { name: string | null; id: string; objects: number; missing: number; bytes: number; newBytes: number; existed: boolean },
  ) => {
    const name = res.name ?? shortId(res.id)
    if (res.existed) notify({ tone: 'info', title: `${name} is already in the library`, body: 'Nothing new was stored.', key: importToastKey(what) })
    else
      notify({
        tone: res.missing > 0 ? 'warn' : 'ok',
        title: `Imported ${name}`,
        body: `${plural(res.objects, 'object')}, ${bytes(res.bytes)} (${bytes(res.newBytes)} new)${res.missing > 0 ? `; ${res.missing} missing: pull them from a peer` : ''} — from ${what}`,
        key: importToastKey(what),
      })
  }
  const fail = (what: string, err: unknown) => {
    const e = errorParts(err)
    notify({ tone: 'bad', title: `Import of ${what} failed`, body: `${e.message}${e.hint !== null ? ` — ${e.hint}` : ''}`, key: importToastKey(what) })
  }

  const importFiles = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      setUploads(u => [...u, { name: file.name, sent: 0, total: file.size }])
      client
        .importFile(file, {
          onUpload: (sent, total) => {
            setUploads(u => u.map(x => (x.name === file.name ? { ...x, sent, total } : x)))
          },
        })
        .then(
          res => {
            report(file.name, res)
          },
          err => {
            fail(file.name, err)
          },
        )
        .finally(() => {
          setUploads(u => u.filter(x => x.name !== file.name))
        })
    }
  }
  const importPath = (path: string) => {
    setPicking(false)
    client.api.library.import({ path }).then(
      res => {
        report(path, res)
      },
      err => {
        fail(path, err)
      },
    )
  }

  const onDrop = (e: DragEvent) => {
    e.preventDefault()
    setDragging(false)
    const files = e.dataTransfer?.files
    if (files !== undefined && files.length > 0) importFiles(files)
  }

  const all = lib.data?.revisions ?? []
  const filter = useLibraryFilter(all)
  const revs = filter.page.shown
  return (
    <div
      class={`screen drop-target${dragging ? ' dragging' : ''}`}
      onDragOver={e => {
        if (e.dataTransfer?.types.includes('Files') === true) {
          e.preventDefault()
          setDragging(true)
        }
      }}
      onDragLeave={e => {
        if (e.currentTarget === e.target) setDragging(false)
      }}
      onDrop={onDrop}
    >
      <header class='screen-head'>
        <div>
          <h1>Library</h1>
          <p class='subtitle'>Revisions this laptop carries, ready to install or share.</p>
        </div>
        <div class='toolbar'>
          <input
            ref={fileInput}
            type='file'
            class='sr-only'
            tabIndex={-1}
            aria-hidden='true'
            multiple
            accept='.tgz,.tar,.gz,.json,application/gzip,application/x-tar,application/json'
            data-testid='import-file-input'
            onChange={e => {
              const f = (e.target as HTMLInputElement).files
              if (f !== null) importFiles(f)
              ;(e.target as HTMLInputElement).value = ''
            }}
          />
          <Button
            onClick={() => {
              setPicking(true)
            }}
            title='a tarball, a pvr checkout or a state JSON on this computer or a stick'
          >
            Import from folder…
          </Button>
          <Button kind='primary' onClick={() => fileInput.current?.click()}>
            Import file…
          </Button>
        </div>
      </header>

      {lib.data !== undefined && <Stats stats={lib.data.stats} />}
      <ActiveImports transfers={p.transfers} />
      {uploads.length > 0 && client.mode === 'browser' && (
        <div class='active-list'>
          {uploads.map(u => (
            <div key={u.name} class='active-row'>
              <span class='active-label'>Reading {u.name}</span>
              <ProgressBar done={u.sent} total={u.total} label={`reading ${u.name}`} />
              <span class='muted num'>
                {bytes(u.sent)} of {bytes(u.total)}
              </span>
            </div>
          ))}
        </div>
      )}
      {lib.error !== undefined && <ErrorBox error={lib.error} title='Cannot read the library' onRetry={lib.reload} />}

      {all.length > 0 && <LibraryFilters f={filter} />}
      {all.length > 0 && <Pager page={filter.page.page} pages={filter.page.pages} total={filter.matching} what='revisions' setPage={filter.page.setPage} />}
      {lib.data !== undefined && all.length === 0 && (
        <Empty title='The library is empty'>
          Drop a <code>pvr export</code> tarball (.tgz or .tar) here, or use <strong>Import file…</strong>. Colleagues' revisions can be pulled from{' '}
          <a href='#/peers'>Peers</a>.
        </Empty>
      )}
      {revs.length > 0 && (
        <div class='table-wrap'>
          <table class='table' aria-label='Revisions'>
            <thead>
              <tr>
                <th scope='col'>Name</th>
                <th scope='col'>ID</th>
                <th scope='col' class='num'>
                  Size
                </th>
                <th scope='col'>Status</th>
                <th scope='col'>Signature</th>
                <th scope='col' class='col-source'>
                  Source
                </th>
                <th scope='col'>Imported</th>
                <th scope='col'>
                  <span class='sr-only'>Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {revs.map(r => (
                <tr key={r.id} data-testid='revision-row' data-id={r.id}>
                  <td class='col-name' title={r.names.join(', ')}>
                    <a class='strong' href={`#/revision/${r.id}`}>
                      {r.name}
                    </a>
                    {r.names.length > 1 && <span class='muted'> +{r.names.length - 1}</span>}
                  </td>
                  <td>
                    <code class='mono' title={r.id}>
                      {shortId(r.id)}
                    </code>
                  </td>
                  <td
                    class='num'
                    data-testid='revision-size'
                    title={`${plural(r.objects, 'object')}${r.missing > 0 ? `, ${r.missing} missing (their sizes are not known yet)` : ''}`}
                  >
                    {revisionSize(r)}
                  </td>
                  <td>
                    <CompleteBadge r={r} />
                  </td>
                  <td>
                    <SignatureBadge state={r.signature.state} summary={r.signature.summary} />
                  </td>
                  <td class='ellipsis col-source' title={r.source}>
                    {r.source}
                  </td>
                  <td title={dateTime(r.importedAt)}>{ago(r.importedAt)}</td>
                  <td class='actions'>
                    <Button
                      small
                      onClick={() => {
                        setExporting(r)
                      }}
                      label={`Export ${r.name}`}
                      disabled={!r.complete}
                    >
                      Export…
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revs.length > 0 && <p class='muted small tip'>Tip: drop .tgz or .tar files anywhere on this page to import them.</p>}
      <div class='drop-hint' aria-hidden={!dragging}>
        Drop to import into the library
      </div>
      <ExportDialog
        revision={exporting}
        onClose={() => {
          setExporting(null)
        }}
      />
      <FolderPicker
        open={picking}
        title='Import from this computer'
        files
        allowFolder
        chooseLabel='Import file'
        accept={n => /\.(tgz|tar|gz|json)$/i.test(n)}
        onClose={() => {
          setPicking(false)
        }}
        onPick={importPath}
      />
    </div>
  )
}
