/**
 * THE contract between the UI and main (house rule 1), as Podman Desktop's
 * ipc-invoke-channel-map.ts: one map of channel -> request/response types,
 * one map of event -> payload, and a validator for every request. The
 * preload, the main-side handlers, the HTTP server of browser mode and the
 * renderer client are all typed from this file.
 *
 * Every request is one JSON object (possibly empty); every response is JSON.
 * Errors cross as {code, message} (shared/errors.ts).
 */
import type { WireError } from '../errors.js'
import type * as T from './types.js'
import type * as F from './fleet.js'
import { REPORT_KINDS } from './fleet.js'
import { DEVICE_VIAS } from './types.js'
import { trustValidators, type TrustChannels } from './trust.js'
import { absPath, arrayOf, bool, exactlyOne, int, object, oneOf, optional, revisionName, revRef, str, type Check } from './validate.js'

export interface ApiChannels extends TrustChannels {
  'app.info': { req: T.Empty; res: T.AppInfo }
  'fs.list': { req: { path?: string; files?: boolean }; res: T.DirListing }

  'library.list': { req: T.Empty; res: T.LibraryList }
  'library.show': { req: { rev: string }; res: T.RevisionDetail }
  'library.diff': { req: { a: string; b: string }; res: T.RevisionDiff }
  'library.import': { req: { path?: string; upload?: string; name?: string }; res: T.ImportResult }
  'library.export': { req: { rev: string; folder: string; gzip?: boolean; compress?: boolean }; res: T.ExportResult }
  'library.rename': { req: { rev: string; name: string }; res: T.RevisionSummary }
  'library.remove': { req: { rev: string }; res: { removed: string } }
  'library.composePreview': { req: { base: string; ops: T.ComposeOpRequest[] }; res: T.ComposePreview }
  'library.composeSave': { req: { base: string; ops: T.ComposeOpRequest[]; name: string }; res: T.ComposeSaveResult }

  'transfers.list': { req: T.Empty; res: T.TransferInfo[] }
  'transfers.cancel': { req: { id: string }; res: { cancelled: boolean } }
  'transfers.clear': { req: T.Empty; res: { cleared: number } }
  /** Run a failed or cancelled transfer's request again; answers once the new transfer started. */
  'transfers.retry': { req: { id: string }; res: { id: string } }

  'peers.status': { req: T.Empty; res: T.PeersStatus }
  'peers.add': { req: { addr: string; offline?: boolean }; res: { peerId: string; reached: boolean } }
  'peers.pull': { req: { rev: string; from?: string[] }; res: T.PullResult }
  'team.create': { req: { name?: string; replace?: boolean }; res: { code: string; name: string | null } }
  'team.join': { req: { code: string }; res: { name: string | null } }
  'team.show': { req: T.Empty; res: { code: string | null; name: string | null } }

  'devices.list': { req: T.Empty; res: T.DeviceInfo[] }
  'devices.add': { req: { address: string; offline?: boolean }; res: T.DeviceInfo }
  'devices.plan': { req: { rev: string; device: string; via?: T.DeviceVia; commit?: boolean; ssh?: T.SshCredentials }; res: T.InstallPlan }
  'devices.install': { req: { rev: string; device: string; via?: T.DeviceVia; name?: string; commit?: boolean; ssh?: T.SshCredentials }; res: T.InstallResult }
  'devices.history': { req: { device: string }; res: T.InstallRecord[] }
  'devices.detail': { req: { device: string }; res: F.DeviceDetail }
  /** Alias ('' removes it), as `fieldsync devices rename`. */
  'devices.rename': { req: { device: string; alias: string }; res: T.DeviceInfo }
  'devices.tag': { req: { devices: string[]; tags: string[]; remove?: boolean }; res: T.DeviceInfo[] }
  'devices.forget': { req: { devices: string[] }; res: { forgotten: number } }
  /** The container to log in as over SSH for this device ('' forgets the choice), as the install form's field remembers it. */
  'devices.setSsh': { req: { device: string; container: string }; res: F.DeviceSsh }

  'rollout.plan': { req: RolloutReq; res: F.RolloutView }
  /** Start the planned run, or resume it (the engine resumes the same revision, devices and canaries). */
  'rollout.start': { req: RolloutReq & { maxFailures: number; commit?: boolean }; res: F.RolloutView }
  'rollout.stop': { req: { id: string }; res: F.RolloutView }
  'rollout.current': { req: T.Empty; res: F.RolloutView | null }
  'rollout.report': { req: { id: string; folder: string; kind: F.ReportKind }; res: { path: string } }
  /** The newest rollouts that did not finish (killed or stopped), but the one this window runs. */
  'rollout.unfinished': { req: T.Empty; res: F.UnfinishedRollout[] }
  /** Start an unfinished rollout again with its stored request: the engine resumes it (finished devices skipped, cut-off ones followed). */
  'rollout.resume': { req: { rollout: number }; res: F.RolloutView }
  /** Give an unfinished rollout up: it is no longer listed, and the same plan again starts afresh. */
  'rollout.dismiss': { req: { rollout: number }; res: { dismissed: number } }

