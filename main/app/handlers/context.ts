/** What every handler gets: the app, the event bus, transfers, uploads. */
import type { CompositionVerdict } from '../../trust/composition.js'
import type { Channel, Req, Res } from '../../../shared/api/contract.js'
import type { Capabilities, SignatureReportView, SignatureStatus } from '../../../shared/api/types.js'
import type { Logger } from '../../../shared/log.js'
import type { App } from '../index.js'
import type { ApiEventBus } from './events.js'
import type { LanService } from './lan.js'
import type { DeviceService } from './devices.js'
import type { TransferRegistry } from './transfers.js'
import type { Uploads } from './uploads.js'

export interface CallContext {
  /** Aborted when the caller goes away (not used for transfers, which outlive a page reload). */
  signal?: AbortSignal
}

export type Handler<C extends Channel> = (req: Req<C>, ctx: CallContext) => Promise<Res<C>>
export type HandlerMap = { [C in Channel]: Handler<C> }

export interface HandlerDeps {
  app: App
  log: Logger
  events: ApiEventBus
  transfers: TransferRegistry
  uploads: Uploads
  mode: 'electron' | 'browser'
  capabilities: () => Capabilities
  /** The revision's signature verdict (verified off the API thread, cached per trust-store version). */
  signature: (id: string) => Promise<SignatureStatus>
  signatureReport: (id: string) => Promise<SignatureReportView | null>
  /** The signature policy on a state about to go to a device or a stick, checked off the API thread (rejects with E_POLICY_REFUSED). */
  policy: (raw: Uint8Array) => Promise<void>
  /** The signature verdict on a composed state, off the API thread (compose previews, a package's install plan). */
  judge: (raw: Uint8Array, origins: Uint8Array[]) => Promise<CompositionVerdict>
  /** Fingerprints of the trust entries the revision's valid signatures rest on. */
  signatureAnchors: (id: string) => Promise<string[]>
  /** Read the trust store again if another process changed it on disk (a cheap stat check). */
  trustFresh: () => Promise<void>
  /** The trust store or the policy changed here: tell the screens ('trust' and a 'revision' event per revision). */
  trustChanged: () => void
  /** The LAN node service, when this front end runs one. */
  lan: () => LanService | undefined
  /** Device discovery and installs, when this front end runs them. */
  devices: () => DeviceService | undefined
}
