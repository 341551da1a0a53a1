/**
 * The device simulator (`fieldsync device-sim`): a Pantavisor device for
 * tests, training and demos. pv-ctrl on a Unix socket (pvctrl.ts), the
 * pvr-sdk HTTP server on TCP (pvrsdk.ts), an mDNS advertisement like
 * pv-avahi's (mdns.ts), objects and steps kept under DIR as the device keeps
 * them (storage.ts). A reboot closes both servers for a while, as a device
 * that reboots goes away.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import type { Server as HttpServer } from 'node:http'
import { join, resolve } from 'node:path'
import { UsageError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { PolicyMode } from '../../trust/index.js'
import { DeviceCore, type SimKnobs } from './device.js'
import { serveHttp1 } from './http1.js'
import { MdnsAdvertiser } from './mdns.js'
import { pvctrlHandler } from './pvctrl.js'
import { createPvrSdkServer, PVR_BASE } from './pvrsdk.js'
import { DeviceStorage } from './storage.js'
import { DEVICE_TIMING, FAST_TIMING, type SimTiming } from './timing.js'
import type { Outcome } from './update.js'
import { loadDeviceTrust } from './verify.js'

export { OUTCOMES, type Outcome } from './update.js'
export { DEVICE_TIMING, FAST_TIMING, parseTiming, TIMING_HELP, type SimTiming } from './timing.js'
export { serveHttp1, type Http1Request, type Http1Response } from './http1.js'
export type { SimKnobs } from './device.js'

export const DEFAULT_HTTP_PORT = 12368
export const DEFAULT_SSH_PORT = 8222

export interface SimulatorOptions {
  dir: string
  /** Default: <dir>/pv-ctrl. */
  socket?: string
  /** host:port of the pvr-sdk server; null for none; default 127.0.0.1:12368 (another free port if that one is taken). */
  http?: string | null
  /** Storage capacity in bytes (default: the host file system's). */
  storageBytes?: number
  outcome?: Outcome
  /** Device nick (mDNS instance and host name). */
  name?: string
  fast?: boolean
  /** Some delays set by hand, over the default or --fast ones (`--timing`). */
  timing?: Partial<SimTiming>
  mdns?: boolean
  /** Port advertised for SSH (pv-avahi: 8222). */
  sshPort?: number
  secureboot?: PolicyMode
  /** PEM bundle the device trusts (PV_SECUREBOOT_TRUSTSTORE); default the Pantavisor Dev CA, 'none' for no CA. */
  trustCa?: string
  gcThreshold?: number
  claimed?: boolean
  /** Never registered with Pantahub: mDNS advertises an empty device-id and no challenge. */
  unregistered?: boolean
  /** The mDNS domain advertised (avahi's domain-name; default `local`). */
  mdnsDomain?: string
  /** Revision 0 of a fresh device: a pvr export tarball or a state JSON (default: the built-in BSP + pvr-sdk). */
  factory?: string
  knobs?: Partial<SimKnobs>
  /** Assumption, not stock pvr-sdk: serve step-get-url and device-meta-url (see pvrsdk.ts). */
  assumePvrSdkProgress?: boolean
}

/** deviceId: what the device advertises ('' when it is not registered). */
export interface SimulatorAddress {
  socket: string
  http: string | null
  deviceId: string
  registered: boolean
  name: string
}

function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(s)
  if (m === null || Number(m[2]) > 65535) throw new UsageError(`--http ${s}: give HOST:PORT, e.g. 127.0.0.1:12368`)
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) }
}

export class DeviceSimulator {
  private readonly log: Logger
  private core: DeviceCore | null = null
  private ctrl: NetServer | null = null
  private http: HttpServer | null = null
  private mdns: MdnsAdvertiser | null = null
  private readonly sockets = new Set<Socket>()
  private socketPath = ''
  private httpAt: { host: string; port: number } | null = null
  address: SimulatorAddress | null = null

  constructor(
    components: { log: Logger },
    private readonly opts: SimulatorOptions,
  ) {
    this.log = components.log.child('device-sim')
  }

  private async deviceId(dir: string): Promise<string> {
    const file = join(dir, 'device-id')
    const old = (await readFile(file, 'utf8').catch(() => '')).trim()
    if (/^[0-9a-f]{24}$/.test(old)) return old
    const id = randomBytes(12).toString('hex')
    await writeFile(file, id + '\n')
    return id
  }

