/** Revision: what it is made of, where the bytes are, what is shared, and how it differs from another. */
import { useState } from 'preact/hooks'
import type { PartDetail, RevisionDetail } from '../../shared/api/types.js'
import { useInfo } from '../app-context.js'
import { bytes, dateTime, plural, shortId } from '../format.js'
import { go, useApi, useResource } from '../hooks.js'
import { Badge, Button, Copy, Dialog, ErrorBox, Prose, useNotify } from '../ui.js'
import { DiffPanel } from './diff.js'
import { ComposeDialog, type ComposeMode } from './compose-dialog.js'
import { ExportDialog } from './export-dialog.js'
import { SignaturesPanel } from './signatures.js'
import { CompleteBadge, SignatureBadge, revisionSize } from './library.js'

const PALETTE = 8

/** A part's objects, each sha once, largest first, those with a known size. */
function uniqueObjects(part: PartDetail): PartDetail['objects'] {
  const seen = new Set<string>()
  return part.objects
    .filter(o => {
      if (seen.has(o.sha) || o.size === null || o.size === 0) return false
      seen.add(o.sha)
      return true
    })
    .sort((a, b) => (b.size ?? 0) - (a.size ?? 0))
}

function BytesBar(p: { parts: PartDetail[]; total: number }) {
  const parts = p.parts.filter(x => x.bytes > 0)
  if (p.total === 0 || parts.length === 0) return <p class='muted'>No object sizes known yet.</p>
  return (
    <figure class='bytes-figure' aria-label='Where the bytes are'>
      <div class='bytes-bar' role='img' aria-label={parts.map(x => `${x.name} ${bytes(x.bytes)}, ${bytes(x.sharedBytes)} shared`).join('; ')}>
        {parts.map((x, i) => (
          <div key={x.name} class={`seg seg-${i % PALETTE}`} style={{ flexGrow: x.bytes }}>
            {uniqueObjects(x).map(o => (
              <div
                key={o.sha}
                class={`obj${o.sharedWith > 0 ? ' obj-shared' : ''}`}
                style={{ flexGrow: o.size ?? 0 }}
                title={`${o.key}: ${bytes(o.size)}${o.sharedWith > 0 ? `, shared with ${plural(o.sharedWith, 'other revision')}` : ', only in this revision'}`}
              />
            ))}
          </div>
        ))}
      </div>
      <figcaption class='legend'>
        {parts.map((x, i) => (
          <span key={x.name} class='legend-item'>
            <span class={`swatch seg-${i % PALETTE}`} aria-hidden='true' />
            <span class='strong'>{x.name}</span> {bytes(x.bytes)}{' '}
            <span class='muted'>
              ({Math.round((x.bytes / p.total) * 100)}%{x.sharedBytes > 0 ? `, ${bytes(x.sharedBytes)} shared` : ''})
            </span>
          </span>
        ))}
        <span class='legend-item'>
          <span class='swatch swatch-shared' aria-hidden='true' /> hatched: shared with other revisions (stored once)
        </span>
      </figcaption>
    </figure>
  )
}

