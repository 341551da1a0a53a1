/**
 * SshDriver: pv-ctrl (pvctrl.ts) reached through an SSH session to the
 * device. On a Pantavisor device, port 8222 is Pantavisor's own dropbear
 * with a forced command (`fallbear-cmd`, pantavisor debug.c): the login
 * name selects the container the command runs in (`pvr-sdk`, the
 * management container of stock images; `_pv_` for Pantavisor's own
 * namespace on debug builds), and a name that is no container gets "no
 * container found: <name>". Each request is a `curl --unix-socket` command
 * with pvcontrol's flags (pvctrl-shell.ts); object bytes stream into
 * curl's stdin with an explicit Content-Length. The host key is shown and
 * pinned on first use (known-devices.ts). A session that drops (the device
 * rebooted) is opened again on the next call.
 */
import { readFile } from 'node:fs/promises'
import { Transform, type Readable } from 'node:stream'
import type { Client, ClientChannel, ConnectConfig } from 'ssh2'
import { AbortedError, DeviceRefusedError, DeviceUnreachableError, TimeoutError, UsageError } from '../../../shared/errors.js'
import { answerError } from './answers.js'
import type { HostKeyInfo, KnownDevices } from './known-devices.js'
import { curlCommand, NO_CURL_EXIT, NO_SOCKET_EXIT, splitAnswer } from './pvctrl-shell.js'
import { PvCtrlDriver, type PvCtrlAnswer, type PvCtrlRequest, type PvCtrlTransport } from './pvctrl.js'

export const SSH_DEFAULT_PORT = 8222

export interface SshOptions {
  host: string
  port: number
  username: string
  privateKeyFile?: string
  passphrase?: string
  password?: string
  /** Path of an ssh-agent socket. */
  agent?: string
  /** pv-ctrl socket inside the container (default: pvcontrol's paths). */
  socket?: string
  known: KnownDevices
  onHostKey?: (info: HostKeyInfo) => void
  readyTimeoutMs?: number
}

interface ExecResult { code: number | null, stdout: Buffer, stderr: string }

/** The login name fallbear-cmd gives when it finds no container of that name. */
const NO_CONTAINER = /no container found:\s*(\S*)/

export class SshTransport implements PvCtrlTransport {
  readonly target: string
  private client: Client | null = null
  private keyError: Error | null = null

  constructor (private readonly o: SshOptions) {
    this.target = `${o.username}@${o.host}:${o.port}`
  }

  async open (signal: AbortSignal): Promise<void> {
    await this.connect(signal)
  }

