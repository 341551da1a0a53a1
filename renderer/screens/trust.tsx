/**
 * Trust: the CA certificates and pinned keys this library trusts for
 * Pantavisor signatures (subject, fingerprint, validity, which revisions each
 * verifies), adding one from a PEM file, removing one, and the signature
 * policy with what each mode lets through.
 */
import { useRef, useState } from 'preact/hooks'
import { POLICY_MEANINGS, TRUST_POLICIES, type TrustEntryView, type TrustPolicy } from '../../shared/api/trust.js'
import { plural } from '../format.js'
import { useClient, useResource } from '../hooks.js'
import { useCommand } from '../commands.js'
import { Badge, Button, Copy, Dialog, Empty, ErrorBox, errorParts, useNotify } from '../ui.js'

const KIND: Record<TrustEntryView['kind'], string> = { ca: 'CA', 'oem-ca': 'OEM CA', key: 'Pinned key' }

function Validity(p: { e: TrustEntryView }) {
  const e = p.e
  if (e.notAfter === null) return <span class='muted'>no expiry</span>
  const until = e.notAfter.slice(0, 10)
  if (e.validity === 'expired') return <Badge tone='warn' title='Devices do not check dates: it still verifies there'>{`expired ${until}`}</Badge>
  if (e.validity === 'not-yet-valid') return <Badge tone='warn'>{`from ${(e.notBefore ?? '').slice(0, 10)}`}</Badge>
  return <span>{`until ${until}`}</span>
}

