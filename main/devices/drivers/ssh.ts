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
import { AbortedError, DeviceRefusedError, DeviceUnreachableError, ProtocolError, TimeoutError, UsageError } from '../../../shared/errors.js'
import { parseState, revisionId } from '../../../shared/state/index.js'
import { DEFAULT_SSH_CONTAINER as DEFAULT_LOGIN, mgmtContainers } from '../ssh-login.js'
import { formatBytes } from '../../../shared/units.js'
import { REHASH_RATE, STALL_MS } from './http.js'
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
  /** A command that goes quiet this long is closed (default 30 s). */
  stallMs?: number
  /** The device as the technician calls it, for messages (default: host:port). */
  device?: string
  /** Management containers known from the state the device ran, for the advice when the login name is wrong. */
  mgmtKnown?: readonly string[]
  /** What to do to log in as `container`, in the front end's terms (default: the CLI flag). */
  howToChoose?: (container: string) => string
  /** After open: the login worked and reached pv-ctrl; the state the device runs, when it could be read. */
  onLogin?: (login: SshLogin) => void
}

/** A login that reached pv-ctrl, with what the device's running state says of its containers. */
export interface SshLogin {
  container: string
  /** Management containers of the running state, best first (ssh-login.ts); null when it could not be read. */
  mgmt: string[] | null
  revision: string | null
}

/** The largest answer read from a device command unless a request says otherwise (a state JSON, an object list). */
const MAX_ANSWER = 64 * 1024 * 1024

/** A device's stderr, shown in messages: one line of printable text. */
function sanitizeLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '').slice(0, 2000)
}

interface ExecResult {
  code: number | null
  stdout: Buffer
  stderr: string
}

/** The login name fallbear-cmd gives when it finds no container of that name. */
const NO_CONTAINER = /no container found:\s*(\S*)/

export class SshTransport implements PvCtrlTransport {
  readonly target: string
  private client: Client | null = null
  private keyError: Error | null = null

  constructor(private readonly o: SshOptions) {
    this.target = `${o.username}@${o.host}:${o.port}`
  }

  async open(signal: AbortSignal): Promise<void> {
    await this.connect(signal)
  }

