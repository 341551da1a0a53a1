/** The install wizard: pick revision and device → preflight plan → confirm → upload and device progress to a final state. */
import { useState } from 'preact/hooks'
import {
  FINAL_INSTALL_STATUSES,
  installSucceeded,
  type InstallPlan,
  type InstallProgress,
  type InstallResult,
  type TransferInfo,
} from '../../shared/api/types.js'
import { useInfo } from '../app-context.js'
import { bytes, duration, plural, rate, shortId } from '../format.js'
import { go, useApi, useEvent, useResource } from '../hooks.js'
import { Badge, Button, ErrorBox, NotAvailable, ProgressBar } from '../ui.js'
import { statusTone } from './device-parts.js'
import { PlanComposition } from './plan-composition.js'
import { EMPTY_SSH, PlanConnection, sshCredentials, SshFields, type SshForm } from './install-ssh.js'

const STAGES = ['NEW', 'INPROGRESS', 'TESTING'] as const
const FINAL = new Set(FINAL_INSTALL_STATUSES)

/**
 * The device's stages: those it was seen in are passed (green), the one it
 * ended in when it failed is red, and stages it never reached stay grey. A
 * failed install never paints a stage it did not pass.
 */
export function Timeline(p: { status: string | null; seen: readonly string[] }) {
  const final = p.status !== null && FINAL.has(p.status) ? p.status : null
  const failed = final !== null && !installSucceeded(final)
  const last = Math.max(-1, ...p.seen.map(s => STAGES.indexOf(s as (typeof STAGES)[number])))
  const cls = (i: number): string => {
    if (final === null) {
      const cur = p.status === null ? -1 : STAGES.indexOf(p.status as (typeof STAGES)[number])
      return i < cur ? 'tl-done' : i === cur ? 'tl-current' : 'tl-todo'
    }
    if (!failed) return 'tl-done'
    return i < last ? 'tl-done' : i === last ? 'tl-failed' : 'tl-todo'
  }
  return (
    <ol class='timeline' aria-label='Device progress'>
      {STAGES.map((s, i) => (
        <li key={s} class={cls(i)} data-stage={s} data-state={cls(i).slice(3)}>
          {s}
        </li>
      ))}
      <li
        class={final !== null ? `tl-final tl-${statusTone(final)}` : 'tl-todo'}
        data-stage='final'
        data-state={final === null ? 'todo' : failed ? 'failed' : 'done'}
      >
        {final ?? 'DONE / UPDATED'}
      </li>
    </ol>
  )
}

/** What was sent, at what rate over the upload alone, and the device's run with its own time. */
function sentText(r: InstallResult): string {
  const run = `the device's run ${duration(Math.max(0, r.seconds - r.uploadSeconds))}`
  if (r.bytesSent === 0) return `nothing sent; ${run}`
  const speed = r.uploadSeconds > 0 ? ` at ${rate(r.bytesSent / r.uploadSeconds)}` : ''
  return `sent ${bytes(r.bytesSent)} (${plural(r.objectsSent, 'object')}) in ${duration(r.uploadSeconds)}${speed}; ${run}`
}

