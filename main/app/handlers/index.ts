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
import { TrustWatcher } from '../../trust/watch.js'
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
  private readonly trustWatcher: TrustWatcher
  private lan: LanService | undefined
  private deviceService: DeviceService | undefined

  constructor(
    private readonly components: { app: App; log: Logger },
    private readonly opts: ApiCoreOptions,
  ) {
    this.log = components.log.child('api')
    this.transfers = new TransferRegistry({ events: this.events })
    this.uploads = new Uploads({ home: components.app.home })
    // Another process (`fieldsync trust add`) may change the trust store while the app runs: read it again and tell the screens.
    this.trustWatcher = new TrustWatcher({
      store: () => components.app.trust,
      log: this.log,
      onChange: version => {
        this.trustChanged(version)
      },
    })
    this.signatures = new SignatureChecks({
      library: components.app.library,
      trust: () => components.app.trust,
      fresh: async () => {
        await this.trustWatcher.fresh()
      },
      home: components.app.home,
      log: this.log,
    })
    this.rollouts = new RolloutService({
      app: components.app,
      events: this.events,
      log: this.log,
      devices: () => this.deviceService,
      policy: async raw => await this.signatures.policy(raw),
      judge: async (raw, origins) => await this.signatures.composition(raw, origins),
      signature: async id => (await this.signatures.verdict(id))?.status.summary ?? 'INVALID: cannot read the stored state',
    })
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
      policy: async raw => await this.signatures.policy(raw),
      judge: async (raw, origins) => await this.signatures.composition(raw, origins),
      trustFresh: async () => {
        await this.trustWatcher.fresh()
      },
      trustChanged: () => {
        this.trustChanged(components.app.trust.version())
      },
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
      'transfers.retry': async ({ id }) => ({
        id: await this.transfers.retry(id, async (request, retryOf) => await this.run(request.channel, request.req, {}, retryOf)),
      }),
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
    await this.trustWatcher.start()
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
    await this.trustWatcher.stop()
    await this.signatures.stop()
    await this.uploads.stop()
  }

  /** Every revision's signature verdict may differ now: the screens read them again. */
  private trustChanged(version: string): void {
    this.events.emit('trust', { version })
    for (const r of this.components.app.library.list()) this.events.emit('revision', { id: r.id, complete: r.complete })
  }

  /** Validate and run one request. Never throws: failures come back as {ok:false, error}. */
  async dispatch(channel: unknown, req: unknown, ctx: CallContext = {}): Promise<Envelope<unknown>> {
    return await this.run(channel, req, ctx, null)
  }

  /** dispatch(), as a retry of transfer `retryOf` when given: the transfers it starts keep the request (to be retried). */
  private async run(channel: unknown, req: unknown, ctx: CallContext, retryOf: string | null): Promise<Envelope<unknown>> {
    try {
      if (!isChannel(channel)) throw new NotFoundError(`no API channel ${JSON.stringify(String(channel)).slice(0, 80)}`)
      const valid = validateRequest(channel, req)
      const fn = this.handlers[channel] as (r: Req<Channel>, ctx: CallContext) => Promise<unknown>
      const value = await this.transfers.withRequest({ channel, req: valid }, async () => await fn(valid, ctx), retryOf)
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
