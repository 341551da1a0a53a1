/**
 * devices.*: discovery (a short mDNS window now and then, unless mDNS is
 * off), devices added by address, the preflight plan, installs run as
 * transfers with the device's progress as 'install' events, and history.
 */
import { installSucceeded, type DeviceInfo, type InstallResult, type PlanSsh, type SshCredentials } from '../../../shared/api/types.js'
import { InstallFailedError, NotAvailableError, NotFoundError, UsageError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import {
  deviceDriver,
  deviceLabel,
  Discovery,
  probeDevice,
  DeviceStore,
  historyDevice,
  Installer,
  parseAddress,
  PVR_SDK_PORT,
  resolveDevice,
  type DeviceDriver,
  type DeviceRecord,
  type ResolvedDevice,
  type Via,
} from '../../devices/index.js'
import type { App } from '../index.js'
import type { HandlerDeps, HandlerMap } from './context.js'
import type { ApiEventBus } from './events.js'
import { withDeadline } from '../../../shared/deadline.js'

type DeviceHandlers = Pick<HandlerMap, 'devices.list' | 'devices.add' | 'devices.plan' | 'devices.install' | 'devices.history'>

const BROWSE_MS = 3000
const BROWSE_EVERY_MS = 20_000
const PROBE_MS = 3000

export function toApi(d: DeviceRecord): DeviceInfo {
  return {
    deviceId: d.deviceId,
    name: deviceLabel(d),
    addrs: d.addrs,
    port: d.port,
    claimed: d.claimed,
    registered: d.registered,
    pvrSdk: d.pvrSdk,
    revision: d.revision,
    status: d.status,
    lastSeen: d.lastSeen,
    source: d.source,
    reach: d.reach ?? null,
    alias: d.alias,
    tags: d.tags,
  }
}

/** Devices as the UI sees them: the store, fed by discovery and by addresses the user adds. */
export class DeviceService {
  readonly store: DeviceStore
  private readonly discovery: Discovery
  private readonly log: Logger
  private ac = new AbortController()
  private loop: Promise<void> | undefined

  constructor(
    private readonly components: { app: App; events: ApiEventBus; log: Logger },
    private readonly opts: { mdns: boolean },
  ) {
    this.log = components.log.child('devices')
    this.store = new DeviceStore(components.app.library.db)
    this.discovery = new Discovery({ log: components.log })
  }

  async start(): Promise<void> {
    this.ac = new AbortController()
    if (this.opts.mdns) this.loop = this.browseLoop(this.ac.signal)
  }

  async stop(): Promise<void> {
    this.ac.abort()
    await this.loop?.catch(() => {})
  }

  private seen(d: DeviceInfo): void {
    this.store.upsert(d)
    const rec = this.store.get(d.deviceId)
    if (rec !== undefined) this.components.events.emit('device', { device: toApi(rec) })
  }

  private async browseLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.discovery.browse({
          timeoutMs: BROWSE_MS,
          mdns: true,
          signal,
          onDevice: d => {
            this.seen(d)
          },
        })
      } catch (err) {
        this.log.error('discovery: %s', (err as Error).message)
      }
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, BROWSE_EVERY_MS)
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t)
            resolve()
          },
          { once: true },
        )
      })
    }
  }

  list(): DeviceInfo[] {
    return this.store.list().map(toApi)
  }

  /**
   * Probe an address (host, host:port, [v6]:port, unix:<socket>) and remember
   * what answers; nothing answering is E_DEVICE_UNREACHABLE unless `offline`.
   */
  async add(address: string, offline: boolean, signal: AbortSignal): Promise<DeviceInfo> {
    const { device: d } = await probeDevice(address, { discovery: this.discovery, signal, offline, timeoutMs: PROBE_MS })
    this.seen(d)
    return toApi(this.store.get(d.deviceId) ?? { ...d, name: d.name, alias: null, tags: [] })
  }

  /** Re-probe a device after an install so its revision and status show. */
  async refresh(rec: DeviceRecord): Promise<void> {
    const { host, port } = this.endpoint(rec)
    const p = await this.discovery.probe(host, port, PROBE_MS, AbortSignal.timeout(PROBE_MS + 1000)).catch(() => undefined)
    if (p === undefined || !p.pvrSdk) return
    this.store.upsert({
      ...rec,
      pvrSdk: true,
      revision: p.revision,
      status: p.status,
      lastSeen: Date.now(),
      ...(rec.reach === 'offline' ? { reach: 'pvr-sdk' as const } : {}),
    })
    const now = this.store.get(rec.deviceId)
    if (now !== undefined) this.components.events.emit('device', { device: toApi(now) })
  }

  /** A device by id, name, address or unix:<socket> (devices/address.ts, the rule the CLI follows too). */
  resolve(ref: string): ResolvedDevice {
    return resolveDevice(this.store, ref)
  }

  /** Host and pvr-sdk port of a stored device, for a re-probe. */
  private endpoint(rec: DeviceRecord): { host: string; port: number } {
    if (rec.source === 'manual') {
      const a = parseAddress(rec.deviceId, PVR_SDK_PORT)
      if (Number.isInteger(a.port) && a.port > 0) return a
    }
    const host = rec.addrs[0]
    if (host === undefined) throw new NotFoundError(`device ${rec.deviceId}: no address known; add it by its address`)
    return { host, port: PVR_SDK_PORT }
  }

  /**
   * The driver for an install from the app. SSH credentials come from the
   * install form; without a key or a password the app's ssh-agent is used.
   * `seen` collects what the plan shows of the SSH login: the container
   * entered and why, the one the next login will use, the host key.
   */
  driver(res: ResolvedDevice, via: Via | undefined, ssh: SshCredentials = {}, seen?: { ssh: PlanSsh | null }): DeviceDriver {
    const agent = process.env.SSH_AUTH_SOCK
    if (ssh.agent === true && (agent === undefined || agent === ''))
      throw new UsageError('SSH agent: no ssh-agent runs for the app (SSH_AUTH_SOCK is not set): give a key file or a password instead')
    const given = ssh.keyFile !== undefined || ssh.password !== undefined
    return deviceDriver(
      res,
      {
        via: via ?? (given || ssh.agent === true ? 'ssh' : undefined),
        sshUser: ssh.container,
        sshPort: ssh.port,
        sshKey: ssh.keyFile,
        sshPassword: ssh.password,
        sshAgent: ssh.agent === true || !given ? agent : undefined,
        howToChoose: c => `type ${c} in the SSH container field of the install form (it is remembered for this device once it works)`,
        onSshChoice: c => {
          if (seen !== undefined) seen.ssh = { container: c.container, source: c.source, next: c.container, hostKey: null }
        },
        onHostKey: k => {
          if (seen?.ssh != null) seen.ssh.hostKey = { type: k.type, fingerprint: k.fingerprint, pinned: k.pinned }
        },
        onSshLogin: e => {
          if (seen?.ssh != null) seen.ssh.next = e.next.container
        },
      },
      this.components.app.home,
      this.store,
    )
  }
}