  'usb.export': { req: { revs: string[]; folder: string; forDevice?: string; forPeer?: string }; res: T.UsbExportResult }
  'usb.import': { req: { folder: string }; res: T.UsbImportResult }
  'usb.inventory': { req: { folder: string }; res: T.UsbInventoryResult }
  'usb.eject': { req: { folder: string }; res: T.UsbEjectResult }
}

export interface RolloutReq {
  rev: string
  devices: string[]
  canary?: string[]
  parallel: number
}

export type Channel = keyof ApiChannels
export type Req<C extends Channel> = ApiChannels[C]['req']
export type Res<C extends Channel> = ApiChannels[C]['res']

export interface ApiEvents {
  /** A revision was added, completed, became incomplete, renamed or removed. */
  revision: { id: string; complete: boolean; removed?: boolean }
  /** An object entered the store. */
  object: { sha: string; size: number }
  transfer: T.TransferInfo
  peer: { peer: T.LanPeer | null; id: string; gone: boolean }
  /** A device was seen or relabelled; gone: it was forgotten. */
  device: { device: T.DeviceInfo; gone?: boolean }
  install: T.InstallProgress
  /** A rollout's row or state changed. */
  rollout: F.RolloutUpdate
  /** Capabilities changed (e.g. the LAN node started). */
  capabilities: T.Capabilities
  /** The trust store or the policy changed (here, or on disk by another process such as `fieldsync trust add`). */
  trust: { version: string }
}

export type EventName = keyof ApiEvents

const hexId = str({ max: 64, pattern: /^[0-9a-f]{8,64}$/, what: 'an id of 8-64 lowercase hex digits' })
const via = oneOf(DEVICE_VIAS)
const deviceRef = str({ max: 255, pattern: /^[A-Za-z0-9._:[\]-]+$/, what: 'a device id, name or address' })
const address = str({
  max: 255,
  pattern: /^(?:[A-Za-z0-9._:[\]-]+|unix:\/[A-Za-z0-9._/-]+)$/,
  what: 'a host, host:port, [ipv6]:port or unix:<pv-ctrl socket path>',
})
const peerId = str({ max: 128, pattern: /^[1-9A-HJ-NP-Za-km-z]+$/, what: 'a peer id (base58)' })
const multiaddr = str({ max: 512, pattern: /^\/[A-Za-z0-9._:/-]+$/, what: 'a multiaddr such as /ip4/10.0.0.5/tcp/4001/p2p/12D3...' })
const joinCode = str({ max: 512, pattern: /^[A-Za-z0-9_=:.+/-]+$/, what: 'a join code as printed by team create' })
const partName = str({ max: 512, pattern: /^[^\u0000-\u001f]+$/, what: 'a part name such as awconnect, _config/awconnect or _sigs/awconnect.json' }) // eslint-disable-line no-control-regex
const composeOp = exactlyOne(object({ add: optional(revRef), remove: optional(partName) }), ['add', 'remove']) as unknown as Check<T.ComposeOpRequest>
const sshCredentials = object({
  container: optional(str({ max: 64, pattern: /^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/, what: 'a container name such as pvr-sdk' })),
  keyFile: optional(absPath),
  password: optional(str({ max: 1024, pattern: /^[^\u0000]*$/, what: 'a password' })), // eslint-disable-line no-control-regex
  agent: optional(bool),
  port: optional(int({ min: 1, max: 65535 })),
}) as unknown as Check<T.SshCredentials>
const deviceList = arrayOf(deviceRef, { min: 1, max: 1000 })
const label = str({ max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/, what: 'letters, digits and . _ @ + - starting with a letter or digit' })
const rolloutNo = int({ min: 1, max: 2 ** 53 - 1 })
const runId = str({ max: 64, pattern: /^[0-9a-f]{8,64}$/, what: 'a rollout run id' })
const rolloutReq = {
  rev: revRef,
  devices: deviceList,
  canary: optional(arrayOf(deviceRef, { max: 1000 })),
  parallel: int({ min: 1, max: 64 }),
}
const teamName = str({ max: 64, pattern: /^[\p{L}\p{N} ._-]+$/u, what: 'letters, digits, spaces and . _ -' })

