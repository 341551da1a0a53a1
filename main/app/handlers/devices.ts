/**
 * devices.*: discovery (a short mDNS window now and then, unless mDNS is
 * off), devices added by address, the preflight plan, installs run as
 * transfers with the device's progress as 'install' events, and history.
 */
import { installSucceeded, type DeviceInfo, type InstallResult } from '../../../shared/api/types.js'
import { InstallFailedError, NotAvailableError, NotFoundError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import {
  deviceDriver, deviceLabel, Discovery, DeviceStore, historyDevice, Installer, parseAddress, PVR_SDK_PORT, resolveDevice,
  type DeviceDriver, type DeviceRecord, type ResolvedDevice, type Via,
} from '../../devices/index.js'
import type { App } from '../index.js'
import type { HandlerDeps, HandlerMap } from './context.js'
import type { ApiEventBus } from './events.js'
import { withDeadline } from '../../../shared/deadline.js'

type DeviceHandlers = Pick<HandlerMap, 'devices.list' | 'devices.add' | 'devices.plan' | 'devices.install' | 'devices.history'>

const BROWSE_MS = 3000
const BROWSE_EVERY_MS = 20_000
const PROBE_MS = 3000

export function toApi (d: DeviceRecord): DeviceInfo {
  return { deviceId: d.deviceId, name: deviceLabel(d), addrs: d.addrs, port: d.port, claimed: d.claimed, registered: d.registered, pvrSdk: d.pvrSdk, revision: d.revision, status: d.status, lastSeen: d.lastSeen, source: d.source, alias: d.alias, tags: d.tags }
}

/** Devices as the UI sees them: the store, fed by discovery and by addresses the user adds. */
export class DeviceService {
  readonly store: DeviceStore
  private readonly discovery: Discovery
  private readonly log: Logger
  private ac = new AbortController()
  private loop: Promise<void> | undefined

  constructor (private readonly c: { app: App, events: ApiEventBus, log: Logger }, private readonly opts: { mdns: boolean }) {
    this.log = c.log.child('devices')
    this.store = new DeviceStore(c.app.library.db)
    this.discovery = new Discovery({ log: c.log })
  }

  async start (): Promise<void> {
    this.ac = new AbortController()
    if (this.opts.mdns) this.loop = this.browseLoop(this.ac.signal)
  }

  async stop (): Promise<void> {
    this.ac.abort()
    await this.loop?.catch(() => {})
  }

  private seen (d: DeviceInfo): void {
    this.store.upsert(d)
    const rec = this.store.get(d.deviceId)
    if (rec !== undefined) this.c.events.emit('device', { device: toApi(rec) })
  }

  private async browseLoop (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.discovery.browse({ timeoutMs: BROWSE_MS, mdns: true, signal, onDevice: d => { this.seen(d) } })
      } catch (err) { this.log.error('discovery: %s', (err as Error).message) }
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, BROWSE_EVERY_MS)
        signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
    }
  }

  list (): DeviceInfo[] { return this.store.list().map(toApi) }

  /** Probe an address (host, host:port of pvr-sdk, [v6]:port) and remember what answers. */
  async add (address: string, signal: AbortSignal): Promise<DeviceInfo> {
    const found = await this.discovery.browse({ timeoutMs: 0, probeTimeoutMs: PROBE_MS, mdns: false, addresses: [address], signal })
    const d = found[0]
    if (d === undefined) throw new NotFoundError(`${address}: no answer`)
    this.seen(d)
    return toApi(this.store.get(d.deviceId) ?? { ...d, name: d.name, alias: null, tags: [] })
  }

  /** Re-probe a device after an install so its revision and status show. */
  async refresh (rec: DeviceRecord): Promise<void> {
    const { host, port } = this.endpoint(rec)
    const p = await this.discovery.probe(host, port, PROBE_MS, AbortSignal.timeout(PROBE_MS + 1000)).catch(() => undefined)
    if (p === undefined || !p.pvrSdk) return
    this.store.upsert({ ...rec, pvrSdk: true, revision: p.revision, status: p.status, lastSeen: Date.now() })
    const now = this.store.get(rec.deviceId)
    if (now !== undefined) this.c.events.emit('device', { device: toApi(now) })
  }

  /** A device by id, name, address or unix:<socket> (devices/address.ts, the rule the CLI follows too). */
  resolve (ref: string): ResolvedDevice {
    return resolveDevice(this.store, ref)
  }

  /** Host and pvr-sdk port of a stored device, for a re-probe. */
  private endpoint (rec: DeviceRecord): { host: string, port: number } {
    if (rec.source === 'manual') {
      const a = parseAddress(rec.deviceId, PVR_SDK_PORT)
      if (Number.isInteger(a.port) && a.port > 0) return a
    }
    const host = rec.addrs[0]
    if (host === undefined) throw new NotFoundError(`device ${rec.deviceId}: no address known; add it by its address`)
    return { host, port: PVR_SDK_PORT }
  }

  driver (res: ResolvedDevice, via: Via | undefined): DeviceDriver {
    return deviceDriver(res, { via, sshAgent: process.env.SSH_AUTH_SOCK }, this.c.app.home)
  }
}

