/**
 * SshDriver: an SSH session (ssh2) to the device's management container
 * (pvr-sdk), driving pv-ctrl through its Unix socket with the requests
 * pvcontrol makes, as `curl --unix-socket` commands (pvctrl-shell.ts).
 * Object bytes stream into curl's stdin with an explicit Content-Length.
 * The host key is shown and pinned on first use (known-devices.ts). A
 * session that drops (the device rebooted) is opened again on the next call.
 */
import { readFile } from 'node:fs/promises'
import { Transform, type Readable } from 'node:stream'
import type { Client, ClientChannel, ConnectConfig } from 'ssh2'
import { AbortedError, DeviceRefusedError, DeviceUnreachableError, TimeoutError, UsageError } from '../../../shared/errors.js'
import { answerError, type RequestKind } from './answers.js'
import type { HostKeyInfo, KnownDevices } from './known-devices.js'
import { curlCommand, NO_CURL_EXIT, NO_SOCKET_EXIT, splitAnswer, type CurlRequest } from './pvctrl-shell.js'
import { parseDeviceMeta, parseObjectList, parseProgress, type DeviceDriver, type DeviceMeta, type ObjectNeed, type StepProgress, type UploadOptions } from './types.js'

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

export class SshDriver implements DeviceDriver {
  readonly via = 'ssh' as const
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
  private async request (r: CurlRequest, kind: RequestKind, what: string, signal: AbortSignal, input: Buffer | Readable | null = null, onBytes?: (n: number) => void): Promise<{ status: number, body: string }> {
    const res = await this.exec(curlCommand(r, this.o.socket ?? null), input, signal, onBytes)
    if (res.code === 0) return splitAnswer(res.stdout)
    const detail = res.stderr === '' ? `exit ${String(res.code)}` : res.stderr
    switch (res.code) {
      case NO_CURL_EXIT: throw new DeviceRefusedError(`${this.target}: ${detail}; Fieldsync needs curl there to reach pv-ctrl`, { device: this.target })
      case NO_SOCKET_EXIT:
      case 7: throw new DeviceUnreachableError(`${this.target}: pv-ctrl does not answer (${detail})`, { device: this.target, exit: res.code })
      case 28: throw new TimeoutError(`${this.target}: ${what}: pv-ctrl took too long (${detail})`, { device: this.target })
      case 18: case 52: case 55: case 56:
        throw new DeviceUnreachableError(`${this.target}: ${what}: the connection to pv-ctrl dropped (${detail})`, { device: this.target, exit: res.code })
      case null: throw new DeviceUnreachableError(`${this.target}: ${what}: the SSH session ended (${detail})`, { device: this.target })
      default: throw answerError(0, detail, kind, what, this.target)
    }
  }

  async meta (signal: AbortSignal): Promise<DeviceMeta> {
    const a = await this.request({ method: 'GET', path: '/device-meta' }, 'other', 'device-meta', signal)
    if (a.status !== 200) throw answerError(a.status, a.body, 'other', 'device-meta', this.target)
    return parseDeviceMeta(a.body, this.target)
  }

  async lacking (want: ObjectNeed[], signal: AbortSignal): Promise<Set<string>> {
    const a = await this.request({ method: 'GET', path: '/objects' }, 'other', 'object list', signal)
    if (a.status !== 200) throw answerError(a.status, a.body, 'other', 'object list', this.target)
    const have = parseObjectList(a.body, this.target)
    return new Set(want.filter(o => have.get(o.sha) !== o.size).map(o => o.sha))
  }

  async putObject (o: ObjectNeed, source: () => Readable, opts: UploadOptions): Promise<void> {
    const what = `object ${o.sha}`
    const a = await this.request({ method: 'PUT', path: `/objects/${o.sha}`, uploadLength: o.size, maxTimeS: 14400 }, 'object', what, opts.signal, source(), opts.onBytes)
    if (a.status !== 200) throw answerError(a.status, a.body, 'object', what, this.target)
  }

  async putStep (step: string, raw: Uint8Array, commitMsg: string | null, signal: AbortSignal): Promise<void> {
    const what = `step ${step}`
    const a = await this.request({ method: 'PUT', path: `/steps/${step}`, uploadLength: raw.byteLength, contentType: 'application/json' }, 'step', what, signal, Buffer.from(raw))
    if (a.status !== 200) throw answerError(a.status, a.body, 'step', what, this.target)
    if (commitMsg === null || commitMsg === '') return
    const m = await this.request({ method: 'PUT', path: `/steps/${step}/commitmsg`, data: true, contentType: 'text/plain' }, 'other', `commit message of ${step}`, signal, Buffer.from(commitMsg))
    if (m.status !== 200) throw answerError(m.status, m.body, 'other', `commit message of ${step}`, this.target)
  }

  async run (step: string, commit: boolean, signal: AbortSignal): Promise<void> {
    const body = Buffer.from(JSON.stringify({ op: commit ? 'LOCAL_RUN_COMMIT' : 'LOCAL_RUN', payload: step }))
    const a = await this.request({ method: 'POST', path: '/commands', data: true }, 'command', `run ${step}`, signal, body)
    if (a.status !== 200) throw answerError(a.status, a.body, 'command', `run ${step}`, this.target)
  }

  async progress (step: string, signal: AbortSignal): Promise<StepProgress | null> {
    const a = await this.request({ method: 'GET', path: `/steps/${step}/progress` }, 'other', `progress of ${step}`, signal)
    if (a.status === 404) return null
    if (a.status !== 200) throw answerError(a.status, a.body, 'other', `progress of ${step}`, this.target)
    return parseProgress(a.body, this.target)
  }
}