/** A validator for every channel's request: main runs it before any handler. */
export const requestValidators: { [C in Channel]: Check<Req<C>> } = {
  'app.info': object({}),
  'fs.list': object({ path: optional(absPath), files: optional(bool) }),

  'library.list': object({}),
  'library.show': object({ rev: revRef }),
  'library.diff': object({ a: revRef, b: revRef }),
  'library.import': exactlyOne(object({ path: optional(absPath), upload: optional(hexId), name: optional(revisionName) }), ['path', 'upload']),
  'library.export': object({ rev: revRef, folder: absPath, gzip: optional(bool), compress: optional(bool) }),
  'library.rename': object({ rev: revRef, name: revisionName }),
  'library.remove': object({ rev: revRef }),
  'library.composePreview': object({ base: revRef, ops: arrayOf(composeOp, { max: 64 }) }),
  'library.composeSave': object({ base: revRef, ops: arrayOf(composeOp, { min: 1, max: 64 }), name: revisionName }),

  'transfers.list': object({}),
  'transfers.cancel': object({ id: hexId }),
  'transfers.clear': object({}),
  'transfers.retry': object({ id: hexId }),

  'peers.status': object({}),
  'peers.add': object({ addr: multiaddr, offline: optional(bool) }),
  'peers.pull': object({ rev: revRef, from: optional(arrayOf(peerId, { max: 64 })) }),
  'team.create': object({ name: optional(teamName), replace: optional(bool) }),
  'team.join': object({ code: joinCode }),
  'team.show': object({}),

  'devices.list': object({}),
  'devices.add': object({ address, offline: optional(bool) }),
  'devices.plan': object({ rev: revRef, device: deviceRef, via: optional(via), commit: optional(bool), ssh: optional(sshCredentials) }),
  'devices.install': object({
    rev: revRef,
    device: deviceRef,
    via: optional(via),
    ssh: optional(sshCredentials),
    name: optional(str({ max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, what: 'a step name of letters, digits, . _ -' })),
    commit: optional(bool),
  }),
  'devices.history': object({ device: deviceRef }),
  'devices.detail': object({ device: deviceRef }),
  'devices.rename': object({
    device: deviceRef,
    alias: str({ min: 0, max: 64, pattern: /^$|^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/, what: 'an alias of letters, digits and . _ @ + - (empty: remove it)' }),
  }),
  'devices.tag': object({ devices: deviceList, tags: arrayOf(label, { min: 1, max: 32 }), remove: optional(bool) }),
  'devices.forget': object({ devices: deviceList }),
  'devices.setSsh': object({
    device: deviceRef,
    container: str({ min: 0, max: 64, pattern: /^$|^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/, what: 'a container name such as pvr-sdk (empty: forget the choice)' }),
  }),

  'rollout.plan': object(rolloutReq),
  'rollout.start': object({ ...rolloutReq, maxFailures: int({ min: 1, max: 1000 }), commit: optional(bool) }),
  'rollout.stop': object({ id: runId }),
  'rollout.current': object({}),
  'rollout.report': object({ id: runId, folder: absPath, kind: oneOf(REPORT_KINDS) }),
  'rollout.unfinished': object({}),
  'rollout.resume': object({ rollout: rolloutNo }),
  'rollout.dismiss': object({ rollout: rolloutNo }),

  'usb.export': object({ revs: arrayOf(revRef, { min: 1, max: 64 }), folder: absPath, forDevice: optional(absPath), forPeer: optional(absPath) }),
  'usb.import': object({ folder: absPath }),
  'usb.inventory': object({ folder: absPath }),
  'usb.eject': object({ folder: absPath }),
  ...trustValidators,
}

/** Every channel, in contract order. */
export const CHANNELS = Object.freeze(Object.keys(requestValidators)) as readonly Channel[]

const eventNames: { [E in EventName]: true } = {
  revision: true,
  object: true,
  transfer: true,
  peer: true,
  device: true,
  install: true,
  rollout: true,
  capabilities: true,
  trust: true,
}
export const EVENTS = Object.freeze(Object.keys(eventNames)) as readonly EventName[]

export function isChannel(c: unknown): c is Channel {
  return typeof c === 'string' && Object.hasOwn(requestValidators, c)
}

export function isEventName(e: unknown): e is EventName {
  return typeof e === 'string' && Object.hasOwn(eventNames, e)
}

/** Validate a request for `channel`: returns it typed or throws a BadInputError. */
export function validateRequest<C extends Channel>(channel: C, req: unknown): Req<C> {
  return requestValidators[channel](req, channel)
}

/** What every invoke answers, over IPC and HTTP alike: errors never cross as thrown exceptions. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: WireError }

/** The one header that carries browser mode's secret token. */
export const TOKEN_HEADER = 'x-fieldsync-token'
/** Electron IPC channel names (the contract's channels ride inside them). */
export const IPC_INVOKE = 'fieldsync:invoke'
export const IPC_EVENT = 'fieldsync:event'
