/**
 * TrustWatcher: keeps a running app's TrustStore in step with its folder when
 * another process changes it (`fieldsync trust add|rm|policy` while the app
 * runs). fs.watch on `<home>/trust/` and its `ca/`, `oem/` and `keys/`
 * folders, debounced; and, where a watch misses something (a folder made
 * after the start, a file system without inotify), `fresh()`, a cheap stat
 * check the app runs before it reads verdicts, at most once per `checkEveryMs`.
 * When what the verdicts depend on changed (TrustStore.version()), `onChange`
 * is called with the new version.
 */
import { watch, type FSWatcher } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../shared/log.js'
import type { TrustStore } from './store.js'

export interface TrustWatcherOptions {
  /** Wait this long after the last change on disk before reading the store again. */
  debounceMs?: number
  /** `fresh()` looks at the disk at most this often. */
  checkEveryMs?: number
}

const DEFAULTS = { debounceMs: 150, checkEveryMs: 1000 }
const FOLDERS = ['', 'ca', 'oem', 'keys']

export class TrustWatcher {
  private readonly log: Logger
  private readonly opts: Required<TrustWatcherOptions>
  private watchers: FSWatcher[] = []
  private timer: NodeJS.Timeout | undefined
  private lastVersion = ''
  private lastCheck = 0
  private checking: Promise<void> | undefined
  private stopped = true

  constructor(
    private readonly components: { store: () => TrustStore; log: Logger; onChange: (version: string) => void },
    options: TrustWatcherOptions = {},
  ) {
    this.log = components.log.child('trust:watch')
    this.opts = { ...DEFAULTS, ...options }
  }

  async start(): Promise<void> {
    this.stopped = false
    const store = this.components.store()
    this.lastVersion = store.version()
    for (const sub of FOLDERS) {
      const dir = join(store.dir, sub)
      try {
        await mkdir(dir, { recursive: true })
        const w = watch(dir, { persistent: false }, () => {
          this.changedOnDisk()
        })
        w.on('error', err => {
          this.log('watching %s stopped (%s): the stat check remains', dir, err.message)
          w.close()
        })
        this.watchers.push(w)
      } catch (err) {
        this.log('cannot watch %s (%s): the stat check remains', dir, (err as Error).message)
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const w of this.watchers.splice(0)) w.close()
    await this.checking
  }

  /** Make sure the store is what the disk holds (a stat check, at most once per checkEveryMs). */
  async fresh(): Promise<void> {
    if (this.checking !== undefined) return await this.checking
    if (Date.now() - this.lastCheck < this.opts.checkEveryMs) return
    await this.check()
  }

  private changedOnDisk(): void {
    if (this.stopped) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.check()
    }, this.opts.debounceMs)
  }

  private async check(): Promise<void> {
    if (this.checking !== undefined) {
      // A check already runs: look again once it ends, for what changed meanwhile.
      await this.checking
      this.lastCheck = 0
      return await this.fresh()
    }
    this.checking = (async () => {
      try {
        const store = this.components.store()
        await store.refreshIfChanged()
        this.lastCheck = Date.now()
        const v = store.version()
        if (v !== this.lastVersion) {
          this.lastVersion = v
          this.log('the trust store changed on disk: read it again')
          if (!this.stopped) this.components.onChange(v)
        }
      } catch (err) {
        this.log.error('reading the trust store again failed: %s', (err as Error).message)
      } finally {
        this.checking = undefined
      }
    })()
    await this.checking
  }
}