export function deviceHandlers (d: HandlerDeps): DeviceHandlers {
  const svc = (): DeviceService => {
    const s = d.devices()
    if (s === undefined) throw new NotAvailableError('devices are not available in this window (start it with `fieldsync ui`, or the desktop app)')
    return s
  }
  const installer = (s: DeviceService) => new Installer({ library: d.app.library, devices: s.store, log: d.log, trust: d.app.trust })

  return {
    async 'devices.list' () { return svc().list() },

    async 'devices.add' ({ address }, ctx) {
      return await withDeadline(ctx.signal ?? new AbortController().signal, PROBE_MS + 2000, async signal => await svc().add(address, signal))
    },

    async 'devices.plan' ({ rev, device, via }, ctx) {
      const s = svc()
      const res = s.resolve(device)
      return await installer(s).plan({ rev, driver: s.driver(res, via), deviceId: res.deviceId, signal: ctx.signal ?? new AbortController().signal })
    },

    async 'devices.install' ({ rev, device, via, name, commit }) {
      const s = svc()
      const target = s.resolve(device)
      const rec = target.record
      const deviceId = target.deviceId
      const info = d.app.library.resolve(rev)
      const devName = rec?.name ?? deviceId
      let transferId = ''
      const res = await d.transfers.run('install', `install ${info.name} on ${devName}`, async (t) => {
        transferId = t.id
        const emit = (phase: 'preflight' | 'upload' | 'step' | 'run' | 'progress' | 'final', status: string | null, statusMsg: string | null, progress: number | null) => {
          d.events.emit('install', { transferId: t.id, device: deviceId, phase, status: status as InstallResult['status'] | null, statusMsg, progress })
        }
        const r = await installer(s).install({
          rev: info.id,
          driver: s.driver(target, via),
          deviceId,
          name,
          commit: commit === true,
          signal: t.signal,
          onEvent: (e) => {
            switch (e.type) {
              case 'phase': t.detail(e.message); emit(e.phase, null, e.message, null); break
              case 'planned': t.progress(0, e.bytesToSend); break
              case 'upload': t.progress(e.bytes, e.totalBytes); break
              case 'retry': t.detail(`retrying ${e.what}: ${e.reason}`); break
              case 'progress': t.detail(`${e.status}${e.progress === null ? '' : ` ${e.progress}%`}: ${e.statusMsg}`); emit('progress', e.status, e.statusMsg, e.progress); break
            }
          },
        }) as InstallResult
        // The device ended it (ERROR, WONTGO, NOT_RUNNING): the transfer failed, with the device's words as its message.
        if (!installSucceeded(r.status)) t.fail(new InstallFailedError(`${devName}: ${r.status}: ${r.statusMsg}`, { status: r.status, step: r.step }))
        return r
      }, { totalBytes: null })
      d.events.emit('install', { transferId, device: deviceId, phase: 'final', status: res.status, statusMsg: res.statusMsg, progress: 100 })
      const now = s.store.get(deviceId) ?? rec
      if (now !== undefined) void s.refresh(now)
      return res
    },

    async 'devices.history' ({ device }) {
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
