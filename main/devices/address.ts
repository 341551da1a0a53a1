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
import { PvrSdkDriver, pvrBaseUrl, PVR_SDK_PORT } from './drivers/pvr-sdk.js'
import { SshDriver, SSH_DEFAULT_PORT } from './drivers/ssh.js'
import type { DeviceDriver, Via } from './drivers/types.js'
import type { DeviceRecord, DeviceStore } from './store.js'

/**
 * The SSH login name when nothing else says: on a Pantavisor device the
 * login name is the container to enter (fallbear-cmd), and `pvr-sdk` is the
 * management container of stock images.
 */
export const DEFAULT_SSH_CONTAINER = 'pvr-sdk'

export type DeviceRef =
  | { kind: 'socket', path: string }
  | { kind: 'address', host: string, port: number | null }
  | { kind: 'known', ref: string }

export const SOCKET_PREFIX = 'unix:'

/** An address rather than a device id or nick: an IP, a dotted host name, host:port, [v6] or localhost. */
export function looksLikeAddress (s: string): boolean {
  return /^\[.*\](:\d+)?$/.test(s) || /^[\d.]+(:\d+)?$/.test(s) || /:\d+$/.test(s) || s.includes('.') || s === 'localhost'
}

export function parseDeviceRef (s: string): DeviceRef {
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
export function hostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The connection details a caller may give (CLI flags, the app's install form). */
export interface ConnectOptions {
  via?: Via
  sshUser?: string
  sshPort?: number
  sshKey?: string
  sshPassword?: string
  /** ssh-agent socket (default: none; callers pass SSH_AUTH_SOCK when they want it). */
  sshAgent?: string
  /** pv-ctrl socket inside the container reached by SSH. */
  sshSocket?: string
  onHostKey?: (info: HostKeyInfo) => void
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
export function resolveDevice (store: DeviceStore, ref: string): ResolvedDevice {
  const r = parseDeviceRef(ref)
  if (r.kind === 'socket') {
    const id = `${SOCKET_PREFIX}${r.path}`
    return { deviceId: id, record: store.get(id), ref: r }
  }
  if (r.kind === 'address') {
    // A device discovery knows at this address keeps its own id, unless a
    // port says that another service on that host is meant.
    const rec = store.find(r.host).find(d => r.port === null || d.deviceId === hostPort(r.host, r.port) || d.port === r.port)
    return { deviceId: rec?.deviceId ?? `${hostPort(r.host, r.port ?? PVR_SDK_PORT)}`, record: rec, ref: r }
  }
  const hits = store.find(r.ref)
  if (hits.length > 1) throw new UsageError(`device ${r.ref}: ${hits.length} devices match (${hits.map(h => h.deviceId).join(', ')}); give the full id or an address`)
  const rec = hits[0]
  if (rec === undefined) throw new NotFoundError(`device ${r.ref}: no such device seen (fieldsync devices lists them); give its address instead, e.g. --device 10.0.0.7`)
  return { deviceId: rec.deviceId, record: rec, ref: r }
}

/** Host and port of a stored device for `via`. */
function endpointOf (res: ResolvedDevice, via: Via, o: ConnectOptions): { host: string, port: number } {
  const r = res.ref
  const rec = res.record
  if (r.kind === 'address') {
    const port = via === 'ssh' ? (o.sshPort ?? r.port ?? rec?.port ?? SSH_DEFAULT_PORT) : (r.port ?? PVR_SDK_PORT)
    return { host: r.host, port }
  }
  if (rec === undefined) throw new NotFoundError(`device ${res.deviceId}: unknown`)
  // A device added by address keeps the address it was added with in its id.
  const fromId = rec.source === 'manual' && !rec.deviceId.startsWith(SOCKET_PREFIX) ? parseAddress(rec.deviceId, 0) : null
  const host = fromId?.host ?? rec.addrs[0]
  if (host === undefined) throw new NotFoundError(`device ${rec.deviceId}: no address known for it; give its address`)
  if (via === 'ssh') return { host, port: o.sshPort ?? rec.port ?? SSH_DEFAULT_PORT }
  return { host, port: fromId !== null && fromId.port > 0 ? fromId.port : PVR_SDK_PORT }
}

/** The connection a caller did not choose: a socket is pv-ctrl; SSH when SSH credentials are given or pvr-sdk never answered. */
export function defaultVia (res: ResolvedDevice, o: ConnectOptions): Via {
  if (o.via !== undefined) return o.via
  if (res.ref.kind === 'socket') return 'pv-ctrl'
  if (o.sshKey !== undefined || o.sshPassword !== undefined) return 'ssh'
  if (res.record !== undefined && !res.record.pvrSdk && res.ref.kind === 'known') return 'ssh'
  return 'pvr-sdk'
}

/** The driver for a resolved device. `home` holds known_devices (pinned SSH host keys). */
export function deviceDriver (res: ResolvedDevice, o: ConnectOptions, home: string): DeviceDriver {
  const via = defaultVia(res, o)
  if (res.ref.kind === 'socket') {
    if (via !== 'pv-ctrl') throw new UsageError(`device ${res.deviceId}: a socket is reached with --via pv-ctrl, not ${via}`)
    return new PvCtrlSocketDriver(res.ref.path)
  }
  if (via === 'pv-ctrl') throw new UsageError(`device ${res.deviceId}: --via pv-ctrl needs a socket (--device unix:<path>); over the network use pvr-sdk or ssh`)
  const { host, port } = endpointOf(res, via, o)
  if (via === 'pvr-sdk') return new PvrSdkDriver(pvrBaseUrl(host, port))
  return new SshDriver({
    host,
    port,
    username: o.sshUser ?? DEFAULT_SSH_CONTAINER,
    privateKeyFile: o.sshKey,
    password: o.sshPassword,
    agent: o.sshAgent,
    socket: o.sshSocket,
    known: new KnownDevices(join(home, 'known_devices')),
    onHostKey: o.onHostKey,
  })
}
