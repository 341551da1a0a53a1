/**
 * The composition root (house rule 2): constructs the services with exactly
 * the collaborators they need and starts/stops them in order. Used by the
 * CLI, the browser mode and Electron alike. Services that load heavy modules
 * (the libp2p node) are added by the front end that needs them, so that a
 * quick command like `fieldsync ls` starts fast.
 */
import type { Logger } from '../../shared/log.js'
import { Library } from '../store/library.js'
import { Importer } from '../store/import/index.js'
import type { TrustStore } from '../trust/store.js'
import { readEnvSettings, type EnvSettings } from './paths.js'
import { BugError } from '../../shared/errors.js'

export interface Service {
  start: () => Promise<void>
  stop: () => Promise<void>
}

export interface AppOptions {
  home: string
  log: Logger
  /** What the environment sets (default: read from process.env, once, here). */
  env?: EnvSettings
  /**
   * When the trust store (CA bundles, pinned keys, the policy) loads:
   * 'at-start' (default), or 'on-demand', at the first `trustStore()`, so that
   * a command that checks no signature (`fieldsync ls` on an empty library)
   * loads no x509 code (the CLI).
   */
  trust?: 'at-start' | 'on-demand'
}

export class App {
  readonly home: string
  readonly log: Logger
  readonly library: Library
  readonly importer: Importer
  private readonly trustWhen: 'at-start' | 'on-demand'
  private trustLoaded: TrustStore | undefined
  private trustLoading: Promise<TrustStore> | undefined
  private readonly services: Service[] = []
  private readonly named = new Map<string, Service>()
  private started = false

  constructor(opts: AppOptions) {
    this.home = opts.home
    this.log = opts.log
    const env = opts.env ?? readEnvSettings(process.env)
    this.library = new Library({ log: opts.log }, { home: opts.home, directIo: env.directIo })
    this.importer = new Importer({ library: this.library, log: opts.log }, { maxExpansion: env.maxExpansion, pvrObjectDirs: env.pvrObjectDirs })
    this.services.push(this.library)
    this.trustWhen = opts.trust ?? 'at-start'
  }

  /** CA bundles, pinned keys and the signature policy (main/trust), once loaded (see `trustStore()`). */
  get trust(): TrustStore {
    if (this.trustLoaded === undefined) throw new BugError('the trust store is not loaded yet: await app.trustStore() first')
    return this.trustLoaded
  }

  /** The trust store, loaded (main/trust and its x509 code included) on the first call. */
  async trustStore(): Promise<TrustStore> {
    this.trustLoading ??= (async () => {
      const { TrustStore } = await import('../trust/store.js')
      const store = new TrustStore({ log: this.log }, { home: this.home })
      await store.start()
      this.trustLoaded = store
      return store
    })()
    try {
      return await this.trustLoading
    } catch (err) {
      this.trustLoading = undefined
      throw err
    }
  }

  /** Add a service; started now if the app runs, stopped with it (in reverse order). */
  async add<T extends Service>(name: string, svc: T): Promise<T> {
    if (this.named.has(name)) throw new BugError(`service ${name} added twice`)
    this.named.set(name, svc)
    this.services.push(svc)
    if (this.started) await svc.start()
    return svc
  }

  service<T extends Service>(name: string): T | undefined {
    return this.named.get(name) as T | undefined
  }

  async start(): Promise<void> {
    await this.library.start()
    if (this.trustWhen === 'at-start') await this.trustStore()
    for (const s of this.services) if (s !== this.library) await s.start()
    this.started = true
  }

  async stop(): Promise<void> {
    this.started = false
    for (const s of [...this.services].reverse()) {
      try {
        await s.stop()
      } catch (err) {
        this.log.error('stopping a service failed: %s', err)
      }
    }
  }
}

export { defaultHome } from './paths.js'