function PolicyPanel(p: { policy: TrustPolicy; onChanged: () => void }) {
  const client = useClient()
  const notify = useNotify()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const set = (policy: TrustPolicy) => {
    setBusy(true)
    setError(null)
    client.api.trust
      .setPolicy({ policy })
      .then(r => {
        notify({ tone: 'ok', title: `Signature policy: ${r.policy}`, body: POLICY_MEANINGS[r.policy] })
        p.onChanged()
      }, setError)
      .finally(() => {
        setBusy(false)
      })
  }
  return (
    <section class='card' aria-labelledby='policy-title' id='policy'>
      <header class='card-head'>
        <h2 id='policy-title'>Signature policy</h2>
        <Badge tone='info'>{p.policy}</Badge>
      </header>
      <p class='muted'>As a device's secure-boot mode: installs and USB exports from this laptop refuse what it refuses.</p>
      <fieldset class='fieldset' disabled={busy} aria-label='Signature policy'>
        <legend class='sr-only'>Signature policy</legend>
        {TRUST_POLICIES.map(m => (
          <label key={m} class='check'>
            <input
              type='radio'
              name='policy'
              value={m}
              checked={p.policy === m}
              onChange={() => {
                set(m)
              }}
            />
            <span>
              <span class='strong mono'>{m}</span> <span class='muted small'>{POLICY_MEANINGS[m]}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {error !== null && <ErrorBox error={error} title='Cannot change the policy' />}
    </section>
  )
}

function RemoveDialog(p: { entry: TrustEntryView | null; onClose: () => void; onRemoved: () => void }) {
  const client = useClient()
  const notify = useNotify()
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const e = p.entry
  const remove = () => {
    if (e === null) return
    setBusy(true)
    client.api.trust
      .remove({ fingerprint: e.fingerprint })
      .then(() => {
        notify({ tone: 'ok', title: `No longer trusted: ${e.subject}` })
        p.onRemoved()
        p.onClose()
      }, setError)
      .finally(() => {
        setBusy(false)
      })
  }
  return (
    <Dialog
      title='Remove from the trust store'
      open={e !== null}
      onClose={() => {
        setError(null)
        p.onClose()
      }}
    >
      {e !== null && (
        <div class='form'>
          <p>
            Stop trusting <span class='strong'>{e.subject}</span> ({KIND[e.kind]})?
          </p>
          {e.verifies.length > 0 && (
            <p class='alert alert-warn'>
              {plural(e.verifies.length, 'revision')} in the library {e.verifies.length === 1 ? 'rests' : 'rest'} on it (
              {e.verifies.map(r => r.name).join(', ')}): their signatures become “Untrusted signer”.
            </p>
          )}
          {error !== null && <ErrorBox error={error} title='Cannot remove it' />}
          <footer class='dialog-foot'>
            <Button onClick={p.onClose}>Cancel</Button>
            <Button kind='danger' busy={busy} onClick={remove}>
              Remove
            </Button>
          </footer>
        </div>
      )}
    </Dialog>
  )
}

function EntryRow(p: { e: TrustEntryView; onRemove: () => void }) {
  const e = p.e
  return (
    <tr data-testid='trust-entry' data-fingerprint={e.fingerprint}>
      <td>
        <Badge tone={e.kind === 'key' ? 'muted' : 'info'}>{KIND[e.kind]}</Badge>
      </td>
      <td>
        <div class='strong'>{e.subject}</div>
        <div class='muted small'>
          {e.issuer !== null && e.issuer !== e.subject ? `issued by ${e.issuer} · ` : ''}
          {e.key}
          {!e.ca && e.kind !== 'key' ? ' · not a CA: devices do not accept it as an issuer' : ''}
        </div>
      </td>
      <td class='mono small'>
        <span title={e.fingerprint}>{e.fingerprint.slice(0, 16)}…</span> <Copy text={e.fingerprint} label={`Copy the fingerprint of ${e.subject}`} />
      </td>
      <td>
        <Validity e={e} />
      </td>
      <td data-testid='trust-verifies'>
        {e.verifies.length === 0 ? (
          <span class='muted'>none in the library</span>
        ) : (
          e.verifies.map((r, i) => (
            <span key={r.id}>
              {i > 0 ? ', ' : ''}
              <a href={`#/revision/${r.id}`}>{r.name}</a>
            </span>
          ))
        )}
      </td>
      <td class='actions'>
        <Button small kind='quiet' onClick={p.onRemove} label={`Remove ${e.subject}`}>
          Remove…
        </Button>
      </td>
    </tr>
  )
}

export function TrustScreen() {
  const client = useClient()
  const notify = useNotify()
  const view = useResource(api => api.trust.list(), [], ['revision', 'trust'])
  const input = useRef<HTMLInputElement>(null)
  const [oem, setOem] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [removing, setRemoving] = useState<TrustEntryView | null>(null)
  useCommand('trust.add', () => {
    input.current?.click()
  })

  const add = (file: File) => {
    setBusy(true)
    setError(null)
    // Trusting the same file later replaces the error about it.
    const key = `trust.add:${file.name}`
    client
      .fileRef(file)
      .then(ref => client.api.trust.add({ ...ref, oem }))
      .then(
        r => {
          const names = r.added.map(e => e.subject).join(', ')
          if (r.added.length > 0)
            notify({ tone: r.warnings.length > 0 ? 'warn' : 'ok', title: `Trusted: ${names}`, body: r.warnings.join(' ') || undefined, key })
          else notify({ tone: 'info', title: `${file.name}: already trusted`, body: r.existed.map(e => e.subject).join(', '), key })
          view.reload()
        },
        err => {
          setError(err)
          const e = errorParts(err)
          notify({ tone: 'bad', title: `Cannot trust ${file.name}`, body: e.message, key })
        },
      )
      .finally(() => {
        setBusy(false)
      })
  }

  const d = view.data
  return (
    <div class='screen'>
      <header class='screen-head'>
        <div>
          <h1>Trust</h1>
          <p class='subtitle'>The CA certificates and keys this laptop trusts for Pantavisor signatures, as your devices do.</p>
        </div>
        <div class='toolbar'>
          <input
            ref={input}
            type='file'
            class='sr-only'
            tabIndex={-1}
            aria-hidden='true'
            accept='.pem,.crt,.cer,.pub,.jwk,.json,application/x-pem-file'
            data-testid='trust-file-input'
            onChange={e => {
              const f = (e.target as HTMLInputElement).files?.[0]
              if (f !== undefined) add(f)
              ;(e.target as HTMLInputElement).value = ''
            }}
          />
          <label class='check small' title="for leaf certificates whose CN is the device's PV_OEM_NAME">
            <input
              type='checkbox'
              checked={oem}
              onChange={e => {
                setOem((e.target as HTMLInputElement).checked)
              }}
            />{' '}
            OEM truststore
          </label>
          <Button kind='primary' busy={busy} onClick={() => input.current?.click()}>
            Add CA or key…
          </Button>
        </div>
      </header>
      {error !== null && <ErrorBox error={error} title='Cannot add it' />}
      {view.error !== undefined && <ErrorBox error={view.error} title='Cannot read the trust store' onRetry={view.reload} />}
      {d !== undefined && (
        <>
          <section class='section' aria-labelledby='anchors-title'>
            <h2 id='anchors-title'>Trusted certificates and keys</h2>
            {d.entries.length === 0 ? (
              <Empty title='Nothing is trusted yet'>
                Signed revisions show “Untrusted signer” until you add the CA your devices trust: a PEM file (for development devices, the Pantavisor Dev CA),
                with <strong>Add CA or key…</strong>.
              </Empty>
            ) : (
              <div class='table-wrap'>
                <table class='table' aria-label='Trusted certificates and keys'>
                  <thead>
                    <tr>
                      <th scope='col'>Kind</th>
                      <th scope='col'>Subject</th>
                      <th scope='col'>Fingerprint (SHA-256)</th>
                      <th scope='col'>Valid</th>
                      <th scope='col'>Verifies</th>
                      <th scope='col'>
                        <span class='sr-only'>Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.entries.map(e => (
                      <EntryRow
                        key={`${e.kind}:${e.file}:${e.fingerprint}`}
                        e={e}
                        onRemove={() => {
                          setRemoving(e)
                        }}
                      />
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {d.oemName !== null && (
              <p class='muted small'>
                OEM name (PV_OEM_NAME): <code>{d.oemName}</code>
              </p>
            )}
          </section>
          <PolicyPanel policy={d.policy} onChanged={view.reload} />
        </>
      )}
      <RemoveDialog
        entry={removing}
        onClose={() => {
          setRemoving(null)
        }}
        onRemoved={view.reload}
      />
    </div>
  )
}
