/**
 * Device addressing, the one rule the CLI, the app and rollouts share: what
 * a device reference names (a known device by id, id prefix, nick or
 * address; an address `host`, `host:port`, `[v6]:port`; a pv-ctrl socket
 * `unix:<path>`), which connection reaches it, and under which id its
 * installs are recorded.
 *
 * A device reached by address that no discovery named is recorded as
 * `host:port` of the endpoint actually reached (so two devices on one IP
 * with different ports stay apart); a socket as `unix:<path>`.
 */
import { join } from 'node:path'
import { NotFoundError, UsageError } from '../../shared/errors.js'
import { parseAddress } from './discovery.js'
import { KnownDevices, type HostKeyInfo } from './drivers/known-devices.js'
import { PvCtrlSocketDriver } from './drivers/pvctrl.js'
import { PvrSdkDriver, pvrBaseUrl, PVR_SDK_PORT, type PvrSdkOptions } from './drivers/pvr-sdk.js'
import { SshDriver, SSH_DEFAULT_PORT, type SshLogin } from './drivers/ssh.js'
import { chooseSshLogin, type SshLoginChoice } from './ssh-login.js'
import type { DeviceDriver, Via } from './drivers/types.js'
import { deviceLabel, type DeviceRecord, type DeviceStore } from './store.js'

export { DEFAULT_SSH_CONTAINER } from './ssh-login.js'

export type DeviceRef = { kind: 'socket'; path: string } | { kind: 'address'; host: string; port: number | null } | { kind: 'known'; ref: string }

export const SOCKET_PREFIX = 'unix:'

/** An address rather than a device id or nick: an IP, a dotted host name, host:port, [v6] or localhost. */
export function looksLikeAddress(s: string): boolean {
  return /^\[.*\](:\d+)?$/.test(s) || /^[\d.]+(:\d+)?$/.test(s) || /:\d+$/.test(s) || s.includes('.') || s === 'localhost'
}

export function parseDeviceRef(s: string): DeviceRef {
  const v = s.trim()
  if (v === '') throw new UsageError('device: empty; give a device id, name, address (host[:port]) or unix:<pv-ctrl socket>')
  if (v.startsWith(SOCKET_PREFIX)) {
    const path = v.slice(SOCKET_PREFIX.length)
    if (!path.startsWith('/')) throw new UsageError(`device ${s}: a pv-ctrl socket is unix:<absolute path>, e.g. unix:/run/pvkit/dev1/pv-ctrl`)
    return { kind: 'socket', path }
  }
  if (looksLikeAddress(v)) {
    const a = parseAddress(v, 0)
    if (a.port !== 0 && (!Number.isInteger(a.port) || a.port > 65535)) throw new UsageError(`device ${s}: ${a.port} is not a TCP port`)
    return { kind: 'address', host: a.host, port: a.port === 0 ? null : a.port }
  }
  return { kind: 'known', ref: v }
}

/** `host:port`, with brackets around an IPv6 host. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The connection details a caller may give (CLI flags, the app's install form). */
export interface ConnectOptions {
  via?: Via
  /** SSH login name for this run (the container to enter); else what is known of the device (ssh-login.ts). */
  sshUser?: string
  sshPort?: number
  sshKey?: string
  sshPassword?: string
  /** ssh-agent socket (default: none; callers pass SSH_AUTH_SOCK when they want it). */
  sshAgent?: string
  /** pv-ctrl socket inside the container reached by SSH. */
  sshSocket?: string
  onHostKey?: (info: HostKeyInfo) => void
  /** How a pvr-sdk install concludes, where the device does not tell its progress. */
  pvrSdk?: PvrSdkOptions
  /** A request that makes no progress this long fails (uploads the device stops taking, answers that never come); default 30 s. */
  stallMs?: number
  /** The SSH login name chosen, and where it came from (before connecting). */
  onSshChoice?: (c: SshLoginChoice) => void
  /** After an SSH login reached pv-ctrl: what it learnt, and the login name the next connection to this device will use. */
  onSshLogin?: (e: { login: SshLogin; next: SshLoginChoice }) => void
  /** What to do to log in as a container, in the front end's terms (the CLI: --ssh-user). */
  howToChoose?: (container: string) => string
}

