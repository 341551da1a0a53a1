/**
 * The main side of the UI contract: validates every request, runs its
 * handler on top of the App, and answers an envelope ({ok, value} or
 * {ok:false, error:{code,message}}). Front ends (Electron IPC, browser
 * mode's HTTP server) only move envelopes and events; they never call
 * services themselves.
 */
import { isChannel, validateRequest, type Channel, type Envelope, type Req } from '../../../shared/api/contract.js'
import type { Capabilities } from '../../../shared/api/types.js'
import { ErrorCodes, NotFoundError, toWireError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { App } from '../index.js'
import type { CallContext, HandlerDeps, HandlerMap } from './context.js'
import { DeviceService, deviceHandlers } from './devices.js'
import { ApiEventBus } from './events.js'
import { fleetHandlers } from './fleet.js'
import { RolloutService, rolloutHandlers } from './rollout.js'
import { libraryHandlers } from './library.js'
import { composeHandlers } from './compose.js'
import { LanService, type LanOptions } from './lan.js'
import { peerHandlers } from './peers.js'
import { SignatureChecks } from './signatures.js'
import { systemHandlers } from './system.js'
import { trustHandlers } from './trust.js'
import { TransferRegistry } from './transfers.js'
import { Uploads } from './uploads.js'
import { usbHandlers } from './usb.js'

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
  private readonly signatures: SignatureChecks
  private lan: LanService | undefined
  private deviceService: DeviceService | undefined

  constructor(
    private readonly components: { app: App; log: Logger },
    private readonly opts: ApiCoreOptions,
  ) {
    this.log = components.log.child('api')
    this.transfers = new TransferRegistry({ events: this.events })
    this.uploads = new Uploads({ home: components.app.home })
    this.signatures = new SignatureChecks({ library: components.app.library, trust: () => components.app.trust, home: components.app.home, log: this.log })
    this.rollouts = new RolloutService({ app: components.app, events: this.events, log: this.log, devices: () => this.deviceService })
    const deps: HandlerDeps = {
      app: components.app,
      log: this.log,
      events: this.events,
      transfers: this.transfers,
      uploads: this.uploads,
      mode: opts.mode,
      capabilities: () => this.capabilities(),
      signature: async id => (await this.signatures.verdict(id))?.status ?? { state: 'invalid', summary: 'INVALID: cannot read the stored state' },
      signatureReport: async id => (await this.signatures.verdict(id))?.view ?? null,
      signatureAnchors: async id => (await this.signatures.verdict(id))?.anchors ?? [],
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
      ...trustHandlers(deps),
    }
  }

  capabilities(): Capabilities {
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
  async enableLan(opts: LanOptions): Promise<LanService> {
    if (this.lan !== undefined) return this.lan
    const lan = new LanService({ app: this.components.app, events: this.events, log: this.components.log }, opts)
    this.lan = lan
    await this.components.app.add('ui.lan', lan)
    this.events.emit('capabilities', this.capabilities())
    return lan
  }

  /** Device discovery (mDNS unless `mdns` is false) and installs. */
  async enableDevices(opts: { mdns: boolean }): Promise<DeviceService> {
    if (this.deviceService !== undefined) return this.deviceService
    const s = new DeviceService({ app: this.components.app, events: this.events, log: this.components.log }, opts)
    this.deviceService = s
    await this.components.app.add('ui.devices', s)
    this.events.emit('capabilities', this.capabilities())
    return s
  }

  async start(): Promise<void> {
    // The CLI's app loads its trust store on demand; the API's handlers all rely on it.
    await this.components.app.trustStore()
    await this.uploads.start()
    await this.signatures.start()
    const lib = this.components.app.library
    const onRevision = (e: { id: string; complete: boolean }) => {
      this.events.emit('revision', e)
    }
    const onObject = (e: { sha: string; size: number }) => {
      this.events.emit('object', e)
    }
    lib.on('revision', onRevision)
    lib.on('object', onObject)
    this.unsubscribe.push(() => {
      lib.off('revision', onRevision)
      lib.off('object', onObject)
    })
  }

  async stop(): Promise<void> {
    await this.rollouts.stop()
    this.transfers.stop()
    for (const u of this.unsubscribe.splice(0)) u()
    await this.signatures.stop()
    await this.uploads.stop()
  }

  /** Validate and run one request. Never throws: failures come back as {ok:false, error}. */
  async dispatch(channel: unknown, req: unknown, ctx: CallContext = {}): Promise<Envelope<unknown>> {
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
