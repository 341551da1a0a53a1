/**
 * Mirror (`serve --mirror`): keeps this library in step with the team. When a
 * team peer lists a complete revision we lack or hold incomplete, pull it.
 * One pull at a time; a failed revision is retried after a pause.
 */
import type { Logger } from '../../shared/log.js'
import type { Library } from '../store/library.js'
import type { RemoteRevision } from './catalog/protocol.js'
import type { PeerNode } from './node.js'
import type { Puller } from './pull/puller.js'

const RETRY_MS = 30_000

export class Mirror {
  private readonly log: Logger
  private readonly queue: string[] = []
  private readonly failedAt = new Map<string, number>()
  private ac = new AbortController()
  private running = false

  constructor(private readonly components: { library: Library; node: PeerNode; puller: Puller; log: Logger }) {
    this.log = components.log.child('peers:mirror')
  }

  async start(): Promise<void> {
    this.ac = new AbortController()
    this.components.node.on('catalog', this.onCatalog)
    for (const r of this.components.node.table.records()) if (r.catalog !== undefined) this.onCatalog({ peer: r.id, revisions: r.catalog })
  }

  async stop(): Promise<void> {
    this.components.node.off('catalog', this.onCatalog)
    this.ac.abort()
  }

  private readonly onCatalog = ({ revisions }: { peer: string; revisions: RemoteRevision[] }): void => {
    for (const r of revisions) {
      if (!r.complete || this.queue.includes(r.id)) continue
      if (this.components.library.get(r.id)?.complete === true) continue
      if (Date.now() - (this.failedAt.get(r.id) ?? 0) < RETRY_MS) continue
      this.queue.push(r.id)
    }
    void this.drain()
  }

  private async drain(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      while (this.queue.length > 0 && !this.ac.signal.aborted) {
        const id = this.queue[0]
        try {
          const res = await this.components.puller.pull(id, { signal: this.ac.signal })
          this.log('mirrored %s: %d objects, %d bytes', id.slice(0, 12), res.objects, res.bytes)
        } catch (err) {
          if (this.ac.signal.aborted) break
          this.failedAt.set(id, Date.now())
          this.log.error('mirroring %s failed: %s', id.slice(0, 12), (err as Error).message)
        }
        this.queue.shift()
      }
    } finally {
      this.running = false
    }
  }
}