export interface ResolvedDevice {
  /** The id installs are recorded under. */
  deviceId: string
  /** The stored device, when the reference named one. */
  record: DeviceRecord | undefined
  ref: DeviceRef
}

/**
 * A reference against the store. A name or id that matches several devices
 * is an error naming them; a name nobody has seen is NotFoundError (callers
 * may browse and try again).
 */
export function resolveDevice(store: DeviceStore, ref: string): ResolvedDevice {
  const r = parseDeviceRef(ref)
  if (r.kind === 'socket') {
    const id = `${SOCKET_PREFIX}${r.path}`
    return { deviceId: id, record: store.get(id), ref: r }
  }
  if (r.kind === 'address') {
    const here = devicesAt(store, r.host)
    if (r.port === null) {
      // An address alone names a device only when one device is known there.
      if (here.length > 1)
        throw new UsageError(`device ${ref}: ${here.length} devices at that address (${here.map(h => h.deviceId).join(', ')}); give the port or the device id`)
      const rec = here[0]
      return { deviceId: rec?.deviceId ?? hostPort(r.host, PVR_SDK_PORT), record: rec, ref: r }
    }
    // host:port is the endpoint itself: the device added at host:port, or a
    // discovered device whose advertised (SSH) port it is. Never another
    // device of the same host.
    const id = hostPort(r.host, r.port)
    const rec =
      here.find(d => d.deviceId === id) ??
      (r.port === PVR_SDK_PORT ? here.find(d => d.deviceId === r.host) : undefined) ??
      here.find(d => d.source === 'mdns' && d.port === r.port)
    return { deviceId: rec?.deviceId ?? id, record: rec, ref: r }
  }
  const hits = store.find(r.ref)
  if (hits.length > 1)
    throw new UsageError(`device ${r.ref}: ${hits.length} devices match (${hits.map(h => h.deviceId).join(', ')}); give the full id or an address`)
  const rec = hits[0]
  if (rec === undefined)
    throw new NotFoundError(`device ${r.ref}: no such device seen (fieldsync devices lists them); give its address instead, e.g. --device 10.0.0.7`)
  return { deviceId: rec.deviceId, record: rec, ref: r }
}

/** Devices known at `host`: seen there by discovery, or added as `host` / `host:port`. */
function devicesAt(store: DeviceStore, host: string): DeviceRecord[] {
  return store
    .list()
    .filter(d => d.addrs.includes(host) || (!d.deviceId.startsWith(SOCKET_PREFIX) && d.source === 'manual' && parseAddress(d.deviceId, 0).host === host))
}

/** The pvr-sdk endpoint of a device added by address (its id is host or host:port), else null. */
function manualEndpoint(rec: DeviceRecord): { host: string; port: number } | null {
  if (rec.source !== 'manual' || rec.deviceId.startsWith(SOCKET_PREFIX)) return null
  const a = parseAddress(rec.deviceId, PVR_SDK_PORT)
  return Number.isInteger(a.port) && a.port > 0 ? a : null
}

/** Host and port of a stored device for `via`. */
function endpointOf(res: ResolvedDevice, via: Via, o: ConnectOptions): { host: string; port: number } {
  const r = res.ref
  const rec = res.record
  const added = rec === undefined ? null : manualEndpoint(rec)
  if (r.kind === 'address') {
    if (via === 'ssh') return { host: r.host, port: o.sshPort ?? r.port ?? rec?.port ?? SSH_DEFAULT_PORT }
    // An address without a port reaches the one device known there at its own port.
    return { host: r.host, port: r.port ?? added?.port ?? PVR_SDK_PORT }
  }
  if (rec === undefined) throw new NotFoundError(`device ${res.deviceId}: unknown`)
  // A device added by address keeps the address it was added with in its id.
  const host = added?.host ?? rec.addrs[0]
  if (host === undefined) throw new NotFoundError(`device ${rec.deviceId}: no address known for it; give its address`)
  if (via === 'ssh') return { host, port: o.sshPort ?? rec.port ?? SSH_DEFAULT_PORT }
  return { host, port: added?.port ?? PVR_SDK_PORT }
}

