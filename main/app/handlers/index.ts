/**
 * The main side of the UI contract: validates every request, runs its
 * handler on top of the App, and answers an envelope ({ok, value} or
 * {ok:false, error:{code,message}}). Front ends (Electron IPC, browser
 * mode's HTTP server) only move envelopes and events; they never call
 * services themselves.
 */
import { isChannel, validateRequest, type Channel, type Envelope, type Req } from '../../../shared/api/contract.js'
import type { Capabilities, SignatureReportView, SignatureStatus } from '../../../shared/api/types.js'
import { ErrorCodes, NotFoundError, toWireError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { verdictText, verifyStateSignatures, type SignatureReport } from '../../trust/index.js'
import type { App } from '../index.js'
import type { CallContext, HandlerDeps, HandlerMap } from './context.js'
import { DeviceService, deviceHandlers } from './devices.js'
import { ApiEventBus } from './events.js'
import { fleetHandlers } from './fleet.js'
import { RolloutService, rolloutHandlers } from './rollout.js'
import { libraryHandlers } from './library.js'
import { composeHandlers } from './compose.js'
import { LanService, type LanOptions } from './node.js'
import { peerHandlers } from './peers.js'
import { systemHandlers } from './system.js'
import { TransferRegistry } from './transfers.js'
import { Uploads } from './uploads.js'
import { usbHandlers } from './usb.js'

const SIG_CACHE_MS = 10_000

function statusOf (r: SignatureReport): SignatureStatus {
  if (!r.signed) return { state: 'unsigned', summary: r.summary }
  const untrustedOnly = r.signatures.some(s => s.verdict === 'untrusted') && !r.signatures.some(s => s.verdict === 'invalid')
  if (untrustedOnly) return { state: 'untrusted', summary: r.summary }
  if (!r.pass || r.signatures.some(s => !s.ok)) return { state: 'invalid', summary: r.reason !== null && !r.summary.startsWith('INVALID') ? `${r.summary}: ${r.reason}` : r.summary }
  const notes = [...r.warnings, ...r.signatures.flatMap(s => s.notes)]
  if (notes.length > 0 || r.uncovered.length > 0) return { state: 'warning', summary: notes.length > 0 ? `${r.summary}; ${notes[0]}` : r.summary }
  return { state: 'valid', summary: r.summary }
}

function viewOf (r: SignatureReport): SignatureReportView {
  return {
    policy: r.policy,
    pass: r.pass,
    reason: r.reason,
    signatures: r.signatures.map(s => ({
      key: s.key,
      ok: s.ok,
      verdict: s.verdict,
      signer: s.signer === null ? null : `${s.signer.name}${s.signer.anchor !== null ? ` (${s.signer.anchor})` : ''}`,
      alg: s.alg,
      message: s.ok ? s.message : verdictText(s),
      covers: s.covers,
      notes: s.notes,
    })),
    uncovered: r.uncovered,
    excluded: r.excluded,
    warnings: r.warnings,
  }
}

export interface ApiCoreOptions {
  mode: 'electron' | 'browser'
}

export class ApiCore {
  readonly events = new ApiEventBus()
  readonly transfers: TransferRegistry
  readonly uploads: Uploads
  readonly rollouts: RolloutService
  private readonly handlers: HandlerMap
  private readonly log: Logger
  private readonly unsubscribe: Array<() => void> = []
  private readonly sigCache = new Map<string, { at: number, status: SignatureStatus, view: SignatureReportView | null }>()
  private lan: LanService | undefined
  private deviceService: DeviceService | undefined

  constructor (private readonly c: { app: App, log: Logger }, private readonly opts: ApiCoreOptions) {
    this.log = c.log.child('api')
    this.transfers = new TransferRegistry({ events: this.events })
    this.uploads = new Uploads({ home: c.app.home })
    this.rollouts = new RolloutService({ app: c.app, events: this.events, log: this.log, devices: () => this.deviceService })
    const deps: HandlerDeps = {
      app: c.app,
      log: this.log,
      events: this.events,
      transfers: this.transfers,
      uploads: this.uploads,
      mode: opts.mode,
      capabilities: () => this.capabilities(),
      signature: (id) => this.signature(id),
      signatureReport: (id) => this.report(id)?.view ?? null,
      lan: () => this.lan,
      devices: () => this.deviceService,
    }
    this.handlers = {
      ...systemHandlers(deps),
      ...libraryHandlers(deps),
      ...composeHandlers(deps),
      ...peerHandlers(deps),
      ...deviceHandlers(deps),
      ...fleetHandlers(deps),
      ...rolloutHandlers(() => this.rollouts),
      ...usbHandlers(deps),
    }
  }

  capabilities (): Capabilities {
    return {
      peers: this.lan !== undefined,
      devices: this.deviceService !== undefined,
      filePaths: this.opts.mode === 'electron',
      upload: this.opts.mode === 'browser',
    }
  }

  /**
   * Run the LAN node inside this app (browser mode and Electron do; the
   * node starts now if this laptop is in a team, or when it joins one).
   */
  async enableLan (opts: LanOptions): Promise<LanService> {
    if (this.lan !== undefined) return this.lan
    const lan = new LanService({ app: this.c.app, events: this.events, log: this.c.log }, opts)
    this.lan = lan
    await this.c.app.add('ui.lan', lan)
    this.events.emit('capabilities', this.capabilities())
    return lan
  }

  /** Device discovery (mDNS unless `mdns` is false) and installs. */
  async enableDevices (opts: { mdns: boolean }): Promise<DeviceService> {
    if (this.deviceService !== undefined) return this.deviceService
    const s = new DeviceService({ app: this.c.app, events: this.events, log: this.c.log }, opts)
    this.deviceService = s
    await this.c.app.add('ui.devices', s)
    this.events.emit('capabilities', this.capabilities())
    return s
  }

  /** Signature status of a stored revision, verified against the trust store (cached briefly: anchors can change). */
  private signature (id: string): SignatureStatus {
    return this.report(id)?.status ?? { state: 'invalid', summary: 'INVALID: cannot read the stored state' }
  }

  private report (id: string): { status: SignatureStatus, view: SignatureReportView | null } | undefined {
    const hit = this.sigCache.get(id)
    if (hit !== undefined && Date.now() - hit.at < SIG_CACHE_MS) return hit
    let raw: Uint8Array
    try { raw = this.c.app.library.state(id).raw } catch { return undefined }
    let entry: { at: number, status: SignatureStatus, view: SignatureReportView | null }
    try {
      const r = verifyStateSignatures(raw, { trust: this.c.app.trust.anchors(), policy: this.c.app.trust.policy() })
      entry = { at: Date.now(), status: statusOf(r), view: viewOf(r) }
    } catch (err) {
      entry = { at: Date.now(), status: { state: 'invalid', summary: `INVALID: ${(err as Error).message}` }, view: null }
    }
    this.sigCache.set(id, entry)
    return entry
  }

  async start (): Promise<void> {
    await this.uploads.start()
    const lib = this.c.app.library
    const onRevision = (e: { id: string, complete: boolean }) => { this.events.emit('revision', e) }
    const onObject = (e: { sha: string, size: number }) => { this.events.emit('object', e) }
    lib.on('revision', onRevision)
    lib.on('object', onObject)
    this.unsubscribe.push(() => { lib.off('revision', onRevision); lib.off('object', onObject) })
  }

  async stop (): Promise<void> {
    await this.rollouts.stop()
    this.transfers.stop()
    for (const u of this.unsubscribe.splice(0)) u()
    await this.uploads.stop()
  }

  /** Validate and run one request. Never throws: failures come back as {ok:false, error}. */
  async dispatch (channel: unknown, req: unknown, ctx: CallContext = {}): Promise<Envelope<unknown>> {
    try {
      if (!isChannel(channel)) throw new NotFoundError(`no API channel ${JSON.stringify(String(channel)).slice(0, 80)}`)
      const valid = validateRequest(channel, req)
      const fn = this.handlers[channel] as (r: Req<Channel>, ctx: CallContext) => Promise<unknown>
      const value = await fn(valid, ctx)
      return { ok: true, value: value ?? null }
    } catch (err) {
      const error = toWireError(err)
      if (error.code === ErrorCodes.Internal) this.log.error('%s failed: %s', String(channel), (err as Error)?.stack ?? err)
      else this.log('%s: %s %s', String(channel), error.code, error.message)
      return { ok: false, error }
    }
  }
}

export { ApiEventBus } from './events.js'
export { TransferRegistry, type TransferHandle } from './transfers.js'
export { Uploads, type Upload } from './uploads.js'
