/**
 * The main side of the UI contract: validates every request, runs its
 * handler on top of the App, and answers an envelope ({ok, value} or
 * {ok:false, error:{code,message}}). Front ends (Electron IPC, browser
 * mode's HTTP server) only move envelopes and events; they never call
 * services themselves.
 */
import { isChannel, validateRequest, type Channel, type Envelope, type Req } from '../../../shared/api/contract.js'
import type { Capabilities, SignatureStatus } from '../../../shared/api/types.js'
import { ErrorCodes, NotFoundError, toWireError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import type { App } from '../index.js'
import type { CallContext, HandlerDeps, HandlerMap } from './context.js'
import { deviceHandlers } from './devices.js'
import { ApiEventBus } from './events.js'
import { libraryHandlers } from './library.js'
import { peerHandlers } from './peers.js'
import { systemHandlers } from './system.js'
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
  private readonly handlers: HandlerMap
  private readonly log: Logger
  private readonly unsubscribe: Array<() => void> = []
  private readonly sigCache = new Map<string, SignatureStatus>()

  constructor (private readonly c: { app: App, log: Logger }, private readonly opts: ApiCoreOptions) {
    this.log = c.log.child('api')
    this.transfers = new TransferRegistry({ events: this.events })
    this.uploads = new Uploads({ home: c.app.home })
    const deps: HandlerDeps = {
      app: c.app,
      log: this.log,
      events: this.events,
      transfers: this.transfers,
      uploads: this.uploads,
      mode: opts.mode,
      capabilities: () => this.capabilities(),
      signature: (id) => this.signature(id),
    }
    this.handlers = {
      ...systemHandlers(deps),
      ...libraryHandlers(deps),
      ...peerHandlers(deps),
      ...deviceHandlers(deps),
      ...usbHandlers(deps),
    }
  }

  capabilities (): Capabilities {
    return {
      peers: false,
      devices: false,
      usb: false,
      trust: false,
      filePaths: this.opts.mode === 'electron',
      upload: this.opts.mode === 'browser',
    }
  }

  /** Signature status of a stored revision (states never change, so it is cached). */
  private signature (id: string): SignatureStatus {
    const hit = this.sigCache.get(id)
    if (hit !== undefined) return hit
    const keys = this.c.app.library.state(id).keys.filter(k => k.startsWith('_sigs/') && k.endsWith('.json'))
    const s: SignatureStatus = keys.length === 0
      ? { state: 'unsigned', summary: 'unsigned' }
      : { state: 'unavailable', summary: `${keys.length} signature${keys.length === 1 ? '' : 's'}, not verified (signature checks are not in this build yet)` }
    this.sigCache.set(id, s)
    return s
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