  async start(): Promise<SimulatorAddress> {
    const o = this.opts
    const dir = resolve(o.dir)
    await mkdir(dir, { recursive: true })
    const deviceId = await this.deviceId(dir)
    const name = o.name ?? 'pantavisor'
    const trust = await loadDeviceTrust(o.trustCa, o.secureboot ?? 'lenient')
    const core = new DeviceCore({
      storage: new DeviceStorage(dir, o.storageBytes ?? null),
      trust,
      timing: { ...(o.fast === true ? FAST_TIMING : DEVICE_TIMING), ...o.timing },
      outcome: o.outcome ?? 'auto',
      deviceId,
      nick: name,
      gcThreshold: o.gcThreshold ?? 0,
      factory: o.factory,
      knobs: { flakyUploads: 0, cutAfterBytes: null, busyCommands: 0, ...o.knobs },
      log: this.log,
    })
    core.claimed = o.claimed === true
    this.core = core
    await core.start()
    this.socketPath = resolve(o.socket ?? join(dir, 'pv-ctrl'))
    if (o.http !== null) this.httpAt = parseHostPort(o.http ?? `127.0.0.1:${DEFAULT_HTTP_PORT}`)
    await this.listen(o.http === undefined)
    core.on('down', () => {
      this.goDown()
    })
    core.on('up', () => {
      this.listen(false).catch(err => {
        this.log.error('coming back up: %s', (err as Error).message)
      })
    })
    if (o.mdns === true) {
      this.mdns = new MdnsAdvertiser(
        { log: this.log },
        {
          nick: name,
          deviceId: o.unregistered === true ? '' : deviceId,
          port: o.sshPort ?? DEFAULT_SSH_PORT,
          challenge: core.claimed || o.unregistered === true ? undefined : randomBytes(6).toString('hex'),
          pantahub: 'api.pantahub.com',
          domain: o.mdnsDomain,
        },
      )
      await this.mdns.start()
    }
    const at = this.httpAt
    const registered = o.unregistered !== true
    this.address = {
      socket: this.socketPath,
      http: at === null ? null : `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`,
      deviceId: registered ? deviceId : '',
      registered,
      name,
    }
    return this.address
  }

  /** Open the pv-ctrl socket and the pvr-sdk server. */
  private async listen(fallbackPort: boolean): Promise<void> {
    const core = this.core
    if (core === null) return
    const onError = (err: unknown): void => {
      this.log.error('request failed: %s', (err as Error)?.stack ?? err)
    }
    // Never two sets of servers: one left open would keep the process alive after stop.
    if (this.ctrl !== null || this.http !== null) this.goDown()
    await rm(this.socketPath, { force: true })
    const ctrl = createNetServer()
    ctrl.on('connection', (s: Socket) => {
      this.sockets.add(s)
      s.on('close', () => {
        this.sockets.delete(s)
      })
    })
    serveHttp1(ctrl, pvctrlHandler(core), onError)
    await new Promise<void>((resolve, reject) => {
      ctrl.once('error', reject)
      ctrl.listen(this.socketPath, () => {
        ctrl.off('error', reject)
        resolve()
      })
    })
    // Stopped meanwhile (a reboot that ended as the simulator stopped): close what this call opened.
    if (this.core !== core) {
      ctrl.close()
      return
    }
    this.ctrl = ctrl
    const at = this.httpAt
    if (at === null) return
    const http = createPvrSdkServer(core, onError, { assumeProgress: this.opts.assumePvrSdkProgress === true })
    http.on('connection', (s: Socket) => {
      this.sockets.add(s)
      s.on('close', () => {
        this.sockets.delete(s)
      })
    })
    const tryListen = (port: number): Promise<void> =>
      new Promise((resolve, reject) => {
        http.once('error', reject)
        http.listen(port, at.host, () => {
          http.off('error', reject)
          resolve()
        })
      })
    try {
      await tryListen(at.port)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !fallbackPort) throw err
      this.log('port %d is taken; the pvr-sdk server takes a free port instead', at.port)
      await tryListen(0)
    }
    if (this.core !== core) {
      http.close()
      return
    }
    const addr = http.address()
    if (addr !== null && typeof addr === 'object') at.port = addr.port
    this.http = http
  }

  /** A reboot: the socket file and the HTTP port go away, connections drop. */
  private goDown(): void {
    this.ctrl?.close()
    this.ctrl = null
    this.http?.close()
    this.http = null
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    rm(this.socketPath, { force: true }).catch(() => {})
  }

  get pvrUrl(): string | null {
    return this.address?.http === null || this.address === null ? null : `http://${this.address.http}${PVR_BASE}`
  }

  get device(): DeviceCore | null {
    return this.core
  }

  async stop(): Promise<void> {
    await this.mdns?.stop().catch(() => {})
    this.mdns = null
    this.core?.stop()
    this.goDown()
    this.core = null
  }
}
