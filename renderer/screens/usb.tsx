/** USB: write revisions to a stick (for a device or a colleague's laptop), read one back, write our inventory. */
import { useState } from 'preact/hooks'
import type { UsbEjectResult, UsbExportResult, UsbImportResult, UsbSyncView } from '../../shared/api/types.js'
import { FolderPicker } from '../folder-picker.js'
import { bytes, plural, shortId } from '../format.js'
import { useApi, useResource } from '../hooks.js'
import { Badge, Button, ErrorBox, useNotify } from '../ui.js'

type Target = 'all' | 'device' | 'peer'

function PathField(p: { id: string; label: string; value: string; onChange: (v: string) => void; files?: boolean; help?: string }) {
  const [picking, setPicking] = useState(false)
  return (
    <div class='field'>
      <label for={p.id}>{p.label}</label>
      <div class='row'>
        <input
          id={p.id}
          class='input mono grow'
          value={p.value}
          onInput={e => {
            p.onChange((e.target as HTMLInputElement).value)
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
      {p.help !== undefined && <p class='help'>{p.help}</p>}
      <FolderPicker
        open={picking}
        title={p.label}
        files={p.files}
        start={p.value === '' ? undefined : p.value}
        accept={n => n.endsWith('.json')}
        onClose={() => {
          setPicking(false)
        }}
        onPick={v => {
          p.onChange(v)
          setPicking(false)
        }}
      />
    </div>
  )
}

export function UsbScreen(p: { rev?: string }) {
  const api = useApi()
  const notify = useNotify()
  const lib = useResource(a => a.library.list(), [], ['revision'])
  const [chosen, setChosen] = useState<Set<string>>(new Set(p.rev !== undefined ? [p.rev] : []))
  const [folder, setFolder] = useState('')
  const [target, setTarget] = useState<Target>('all')
  const [inventory, setInventory] = useState('')
  const [importFolder, setImportFolder] = useState('')
  const [busy, setBusy] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [exported, setExported] = useState<UsbExportResult | null>(null)
  const [imported, setImported] = useState<UsbImportResult | null>(null)

  const complete = (lib.data?.revisions ?? []).filter(r => r.complete)
  const total = complete.filter(r => chosen.has(r.id)).reduce((a, r) => a + r.bytes, 0)
  const run = (what: string, fn: () => Promise<string>) => {
    setBusy(what)
    setError(null)
    fn()
      .then(body => {
        notify({ tone: 'ok', title: what, body })
      }, setError)
      .finally(() => {
        setBusy(null)
      })
  }
  const toggle = (id: string) => {
    setChosen(s => {
      const n = new Set(s)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return n
    })
  }

  return (
    <div class='screen'>
      <header class='screen-head'>
        <div>
          <h1>USB</h1>
          <p class='subtitle'>Carry revisions on a stick to devices and laptops without a network.</p>
        </div>
      </header>
      {error !== null && <ErrorBox error={error} title={`${busy ?? 'USB'} failed`} />}
      <section class='card' aria-labelledby='usb-export-title'>
        <h2 id='usb-export-title'>Write to a stick</h2>
        <fieldset class='fieldset'>
          <legend>Revisions</legend>
          {complete.length === 0 && <p class='muted'>No complete revision in the library.</p>}
          <ul class='checklist'>
            {complete.map(r => (
              <li key={r.id}>
                <label class='check'>
                  <input
                    type='checkbox'
                    checked={chosen.has(r.id)}
                    onChange={() => {
                      toggle(r.id)
                    }}
                  />
                  <span>
                    <span class='strong'>{r.name}</span> <code class='mono muted'>{shortId(r.id)}</code> <span class='muted'>{bytes(r.bytes)}</span>
                  </span>
                </label>
              </li>
            ))}
          </ul>
        </fieldset>
        <PathField id='usb-folder' label='Stick or folder' value={folder} onChange={setFolder} help='Choose… lists mounted sticks under “Drive:”.' />
        <fieldset class='fieldset'>
          <legend>Only what the other side lacks</legend>
          <label class='check'>
            <input
              type='radio'
              name='usb-target'
              checked={target === 'all'}
              onChange={() => {
                setTarget('all')
              }}
            />
            <span>Everything (any device or laptop)</span>
          </label>
          <label class='check'>
            <input
              type='radio'
              name='usb-target'
              checked={target === 'device'}
              onChange={() => {
                setTarget('device')
              }}
            />
            <span>
              For one device: use its inventory (<code>install.sh --inventory</code>)
            </span>
          </label>
          <label class='check'>
            <input
              type='radio'
              name='usb-target'
              checked={target === 'peer'}
              onChange={() => {
                setTarget('peer')
              }}
            />
            <span>For a colleague's laptop: use its inventory</span>
          </label>
          {target !== 'all' && <PathField id='usb-inventory' label='Inventory file' value={inventory} onChange={setInventory} files />}
        </fieldset>
        <div class='row'>
          <Button
            kind='primary'
            busy={busy === 'Write to stick'}
            disabled={chosen.size === 0 || folder === '' || (target !== 'all' && inventory === '')}
            onClick={() => {
              run('Write to stick', async () => {
                const r = await api.usb.export({
                  revs: [...chosen],
                  folder,
                  forDevice: target === 'device' ? inventory : undefined,
                  forPeer: target === 'peer' ? inventory : undefined,
                })
                setExported(r)
                return exportSummary(r)
              })
            }}
          >
            Write {plural(chosen.size, 'revision')}
            {total > 0 ? ` (${bytes(total)})` : ''}
          </Button>
          <span class='muted'>Progress shows under Transfers.</span>
        </div>
        {exported !== null && (
          <div class='callout' data-testid='usb-export-result'>
            <div class='strong'>{exportSummary(exported)}</div>
            <table class='table table-compact'>
              <thead>
                <tr>
                  <th scope='col'>Revision</th>
                  <th scope='col'>Files</th>
                  <th scope='col' class='num'>
                    Size
                  </th>
                  <th scope='col'>Objects</th>
                  <th scope='col'>On the stick</th>
                </tr>
              </thead>
              <tbody>
                {exported.revisions.map(r => (
                  <tr key={r.id}>
                    <td class='strong'>{r.name}</td>
                    <td class='mono small'>{r.files.join(', ')}</td>
                    <td class='num'>{bytes(r.bytes)}</td>
                    <td>{r.included === r.objects ? r.objects : `${r.included} of ${r.objects} (the other side lacks them)`}</td>
                    <td>{r.written ? 'written, read back' : 'already there (hashed)'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p class='muted'>
              {exported.mode === 'peer'
                ? 'On the other laptop: USB › Read a stick.'
                : `On the device, in the stick's folder: sh install.sh ${exported.revisions[0]?.name ?? 'NAME'} (README.txt on the stick says more).`}
            </p>
            <Removal sync={exported.sync} folder={exported.dir} />
          </div>
        )}
      </section>
      <section class='card' aria-labelledby='usb-import-title'>
        <h2 id='usb-import-title'>Read a stick</h2>
        <PathField id='usb-import' label='Stick or folder' value={importFolder} onChange={setImportFolder} />
        <div class='row'>
          <Button
            kind='primary'
            busy={busy === 'Import from stick'}
            disabled={importFolder === ''}
            onClick={() => {
              run('Import from stick', async () => {
                const r = await api.usb.import({ folder: importFolder })
                setImported(r)
                return `${plural(r.revisions.length, 'revision')}: ${plural(r.newObjects, 'new object')}, ${bytes(r.newBytes)}`
              })
            }}
          >
            Import from stick
          </Button>
          <Button
            busy={busy === 'Write inventory'}
            disabled={importFolder === ''}
            onClick={() => {
              run('Write inventory', async () => {
                const r = await api.usb.inventory({ folder: importFolder })
                return `${r.file} (${plural(r.objects, 'object')})`
              })
            }}
          >
            Write this laptop's inventory
          </Button>
        </div>
        {imported !== null && (
          <div class={`callout${imported.ok ? '' : ' callout-bad'}`} data-testid='usb-import-result'>
            <div class='strong'>
              {imported.ok ? 'Imported' : 'Imported with errors'}: {plural(imported.newObjects, 'new object')}, {bytes(imported.newBytes)}
            </div>
            <table class='table table-compact'>
              <thead>
                <tr>
                  <th scope='col'>Revision</th>
                  <th scope='col'>Result</th>
                  <th scope='col'>Detail</th>
                </tr>
              </thead>
              <tbody>
                {imported.revisions.map(r => (
                  <tr key={r.id}>
                    <td class='strong'>{r.name}</td>
                    <td>
                      <Badge tone={r.status === 'imported' ? 'ok' : r.status === 'existed' ? 'muted' : 'bad'}>{r.status}</Badge>
                    </td>
                    <td>
                      {r.error !== null
                        ? r.error.message
                        : `${plural(r.newObjects, 'new object')}, ${bytes(r.newBytes)}${r.complete ? '' : `; incomplete: ${r.missing} missing`}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class='help'>A colleague fills a stick with what your inventory says you lack; import it here afterwards. Every object is checked on the way in.</p>
      </section>
    </div>
  )
}

/** What an export did: written and read back, or found on the stick with the same bytes. */
function exportSummary(r: UsbExportResult): string {
  const written = r.revisions.filter(x => x.written).length
  const there = r.revisions.length - written
  if (there === 0) return `${plural(written, 'revision')}, ${bytes(r.bytes)} written and read back in ${r.dir}`
  if (written === 0) return `${r.dir} already holds ${there === 1 ? 'this revision' : `these ${there} revisions`} with the same bytes (hashed): nothing written`
  return `${r.dir}: ${plural(written, 'revision')} written and read back, ${plural(there, 'revision')} already there with the same bytes (not written again)`
}

/**
 * After a write: "Safe to remove" only once the data is on the medium, and
 * an Eject button (not automatic: the technician may write more first).
 */
function Removal(p: { sync: UsbSyncView; folder: string }) {
  const api = useApi()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [ejected, setEjected] = useState<UsbEjectResult | null>(null)
  return (
    <div class='removal' data-testid='usb-removal'>
      {p.sync.safeToRemove ? (
        <p>
          <Badge tone='ok'>Safe to remove</Badge> <span>The data is on the stick (synced). To write more, leave it in; eject it before pulling it out.</span>
        </p>
      ) : (
        <p>
          <Badge tone='warn'>Not confirmed on the stick</Badge>{' '}
          <span>{p.sync.problem ?? 'not synced'}: do not pull it out yet; eject it first (here, or in the file manager).</span>
        </p>
      )}
      <div class='row'>
        <Button
          busy={busy}
          disabled={ejected?.ejected === true}
          onClick={() => {
            setBusy(true)
            setError(null)
            api.usb
              .eject({ folder: p.folder })
              .then(setEjected, setError)
              .finally(() => {
                setBusy(false)
              })
          }}
        >
          Eject
        </Button>
        {ejected !== null && (
          <span data-testid='usb-eject-result' data-ejected={String(ejected.ejected)}>
            {ejected.ejected ? (
              <>
                <Badge tone='ok'>Ejected</Badge> {ejected.message}
              </>
            ) : (
              <>
                <Badge tone='warn'>Not ejected</Badge> {ejected.message}: {ejected.advice}
              </>
            )}
          </span>
        )}
      </div>
      {error !== null && <ErrorBox error={error} title='Eject failed' />}
    </div>
  )
}