export function deviceHandlers(deps: HandlerDeps): DeviceHandlers {
  const svc = (): DeviceService => {
    const s = deps.devices()
    if (s === undefined) throw new NotAvailableError('devices are not available in this window (start it with `fieldsync ui`, or the desktop app)')
    return s
  }
  const installer = (s: DeviceService) =>
    new Installer({ library: deps.app.library, devices: s.store, log: deps.log, trust: deps.app.trust, policy: deps.policy, judge: deps.judge })

  return {
    async 'devices.list'() {
      return svc().list()
    },

    async 'devices.add'({ address, offline }, ctx) {
      return await withDeadline(ctx.signal ?? new AbortController().signal, PROBE_MS + 2000, async signal => await svc().add(address, offline === true, signal))
    },

    async 'devices.plan'({ rev, device, via, commit, ssh }, ctx) {
      const s = svc()
      const res = s.resolve(device)
      const seen: { ssh: PlanSsh | null } = { ssh: null }
      const plan = await installer(s).plan({
        rev,
        driver: s.driver(res, via, ssh, seen),
        deviceId: res.deviceId,
        commit: commit === true,
        signal: ctx.signal ?? new AbortController().signal,
      })
      return { ...plan, ssh: seen.ssh }
    },

    async 'devices.install'({ rev, device, via, name, commit, ssh }) {
      const s = svc()
      const target = s.resolve(device)
      const rec = target.record
      const deviceId = target.deviceId
      const info = deps.app.library.resolve(rev)
      const devName = rec?.name ?? deviceId
      let transferId = ''
      const res = await deps.transfers.run(
        'install',
        `install ${info.name} on ${devName}`,
        async t => {
          transferId = t.id
          const emit = (
            phase: 'preflight' | 'upload' | 'step' | 'run' | 'progress' | 'final',
            status: string | null,
            statusMsg: string | null,
            progress: number | null,
          ) => {
            deps.events.emit('install', { transferId: t.id, device: deviceId, phase, status: status as InstallResult['status'] | null, statusMsg, progress })
          }
          const r = (await installer(s).install({
            rev: info.id,
            driver: s.driver(target, via, ssh),
            deviceId,
            name,
            commit: commit === true,
            signal: t.signal,
            onEvent: e => {
              switch (e.type) {
                case 'phase':
                  t.detail(e.message)
                  emit(e.phase, null, e.message, null)
                  break
                case 'planned':
                  t.progress(0, e.bytesToSend)
                  break
                case 'upload':
                  t.progress(e.bytes, e.totalBytes)
                  break
                case 'retry':
                  t.detail(`retrying ${e.what}: ${e.reason}`)
                  break
                case 'progress':
                  t.detail(`${e.status}${e.progress === null ? '' : ` ${e.progress}%`}: ${e.statusMsg}`)
                  emit('progress', e.status, e.statusMsg, e.progress)
                  break
              }
            },
          })) as InstallResult
          // The device ended it (ERROR, WONTGO, NOT_RUNNING): the transfer failed, with the device's words as its message.
          if (!installSucceeded(r.status)) t.fail(new InstallFailedError(`${devName}: ${r.status}: ${r.statusMsg}`, { status: r.status, step: r.step }))
          return r
        },
        { totalBytes: null },
      )
      deps.events.emit('install', { transferId, device: deviceId, phase: 'final', status: res.status, statusMsg: res.statusMsg, progress: 100 })
      const now = s.store.get(deviceId) ?? rec
      if (now !== undefined) void s.refresh(now)
      return res
    },

    async 'devices.history'({ device }) {
      const s = svc()
      const id = historyDevice(s.store, device).deviceId
      return s.store.installs(id).map(i => ({
        device: i.deviceId,
        revision: i.revisionId,
        revisionName: i.revisionName,
        step: i.step,
        status: i.status,
        statusMsg: i.statusMsg,
        bytesSent: i.bytesSent,
        startedAt: i.startedAt,
        endedAt: i.endedAt,
      }))
    },
  }
}