function PartTable(p: { part: PartDetail; index: number }) {
  const x = p.part
  return (
    <section class='card part' aria-labelledby={`part-${p.index}`}>
      <header class='card-head'>
        <h3 id={`part-${p.index}`}>
          <span class={`swatch seg-${p.index % PALETTE}`} aria-hidden='true' /> {x.kind === 'bsp' ? 'BSP' : x.kind === 'other' ? 'Other objects' : x.name}
        </h3>
        <span class='muted'>
          {x.kind === 'container' ? 'container · ' : ''}
          {plural(x.objects.length, 'object')} · {bytes(x.bytes)}
          {x.group !== undefined ? ` · group ${x.group}` : ''}
          {x.statusGoal !== undefined ? ` · goal ${x.statusGoal}` : ''}
        </span>
      </header>
      <table class='table table-compact table-fixed'>
        <colgroup>
          <col class='c-key' />
          <col class='c-size' />
          <col class='c-sha' />
          <col class='c-here' />
          <col class='c-shared' />
        </colgroup>
        <thead>
          <tr>
            <th scope='col'>Key</th>
            <th scope='col' class='num'>
              Size
            </th>
            <th scope='col'>Object</th>
            <th scope='col'>Here</th>
            <th scope='col'>Shared</th>
          </tr>
        </thead>
        <tbody>
          {x.objects.map(o => (
            <tr key={o.key}>
              <td class='mono'>{o.key}</td>
              <td class='num'>{bytes(o.size)}</td>
              <td>
                <code class='mono muted' title={`sha256 ${o.sha}\nCID ${o.cid}`}>
                  {o.sha.slice(0, 12)}
                </code>
              </td>
              <td>{o.present ? <Badge tone='ok'>present</Badge> : <Badge tone='warn'>missing</Badge>}</td>
              <td>
                {o.sharedWith > 0 ? (
                  <span title='other revisions that use the same object'>{plural(o.sharedWith, 'other revision')}</span>
                ) : (
                  <span class='muted'>only here</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}

function NameDialog(p: { detail: RevisionDetail; open: boolean; onClose: () => void }) {
  const api = useApi()
  const notify = useNotify()
  const [name, setName] = useState('')
  const [error, setError] = useState<unknown>(null)
  return (
    <Dialog title='Add a name' open={p.open} onClose={p.onClose}>
      <form
        class='form'
        onSubmit={e => {
          e.preventDefault()
          api.library.rename({ rev: p.detail.revision.id, name }).then(() => {
            notify({ tone: 'ok', title: `Named ${name}` })
            p.onClose()
          }, setError)
        }}
      >
        <div class='field'>
          <label for='rev-name'>New name</label>
          <input
            id='rev-name'
            class='input'
            value={name}
            onInput={e => {
              setName((e.target as HTMLInputElement).value)
            }}
            placeholder='e.g. site-a-2026-05'
            required
          />
          <p class='help'>Letters, digits and . _ @ + : -. The revision keeps its other names ({p.detail.revision.names.join(', ') || 'none'}).</p>
        </div>
        {error !== null && <ErrorBox error={error} title='Cannot use that name' />}
        <footer class='dialog-foot'>
          <Button onClick={p.onClose}>Cancel</Button>
          <Button kind='primary' type='submit'>
            Save name
          </Button>
        </footer>
      </form>
    </Dialog>
  )
}

export function RevisionScreen(p: { id: string; compare?: string }) {
  const api = useApi()
  const info = useInfo()
  const notify = useNotify()
  const res = useResource(a => a.library.show({ rev: p.id }), [p.id], ['revision'])
  const [exporting, setExporting] = useState(false)
  const [naming, setNaming] = useState(false)
  const [composing, setComposing] = useState<ComposeMode | null>(null)
  const [confirmRemove, setConfirmRemove] = useState(false)
  const d = res.data
  if (res.error !== undefined && d === undefined) {
    return (
      <div class='screen'>
        <nav class='crumbs' aria-label='Breadcrumb'>
          <a href='#/library'>Library</a>
        </nav>
        <ErrorBox error={res.error} title='Cannot open this revision' onRetry={res.reload} />
      </div>
    )
  }
  if (d === undefined)
    return (
      <div class='screen'>
        <p class='muted'>Loading…</p>
      </div>
    )
  const r = d.revision
  const remove = () => {
    api.library.remove({ rev: r.id }).then(
      () => {
        notify({ tone: 'ok', title: `Removed ${r.name}` })
        go('library')
      },
      err => {
        setConfirmRemove(false)
        notify({ tone: 'bad', title: 'Cannot remove', body: (err as Error).message })
      },
    )
  }
  return (
    <div class='screen'>
      <nav class='crumbs' aria-label='Breadcrumb'>
        <a href='#/library'>Library</a> <span aria-hidden='true'>›</span> <span>{r.name}</span>
      </nav>
      <header class='screen-head'>
        <div>
          <h1 data-testid='revision-title'>{r.name}</h1>
          <p class='subtitle'>
            <code class='mono'>{r.id}</code> <Copy text={r.id} label='Copy the revision id' />
          </p>
          <div class='badges'>
            <CompleteBadge r={r} /> <SignatureBadge state={r.signature.state} summary={r.signature.summary} />
            {/* The Signatures section below says why, once; the header repeats it only when there is no report. */}
            {r.signature.state !== 'unsigned' && d.signatureReport === null && (
              <span class='muted'>
                <Prose text={r.signature.summary} />
              </span>
            )}
          </div>
        </div>
        <div class='toolbar'>
          <Button
            onClick={() => {
              setNaming(true)
            }}
          >
            Add name…
          </Button>
          <Button
            onClick={() => {
              setComposing('add')
            }}
            title='compose a new revision with a package added, as pvtx does on a device'
            testId='add-package'
          >
            Add package…
          </Button>
          <Button
            onClick={() => {
              setComposing('remove')
            }}
            title='compose a new revision without one of its parts'
            testId='remove-part'
          >
            Remove part…
          </Button>
          <Button
            onClick={() => {
              setExporting(true)
            }}
            disabled={!r.complete}
          >
            Export…
          </Button>
          <Button
            onClick={() => {
              go('usb', r.id)
            }}
          >
            Copy to USB…
          </Button>
          {info.capabilities.devices && (
            <Button
              kind='primary'
              onClick={() => {
                go('devices', 'install', r.id)
              }}
              disabled={!r.complete}
            >
              Install on a device…
            </Button>
          )}
        </div>
      </header>
      {res.error !== undefined && <ErrorBox error={res.error} title='Showing older data: reload failed' onRetry={res.reload} />}
      <dl class='facts'>
        <div>
          <dt>Spec</dt>
          <dd class='mono'>{r.spec}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>
            {revisionSize(r)} in {plural(r.objects, 'object')}
            {r.missing > 0 ? `, ${r.missing} missing` : ''}
          </dd>
        </div>
        <div>
          <dt>Shared with other revisions</dt>
          <dd>{bytes(d.sharedBytes)}</dd>
        </div>
        <div>
          <dt>Keys</dt>
          <dd>
            {d.keys}
            {d.signatures.length > 0 ? ` (${plural(d.signatures.length, 'signature')})` : ''}
          </dd>
        </div>
        <div>
          <dt>Source</dt>
          <dd class='ellipsis' title={r.source}>
            {r.source}
          </dd>
        </div>
        <div>
          <dt>Imported</dt>
          <dd>{dateTime(r.importedAt)}</dd>
        </div>
        {r.names.length > 1 && (
          <div>
            <dt>Also named</dt>
            <dd>{r.names.slice(1).join(', ')}</dd>
          </div>
        )}
      </dl>

      <section class='section' aria-labelledby='bytes-title'>
        <h2 id='bytes-title'>Where the bytes are</h2>
        <BytesBar parts={d.parts} total={r.bytes} />
      </section>

      <DiffPanel revision={r} compare={p.compare} />

      <section class='section' aria-labelledby='sigs-title'>
        <h2 id='sigs-title'>Signatures</h2>
        <SignaturesPanel report={d.signatureReport} keys={d.keys} />
      </section>

      <section class='section' aria-labelledby='parts-title'>
        <h2 id='parts-title'>BSP and containers</h2>
        <div class='parts'>
          {d.parts.map((x, i) => (
            <PartTable key={x.name} part={x} index={i} />
          ))}
        </div>
      </section>

      <section class='section danger-zone' aria-labelledby='remove-title'>
        <h2 id='remove-title'>Remove</h2>
        {!confirmRemove ? (
          <p>
            <Button
              kind='danger'
              onClick={() => {
                setConfirmRemove(true)
              }}
            >
              Remove from library…
            </Button>{' '}
            <span class='muted'>Objects other revisions use stay.</span>
          </p>
        ) : (
          <p role='alert'>
            Remove <strong>{r.name}</strong> ({shortId(r.id)}) from this laptop?{' '}
            <Button kind='danger' onClick={remove}>
              Yes, remove
            </Button>{' '}
            <Button
              onClick={() => {
                setConfirmRemove(false)
              }}
            >
              Keep it
            </Button>
          </p>
        )}
      </section>
      <ExportDialog
        revision={exporting ? r : null}
        onClose={() => {
          setExporting(false)
        }}
      />
      <NameDialog
        detail={d}
        open={naming}
        onClose={() => {
          setNaming(false)
        }}
      />
      <ComposeDialog
        revision={r}
        mode={composing}
        onClose={() => {
          setComposing(null)
        }}
      />
    </div>
  )
}