  private async connect (signal: AbortSignal): Promise<Client> {
    if (this.client !== null) return this.client
    const o = this.o
    if (o.privateKeyFile === undefined && o.password === undefined && o.agent === undefined) {
      throw new UsageError(`${this.target}: give --ssh-key FILE, --ssh-password-env VAR, or run an ssh-agent`)
    }
    const cfg: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.username,
      readyTimeout: o.readyTimeoutMs ?? 15_000,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        o.known.check(o.host, o.port, key).then(info => { o.onHostKey?.(info); verify(true) }, (err: Error) => { this.keyError = err; verify(false) })
      },
    }
    if (o.privateKeyFile !== undefined) {
      cfg.privateKey = await readFile(o.privateKeyFile).catch((err: Error) => { throw new UsageError(`--ssh-key ${o.privateKeyFile}: ${err.message}`) })
      if (o.passphrase !== undefined) cfg.passphrase = o.passphrase
    }
    if (o.password !== undefined) cfg.password = o.password
    if (o.agent !== undefined) cfg.agent = o.agent
    const { Client: SshClient } = await import('ssh2') // loaded only when a device is reached by ssh
    const c = new SshClient()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { c.end(); reject(new AbortedError(`${this.target}: cancelled`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      c.once('ready', () => { signal.removeEventListener('abort', onAbort); resolve() })
      c.once('error', (err: Error & { level?: string }) => {
        signal.removeEventListener('abort', onAbort)
        if (this.keyError !== null) { reject(this.keyError); return }
        if (err.level === 'client-authentication') { reject(new DeviceRefusedError(`${this.target}: SSH authentication failed (${err.message}); check --ssh-user and the key or password`, { device: this.target })); return }
        reject(new DeviceUnreachableError(`${this.target}: SSH connection failed: ${err.message}`, { device: this.target }, { cause: err }))
      })
      c.connect(cfg)
    })
    c.on('error', () => {})
    c.on('close', () => { if (this.client === c) this.client = null })
    this.client = c
    return c
  }

  async close (): Promise<void> {
    this.client?.end()
    this.client = null
  }

  private async exec (cmd: string, input: Buffer | Readable | null, signal: AbortSignal, onBytes?: (n: number) => void): Promise<ExecResult> {
    const c = await this.connect(signal)
    const ch = await new Promise<ClientChannel>((resolve, reject) => {
      c.exec(cmd, (err, stream) => {
        if (err !== undefined && err !== null) { reject(new DeviceUnreachableError(`${this.target}: cannot run a command over SSH: ${err.message}`, { device: this.target }, { cause: err })); return }
        resolve(stream)
      })
    })
    return await new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = []
      let err = ''
      let code: number | null = null
      const onAbort = (): void => { ch.close(); reject(new AbortedError(`${this.target}: cancelled`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      ch.on('data', (d: Buffer) => { out.push(d) })
      ch.stderr.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString() })
      ch.on('exit', (c2: number | null) => { code = c2 })
      ch.on('close', () => {
        signal.removeEventListener('abort', onAbort)
        resolve({ code, stdout: Buffer.concat(out), stderr: err.trim() })
      })
      if (input === null) ch.end()
      else if (Buffer.isBuffer(input)) ch.end(input)
      else {
        const count = new Transform({ transform (chunk: Buffer, _e, cb) { onBytes?.(chunk.length); cb(null, chunk) } })
        input.on('error', (e) => { ch.close(); reject(e) })
        input.pipe(count).pipe(ch)
      }
    })
  }

  /** One pv-ctrl request; transport failures become typed errors. */
  async exchange (r: PvCtrlRequest, what: string, input: Buffer | Readable | null, signal: AbortSignal, onBytes?: (n: number) => void): Promise<PvCtrlAnswer> {
    const res = await this.exec(curlCommand(r, this.o.socket ?? null), input, signal, onBytes)
    if (res.code === 0) return { ...splitAnswer(res.stdout), retryAfter: null }
    const detail = res.stderr === '' ? `exit ${String(res.code)}` : res.stderr
    const nc = NO_CONTAINER.exec(res.stderr)
    if (nc !== null) {
      throw new DeviceRefusedError(`${this.target}: the device has no container named ${JSON.stringify(this.o.username)} to log in to ("${nc[0]}"); ` +
        'on a Pantavisor device the SSH login name is the container to enter: log in as its management container (usually pvr-sdk) with --ssh-user', { device: this.target, container: this.o.username })
    }
    switch (res.code) {
      case NO_CURL_EXIT: throw new DeviceRefusedError(`${this.target}: ${detail}; Fieldsync needs curl there to reach pv-ctrl`, { device: this.target })
      case NO_SOCKET_EXIT:
      case 7: throw new DeviceUnreachableError(`${this.target}: pv-ctrl does not answer (${detail})`, { device: this.target, exit: res.code })
      case 28: throw new TimeoutError(`${this.target}: ${what}: pv-ctrl took too long (${detail})`, { device: this.target })
      case 18: case 52: case 55: case 56:
        throw new DeviceUnreachableError(`${this.target}: ${what}: the connection to pv-ctrl dropped (${detail})`, { device: this.target, exit: res.code })
      case null: throw new DeviceUnreachableError(`${this.target}: ${what}: the SSH session ended (${detail})`, { device: this.target })
      default: throw answerError(0, detail, 'other', what, this.target)
    }
  }
}

/** A device reached by SSH: pv-ctrl driven with curl inside the container the login name selects. */
export class SshDriver extends PvCtrlDriver {
  constructor (o: SshOptions) {
    super('ssh', new SshTransport(o))
  }
}