/** The connection a caller did not choose: a socket is pv-ctrl; SSH when SSH credentials are given or pvr-sdk never answered. */
export function defaultVia(res: ResolvedDevice, o: ConnectOptions): Via {
  if (o.via !== undefined) return o.via
  if (res.ref.kind === 'socket') return 'pv-ctrl'
  if (o.sshKey !== undefined || o.sshPassword !== undefined) return 'ssh'
  if (res.record !== undefined && !res.record.pvrSdk && res.ref.kind === 'known') return 'ssh'
  return 'pvr-sdk'
}

/**
 * The driver for a resolved device. `home` holds known_devices (pinned SSH
 * host keys); `store`, when given, is where the device's SSH login is
 * remembered (which container to enter) and read back.
 */
export function deviceDriver(res: ResolvedDevice, o: ConnectOptions, home: string, store?: DeviceStore): DeviceDriver {
  const via = defaultVia(res, o)
  if (res.ref.kind === 'socket') {
    if (via !== 'pv-ctrl') throw new UsageError(`device ${res.deviceId}: a socket is reached with --via pv-ctrl, not ${via}`)
    return new PvCtrlSocketDriver(res.ref.path, { stallMs: o.stallMs })
  }
  if (via === 'pv-ctrl')
    throw new UsageError(`device ${res.deviceId}: --via pv-ctrl needs a socket (--device unix:<path>); over the network use pvr-sdk or ssh`)
  const { host, port } = endpointOf(res, via, o)
  if (via === 'pvr-sdk') return new PvrSdkDriver(pvrBaseUrl(host, port), { stallMs: o.stallMs, ...o.pvrSdk })
  const memory = store?.sshLogin(res.deviceId) ?? null
  const choice = chooseSshLogin({ given: o.sshUser, remembered: memory?.container, mgmt: memory?.mgmt })
  o.onSshChoice?.(choice)
  return new SshDriver({
    host,
    port,
    username: choice.container,
    privateKeyFile: o.sshKey,
    password: o.sshPassword,
    agent: o.sshAgent,
    socket: o.sshSocket,
    known: new KnownDevices(join(home, 'known_devices')),
    onHostKey: o.onHostKey,
    stallMs: o.stallMs,
    device: res.record === undefined ? res.deviceId : deviceLabel(res.record),
    mgmtKnown: memory?.mgmt ?? undefined,
    howToChoose: o.howToChoose,
    onLogin: login => {
      if (store === undefined) return
      // The login worked: a name given for this run is the technician's choice from now on; the state's roles are remembered.
      if (choice.source === 'flag') store.setSshContainer(res.deviceId, login.container)
      if (login.mgmt !== null) store.setSshMgmt(res.deviceId, login.mgmt, login.revision)
      const now = store.sshLogin(res.deviceId)
      o.onSshLogin?.({ login, next: chooseSshLogin({ remembered: now.container, mgmt: now.mgmt }) })
    },
  })
}

/**
 * The device a reference names for its details and history: a known device
 * or address as resolveDevice says; an address without a port also finds the
 * history of `host:port` ids (one device per port), and several of them is
 * an error that lists them.
 */
export function historyDevice(store: DeviceStore, ref: string): { deviceId: string; record: DeviceRecord | undefined } {
  const r = parseDeviceRef(ref)
  if (r.kind === 'known') {
    const hits = store.find(r.ref)
    if (hits.length > 1)
      throw new UsageError(`device ${r.ref}: ${hits.length} devices match (${hits.map(h => h.deviceId).join(', ')}); give the full id or an address`)
    if (hits[0] !== undefined) return { deviceId: hits[0].deviceId, record: hits[0] }
    return { deviceId: r.ref, record: undefined }
  }
  const res = resolveDevice(store, ref)
  if (res.record !== undefined || r.kind === 'socket' || r.port !== null) return res
  const ids = [...new Set([r.host, ...store.historyIds(`${hostPort(r.host, 0).slice(0, -1)}`)])].filter(id => store.installs(id, 1).length > 0)
  if (ids.length > 1) throw new UsageError(`device ${ref}: ${ids.length} devices at that address (${ids.join(', ')}); give the port`)
  return { deviceId: ids[0] ?? res.deviceId, record: undefined }
}