  private async connect(signal: AbortSignal): Promise<Client> {
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
        o.known.check(o.host, o.port, key).then(
          info => {
            o.onHostKey?.(info)
            verify(true)
          },
          (err: Error) => {
            this.keyError = err
            verify(false)
          },
        )
      },
    }
    if (o.privateKeyFile !== undefined) {
      cfg.privateKey = await readFile(o.privateKeyFile).catch((err: Error) => {
        throw new UsageError(`SSH key file ${o.privateKeyFile}: cannot read it (${err.message}); give the path of a private key`)
      })
      if (o.passphrase !== undefined) cfg.passphrase = o.passphrase
    }
    if (o.password !== undefined) cfg.password = o.password
    if (o.agent !== undefined) cfg.agent = o.agent
    const { Client: SshClient } = await import('ssh2') // loaded only when a device is reached by ssh
    const c = new SshClient()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        c.end()
        reject(new AbortedError(`${this.target}: cancelled`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      c.once('ready', () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      })
      c.once('error', (err: Error & { level?: string }) => {
        signal.removeEventListener('abort', onAbort)
        if (this.keyError !== null) {
          reject(this.keyError)
          return
        }
        if (err.level === 'client-authentication') {
          reject(
            new DeviceRefusedError(`${this.target}: SSH authentication failed (${err.message}); check --ssh-user and the key or password`, {
              device: this.target,
            }),
          )
          return
        }
        reject(new DeviceUnreachableError(`${this.target}: SSH connection failed: ${err.message}`, { device: this.target }, { cause: err }))
      })
      c.connect(cfg)
    })
    c.on('error', () => {})
    c.on('close', () => {
      if (this.client === c) this.client = null
    })
    this.client = c
    return c
  }

  async close(): Promise<void> {
    this.client?.end()
    this.client = null
  }

  /**
   * Run one command in the device. Bounded whatever the device does: its
   * output is capped (maxOut), a command that goes quiet for stallMs (no
   * output, no input taken) or runs past deadlineMs is closed.
   */
  private async exec(
    cmd: string,
    input: Buffer | Readable | null,
    signal: AbortSignal,
    lim: { maxOut: number; deadlineMs: number; afterInputMs: number },
    onBytes?: (n: number) => void,
  ): Promise<ExecResult> {
    const c = await this.connect(signal)
    const ch = await new Promise<ClientChannel>((resolve, reject) => {
      c.exec(cmd, (err, stream) => {
        if (err !== undefined && err !== null) {
          reject(new DeviceUnreachableError(`${this.target}: cannot run a command over SSH: ${err.message}`, { device: this.target }, { cause: err }))
          return
        }
        resolve(stream)
      })
    })
    const stallMs = this.o.stallMs ?? STALL_MS
    return await new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = []
      let outBytes = 0
      let err = ''
      let code: number | null = null
      let settled = false
      const finish = (e: Error | null, r?: ExecResult): void => {
        if (settled) return
        settled = true
        clearTimeout(idle)
        clearTimeout(hard)
        signal.removeEventListener('abort', onAbort)
        if (e !== null) {
          ch.close()
          reject(e)
        } else resolve(r as ExecResult)
      }
      let idle: NodeJS.Timeout | undefined
      const poke = (extra = 0): void => {
        clearTimeout(idle)
        idle = setTimeout(() => {
          finish(
            new TimeoutError(
              `${this.target}: the device's command went quiet for ${Math.round((stallMs + extra) / 1000)} s (no answer, no upload progress); closed it`,
              { device: this.target },
            ),
          )
        }, stallMs + extra)
      }
      const hard = setTimeout(() => {
        finish(
          new TimeoutError(`${this.target}: the device's command ran past its ${Math.round(lim.deadlineMs / 1000)} s deadline; closed it`, {
            device: this.target,
          }),
        )
      }, lim.deadlineMs)
      const onAbort = (): void => {
        finish(new AbortedError(`${this.target}: cancelled`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      poke()
      ch.on('data', (d: Buffer) => {
        outBytes += d.length
        if (outBytes > lim.maxOut) {
          finish(
            new ProtocolError(`${this.target}: the device's answer passed ${formatBytes(lim.maxOut)}; closed it`, {
              device: this.target,
              maxBytes: lim.maxOut,
            }),
          )
          return
        }
        out.push(d)
        poke()
      })
      ch.stderr.on('data', (d: Buffer) => {
        if (err.length < 4000) err += d.toString()
        poke()
      })
      ch.on('exit', (c2: number | null) => {
        code = c2
      })
      ch.on('close', () => {
        finish(null, { code, stdout: Buffer.concat(out), stderr: sanitizeLine(err.trim()) })
      })
      if (input === null) ch.end()
      else if (Buffer.isBuffer(input)) ch.end(input)
      else {
        // Once all is sent the device re-hashes it before it answers: allow for that.
        const count = new Transform({
          transform(chunk: Buffer, _e, cb) {
            poke()
            onBytes?.(chunk.length)
            cb(null, chunk)
          },
          flush(cb) {
            poke(lim.afterInputMs)
            cb()
          },
        })
        input.on('error', e => {
          finish(e)
        })
        input.pipe(count).pipe(ch)
      }
    })
  }

  /**
   * fallbear-cmd found no running container by the login name: which
   * container, which device, what fallbear said, and what to do.
   */
  private noContainer(said: string): Error {
    const o = this.o
    const device = o.device ?? hostPortOf(o.host, o.port)
    const how = o.howToChoose ?? ((c: string) => `give --ssh-user ${c}`)
    const known = (o.mgmtKnown ?? []).filter(c => c !== o.username)
    const advice =
      known.length > 0
        ? `the state it ran when last asked gives the management role to ${known.join(', ')}: ${how(known[0])}`
        : `log in as its management container (${DEFAULT_LOGIN} on stock images, or the container whose run.json has "roles": ["mgmt"]): ${how('<container>')}`
    return new DeviceRefusedError(
      `device ${device}: no running container named ${JSON.stringify(o.username)} to log in to over SSH (the device said "${said}"). ` +
        `On a Pantavisor device the SSH login name is the container to enter; ${advice}`,
      { device, target: this.target, container: o.username, mgmt: known },
    )
  }

  /** One pv-ctrl request; transport failures become typed errors. */
  async exchange(r: PvCtrlRequest, what: string, input: Buffer | Readable | null, signal: AbortSignal, onBytes?: (n: number) => void): Promise<PvCtrlAnswer> {
    const maxTimeS = r.maxTimeS ?? 240
    const res = await this.exec(
      curlCommand(r, this.o.socket ?? null),
      input,
      signal,
      { maxOut: (r.maxBody ?? MAX_ANSWER) + 16, deadlineMs: (maxTimeS + 30) * 1000, afterInputMs: Math.ceil((r.uploadLength ?? 0) / REHASH_RATE) * 1000 },
      onBytes,
    )
    if (res.code === 0) return { ...splitAnswer(res.stdout), retryAfter: null }
    const detail = res.stderr === '' ? `exit ${String(res.code)}` : res.stderr
    const nc = NO_CONTAINER.exec(res.stderr)
    if (nc !== null) throw this.noContainer(nc[0])
    switch (res.code) {
      case NO_CURL_EXIT:
        throw new DeviceRefusedError(`${this.target}: ${detail}; Fieldsync needs curl there to reach pv-ctrl`, { device: this.target })
      case NO_SOCKET_EXIT:
      case 7:
        throw new DeviceUnreachableError(`${this.target}: pv-ctrl does not answer (${detail})`, { device: this.target, exit: res.code })
      case 28:
        throw new TimeoutError(`${this.target}: ${what}: pv-ctrl took too long (${detail})`, { device: this.target })
      case 18:
      case 52:
      case 55:
      case 56:
        throw new DeviceUnreachableError(`${this.target}: ${what}: the connection to pv-ctrl dropped (${detail})`, { device: this.target, exit: res.code })
      case null:
        throw new DeviceUnreachableError(`${this.target}: ${what}: the SSH session ended (${detail})`, { device: this.target })
      default:
        throw answerError(0, detail, 'other', what, this.target)
    }
  }
}