export function InstallWizard(p: { rev?: string; device?: string; transfers: TransferInfo[] }) {
  const api = useApi()
  const info = useInfo()
  const lib = useResource(a => a.library.list(), [], ['revision'])
  const devs = useResource(a => (info.capabilities.devices ? a.devices.list() : Promise.resolve([])), [info.capabilities.devices], ['device'])
  const [rev, setRev] = useState(p.rev !== undefined && p.rev !== '-' ? p.rev : '')
  const [device, setDevice] = useState(p.device ?? '')
  const [via, setVia] = useState<'' | 'pvr-sdk' | 'ssh'>('')
  const [commit, setCommit] = useState(false)
  const [ssh, setSsh] = useState<SshForm>(EMPTY_SSH)
  const [plan, setPlan] = useState<InstallPlan | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [running, setRunning] = useState(false)
  const [progress, setProgress] = useState<InstallProgress | null>(null)
  const [result, setResult] = useState<InstallResult | null>(null)
  const [seen, setSeen] = useState<string[]>([])

  useEvent('install', e => {
    if (!running || (e.device !== device && e.device !== plan?.device)) return
    setProgress(e)
    const st = e.status
    if (st !== null) setSeen(x => (x.includes(st) ? x : [...x, st]))
  })

  if (!info.capabilities.devices)
    return (
      <div class='screen'>
        <NotAvailable title='Installs are not available yet'>
          <p>Installing onto devices over the network is not in this build yet.</p>
        </NotAvailable>
      </div>
    )

  const complete = (lib.data?.revisions ?? []).filter(r => r.complete)
  const check = () => {
    setBusy(true)
    setError(null)
    setPlan(null)
    setResult(null)
    setProgress(null)
    api.devices
      .plan({ rev, device, via: via === '' ? undefined : via, commit, ...(via === 'ssh' ? { ssh: sshCredentials(ssh) } : {}) })
      .then(setPlan, setError)
      .finally(() => {
        setBusy(false)
      })
  }
  const install = () => {
    if (plan === null) return
    setRunning(true)
    setError(null)
    setProgress(null)
    setResult(null)
    setSeen([])
    api.devices
      .install({ rev, device, via: plan.via, commit, ...(plan.via === 'ssh' ? { ssh: sshCredentials(ssh) } : {}) })
      .then(setResult, setError)
      .finally(() => {
        setRunning(false)
      })
  }
  const transfer = progress !== null ? p.transfers.find(t => t.id === progress.transferId) : undefined
  const status = result?.status ?? progress?.status ?? null
  const step = running || result !== null ? 3 : plan !== null ? 2 : 1

  return (
    <div class='screen'>
      <nav class='crumbs' aria-label='Breadcrumb'>
        <a href='#/devices'>Devices</a> <span aria-hidden='true'>›</span> <span>Install</span>
      </nav>
      <header class='screen-head'>
        <div>
          <h1>Install a revision</h1>
          <ol class='steps' aria-label='Steps'>
            {['Choose', 'Check the plan', 'Install'].map((s, i) => (
              <li key={s} class={i + 1 === step ? 'step-current' : i + 1 < step ? 'step-done' : ''} aria-current={i + 1 === step ? 'step' : undefined}>
                {i + 1}. {s}
              </li>
            ))}
          </ol>
        </div>
      </header>

      <section class='card' aria-labelledby='choose-title'>
        <h2 id='choose-title'>1. Choose</h2>
        <div class='grid-2'>
          <div class='field'>
            <label for='inst-rev'>Revision</label>
            <select
              id='inst-rev'
              class='input'
              value={rev}
              disabled={running}
              onChange={e => {
                setRev((e.target as HTMLSelectElement).value)
                setPlan(null)
              }}
            >
              <option value=''>choose a complete revision…</option>
              {complete.map(r => (
                <option key={r.id} value={r.id}>
                  {r.name} ({shortId(r.id)}, {bytes(r.bytes)})
                </option>
              ))}
            </select>
          </div>
          <div class='field'>
            <label for='inst-dev'>Device</label>
            <select
              id='inst-dev'
              class='input'
              value={device}
              disabled={running}
              onChange={e => {
                setDevice((e.target as HTMLSelectElement).value)
                setPlan(null)
              }}
            >
              <option value=''>choose a device…</option>
              {(devs.data ?? []).map(d => (
                <option key={d.deviceId} value={d.deviceId}>
                  {d.name} ({d.addrs[0] ?? d.deviceId})
                </option>
              ))}
            </select>
          </div>
          <div class='field'>
            <label for='inst-via'>Connection</label>
            <select
              id='inst-via'
              class='input'
              value={via}
              disabled={running}
              onChange={e => {
                setVia((e.target as HTMLSelectElement).value as '' | 'pvr-sdk' | 'ssh')
                setPlan(null)
              }}
            >
              <option value=''>automatic</option>
              <option value='pvr-sdk'>pvr-sdk (HTTP)</option>
              <option value='ssh'>SSH</option>
            </select>
          </div>
          <label class='check'>
            <input
              type='checkbox'
              checked={commit}
              disabled={running}
              onChange={e => {
                setCommit((e.target as HTMLInputElement).checked)
                setPlan(null)
              }}
            />{' '}
            Commit: reboot into it and keep it as a rollback point (SSH or pv-ctrl; pvr-sdk cannot)
          </label>
        </div>
        {via === 'ssh' && (
          <SshFields
            value={ssh}
            disabled={running}
            onChange={f => {
              setSsh(f)
              setPlan(null)
            }}
          />
        )}
        <div class='row'>
          <Button kind={plan === null ? 'primary' : 'plain'} busy={busy} disabled={rev === '' || device === '' || running} onClick={check}>
            Check the plan
          </Button>
        </div>
      </section>

      {plan !== null && (
        <section class='card' aria-labelledby='plan-title' data-testid='install-plan'>
          <h2 id='plan-title'>2. Plan</h2>
          <dl class='facts'>
            <div>
              <dt>Send</dt>
              <dd class='strong'>
                {bytes(plan.bytesToSend)} in {plural(plan.objectsToSend, 'object')}
              </dd>
            </div>
            <div>
              <dt>Already on the device</dt>
              <dd>
                {plan.objectsTotal - plan.objectsToSend} of {plan.objectsTotal} objects
              </dd>
            </div>
            <div>
              <dt>Device runs</dt>
              <dd data-testid='plan-running'>
                {plan.alreadyRunning === true ? (
                  <Badge tone='info'>already running this revision</Badge>
                ) : plan.alreadyRunning === false ? (
                  'another revision'
                ) : (
                  <span class='muted'>cannot tell through {plan.via}</span>
                )}
              </dd>
            </div>
            <div>
              <dt>Upload time</dt>
              <dd data-testid='plan-upload-time'>{plan.bytesToSend === 0 ? 'no transfer: nothing to send' : `about ${duration(plan.uploadSeconds)}`}</dd>
            </div>
            <div>
              <dt>Then the device's run</dt>
              <dd>
                about {duration(plan.runSeconds)} <span class='muted'>(INPROGRESS, TESTING, maybe a reboot)</span>
              </dd>
            </div>
            <div>
              <dt>Free on the device</dt>
              <dd>{plan.freeBytes === null ? 'unknown' : bytes(plan.freeBytes)}</dd>
            </div>
            <div>
              <dt>Step</dt>
              <dd class='mono'>{plan.step}</dd>
            </div>
            <div>
              <dt>Via</dt>
              <dd>{plan.via}</dd>
            </div>
          </dl>
          <PlanConnection plan={plan} commitAsked={commit} />
          <PlanComposition c={plan.composition ?? null} />
          {plan.problems.length > 0 && (
            <div class='alert alert-bad' role='alert'>
              <div class='alert-title'>This install would be refused</div>
              <ul>
                {plan.problems.map(x => (
                  <li key={x}>{x}</li>
                ))}
              </ul>
            </div>
          )}
          {plan.notes.length > 0 && (
            <div class='alert alert-warn' data-testid='plan-notes'>
              <div class='alert-title'>What this connection cannot check</div>
              <ul>
                {plan.notes.map(x => (
                  <li key={x}>{x}</li>
                ))}
              </ul>
            </div>
          )}
          <div class='row'>
            <Button kind='primary' disabled={plan.problems.length > 0 || running || result !== null} busy={running} onClick={install}>
              {plan.alreadyRunning === true ? `Install ${plan.revision.name} again` : `Install ${plan.revision.name} now`}
            </Button>
            <span class='muted'>
              {result === null
                ? 'The device runs it as soon as every object is there.'
                : installSucceeded(result.status)
                  ? 'Installed: check the plan again to install once more.'
                  : 'It failed: check the plan again to retry; nothing the device has already is sent again.'}
            </span>
          </div>
        </section>
      )}

      {(running || result !== null || progress !== null) && (
        <section class='card' aria-labelledby='run-title' data-testid='install-run'>
          <h2 id='run-title'>3. Install</h2>
          {transfer !== undefined &&
            (transfer.totalBytes === 0 ? (
              <p class='muted' data-testid='install-upload'>
                Nothing to send: the device has every object.
              </p>
            ) : (
              <div class='active-row' data-testid='install-upload'>
                <span class='active-label'>Upload</span>
                <ProgressBar
                  done={transfer.bytes}
                  total={transfer.totalBytes}
                  label='upload progress'
                  running={transfer.state === 'running'}
                  tone={transfer.state === 'failed' ? 'bad' : transfer.state === 'running' ? 'info' : 'ok'}
                />
                <span class='muted num'>
                  {bytes(transfer.bytes)}
                  {transfer.totalBytes !== null ? ` of ${bytes(transfer.totalBytes)}` : ''}
                  {transfer.state === 'running' && transfer.bytes !== transfer.totalBytes
                    ? ` · ${rate(transfer.rate)} · ETA ${duration(transfer.etaSeconds)}`
                    : ''}
                </span>
              </div>
            ))}
          <Timeline status={status} seen={seen} />
          <div class='row'>
            {status !== null && (
              <Badge tone={statusTone(status)}>
                <span data-testid='install-status'>{status}</span>
              </Badge>
            )}
            {progress?.progress != null && <span class='muted'>{progress.progress}%</span>}
            <span>{result?.statusMsg ?? progress?.statusMsg ?? (running ? 'working…' : '')}</span>
          </div>
          {result !== null &&
            (installSucceeded(result.status) ? (
              <div class='alert alert-ok' role='status' data-testid='install-outcome'>
                <div class='alert-title'>Installed: {result.status}</div>
                <div class='alert-body'>
                  {result.statusMsg} — {sentText(result)}; step <code>{result.step}</code>.
                </div>
                <div class='alert-actions'>
                  <Button
                    small
                    onClick={() => {
                      go('devices')
                    }}
                  >
                    Back to devices
                  </Button>
                </div>
              </div>
            ) : (
              <div class='alert alert-bad' role='alert' data-testid='install-outcome'>
                <div class='alert-title'>{result.statusMsg !== '' ? result.statusMsg : `The device ended in ${result.status}`}</div>
                <div class='alert-body'>
                  Not installed: the device ended in {result.status} (step <code>{result.step}</code>); {sentText(result)}.
                </div>
                <div class='alert-actions'>
                  <Button
                    small
                    onClick={() => {
                      go('devices')
                    }}
                  >
                    Back to devices
                  </Button>
                </div>
              </div>
            ))}
        </section>
      )}
      {error !== null && <ErrorBox error={error} title={plan === null ? 'Cannot make a plan' : 'Install failed'} />}
    </div>
  )
}
