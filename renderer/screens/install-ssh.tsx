/**
 * The SSH side of the install wizard: the credentials (key file, password,
 * or the app's ssh-agent) and the container to log in as, and what the plan
 * says of the login (the container entered and why, the host key to pin on
 * first use) and of committing.
 */
import type { InstallPlan, SshCredentials } from '../../shared/api/types.js'
import { Badge } from '../ui.js'

export interface SshForm {
  container: string
  keyFile: string
  password: string
  agent: boolean
  port: string
}

export const EMPTY_SSH: SshForm = { container: '', keyFile: '', password: '', agent: false, port: '' }

/** The request's `ssh` from the form: empty fields left out. */
export function sshCredentials(f: SshForm): SshCredentials {
  const c: SshCredentials = {}
  if (f.container.trim() !== '') c.container = f.container.trim()
  if (f.keyFile.trim() !== '') c.keyFile = f.keyFile.trim()
  if (f.password !== '') c.password = f.password
  if (f.agent) c.agent = true
  const port = Number(f.port)
  if (f.port.trim() !== '' && Number.isInteger(port)) c.port = port
  return c
}

export function SshFields(p: { value: SshForm; disabled: boolean; onChange: (f: SshForm) => void }) {
  const f = p.value
  const set = (k: keyof SshForm) => (e: Event) => {
    const t = e.target as HTMLInputElement
    p.onChange({ ...f, [k]: k === 'agent' ? t.checked : t.value })
  }
  return (
    <fieldset class='fieldset' data-testid='ssh-fields'>
      <legend>SSH login</legend>
      <div class='grid-2'>
        <div class='field'>
          <label for='ssh-key'>Private key file</label>
          <input id='ssh-key' class='input mono' placeholder='/home/me/.ssh/id_ed25519' value={f.keyFile} disabled={p.disabled} onInput={set('keyFile')} />
        </div>
        <div class='field'>
          <label for='ssh-password'>Password</label>
          <input id='ssh-password' class='input' type='password' autocomplete='off' value={f.password} disabled={p.disabled} onInput={set('password')} />
        </div>
        <div class='field'>
          <label for='ssh-container'>SSH container</label>
          <input
            id='ssh-container'
            class='input mono'
            placeholder='from the device (pvr-sdk on stock images)'
            value={f.container}
            disabled={p.disabled}
            onInput={set('container')}
          />
          <span class='muted'>
            On a Pantavisor device the login name is the container to enter: its management container. Remembered for this device once it works.
          </span>
        </div>
        <div class='field'>
          <label for='ssh-port'>Port</label>
          <input id='ssh-port' class='input num' inputMode='numeric' placeholder='8222' value={f.port} disabled={p.disabled} onInput={set('port')} />
        </div>
        <label class='check'>
          <input id='ssh-agent' type='checkbox' checked={f.agent} disabled={p.disabled} onChange={set('agent')} /> Use the ssh-agent
        </label>
      </div>
    </fieldset>
  )
}

const SOURCES: Record<string, string> = {
  flag: 'as you chose',
  state: "the device's state gives it the management role",
  setting: 'remembered for this device',
  default: 'the management container of stock images',
}

/** What the plan says of committing and, over SSH, of the login and the host key. */
export function PlanConnection(p: { plan: InstallPlan; commitAsked: boolean }) {
  const { plan } = p
  const ssh = plan.ssh ?? null
  return (
    <dl class='facts' data-testid='plan-connection'>
      <div>
        <dt>Commit</dt>
        <dd data-testid='plan-commit' data-possible={String(plan.commit.possible)}>
          {plan.commit.possible ? (
            <Badge tone='ok'>possible via {plan.via}</Badge>
          ) : (
            <Badge tone={p.commitAsked ? 'bad' : 'warn'}>not possible via {plan.via}</Badge>
          )}
          <div class='muted'>{plan.commit.reason}</div>
        </dd>
      </div>
      {ssh !== null && (
        <div>
          <dt>Logged in as</dt>
          <dd data-testid='plan-ssh-container'>
            <span class='mono'>{ssh.container}</span> <span class='muted'>({SOURCES[ssh.source] ?? ssh.source})</span>
            {ssh.next !== ssh.container && (
              <div class='muted'>
                The state the device runs gives the management role to <span class='mono'>{ssh.next}</span>: next time Fieldsync logs in as it.
              </div>
            )}
          </dd>
        </div>
      )}
      {ssh?.hostKey != null && (
        <div>
          <dt>Device's host key</dt>
          <dd data-testid='plan-host-key' data-pinned={ssh.hostKey.pinned}>
            <span class='mono'>
              {ssh.hostKey.type} {ssh.hostKey.fingerprint}
            </span>
            <div class='muted'>
              {ssh.hostKey.pinned === 'new'
                ? 'First connection: pinned now. Compare it with the fingerprint the device shows; a device that later shows another key is refused.'
                : 'Matches the key pinned for this device.'}
            </div>
          </dd>
        </div>
      )}
    </dl>
  )
}