function hostPortOf(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * A device reached by SSH: pv-ctrl driven with curl inside the container the
 * login name selects. Opening it logs in and reads the state the device
 * runs: a wrong login name fails here, before anything is planned, and the
 * state tells which containers have the management role (onLogin).
 */
export class SshDriver extends PvCtrlDriver {
  private current: Uint8Array | null = null

  constructor(private readonly o: SshOptions) {
    super('ssh', new SshTransport(o))
  }

  override async open(signal: AbortSignal): Promise<void> {
    await super.open(signal)
    let mgmt: string[] | null = null
    let revision: string | null = null
    let raw: Uint8Array | null = null
    try {
      raw = await super.stepState('current', signal)
    } catch (err) {
      // An answer pv-ctrl gave (not 200): the login worked, the roles stay unknown. Anything else ends the open.
      if (!(err instanceof ProtocolError) && typeof (err as { details?: { status?: unknown } }).details?.status !== 'number') {
        await this.close()
        throw err
      }
    }
    if (raw !== null) {
      this.current = raw
      try {
        const st = parseState(raw, `${this.target}: current state`)
        mgmt = mgmtContainers(st.json)
        revision = revisionId(st)
      } catch {
        /* a state that does not parse tells no roles; the install reports it where it matters */
      }
    }
    this.o.onLogin?.({ container: this.o.username, mgmt, revision })
  }

  /** `current` is read once at open: the first ask after it gets that answer. */
  override async stepState(step: string, signal: AbortSignal): Promise<Uint8Array> {
    if (step === 'current' && this.current !== null) {
      const c = this.current
      this.current = null
      return c
    }
    return await super.stepState(step, signal)
  }

  override async close(): Promise<void> {
    this.current = null
    await super.close()
  }
}
