/**
 * Puller: gets a revision from team peers. The state JSON comes first and
 * must hash (canonically) to the id asked for; the revision enters the
 * library at once, incomplete; then the missing objects come from every team
 * peer that has them (ObjectFetcher), and the revision completes when the
 * last one is in place.
 */
import { EventEmitter, setMaxListeners } from 'node:events'
import type { PullResult } from '../../../shared/api/types.js'
import { AbortedError, ErrorCodes, isCode, ObjectMissingError, PeerUnavailableError, ProtocolError, UnknownRevisionError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { parseState, revisionId, type ParsedState } from '../../../shared/state/index.js'
import type { Library } from '../../store/library.js'
import type { Lease } from '../../store/leases.js'
import type { RemoteRevision } from '../catalog/protocol.js'
import type { PeerNode } from '../node.js'
import { ObjectFetcher } from './fetcher.js'
import { peerFailure } from './fetch-state.js'
import { chooseHolders, type HaveAnswer, type RefusedClaim, type WantedObject } from './holders.js'
import { ProgressTracker, type PullEvent } from './progress.js'
import { resolveRevision } from './resolve.js'
import { withDeadline } from '../wire.js'
import { PullTuning } from './tuning.js'
import { formatBytes } from '../../../shared/units.js'

/** The result of a pull: the contract's type (shared/api), one shape for CLI, app and control socket. */
export type { PullResult }

export interface PullOptions {
  /** Only these peers (ids, id suffixes or names). */
  from?: string[]
  signal: AbortSignal
  onProgress?: (e: PullEvent) => void
}

export class Puller extends EventEmitter<{ event: [PullEvent] }> {
  private readonly library: Library
  private readonly node: PeerNode
  private readonly log: Logger
  private readonly running = new Map<string, Promise<PullResult>>()
  /** Objects some pull in this process is fetching now: another pull waits for them rather than write the same partial file. */
  private readonly fetching = new Map<string, Promise<void>>()

  constructor(components: { library: Library; node: PeerNode; log: Logger }) {
    super()
    this.library = components.library
    this.node = components.node
    this.log = components.log.child('peers:pull')
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** Team peers to use, waiting for discovery when none is known yet. */
  private async gatherPeers(from: string[] | undefined, signal: AbortSignal): Promise<string[]> {
    const pick = (): string[] => this.node.teamPeers().filter(p => this.node.table.get(p)?.catalog !== undefined && matches(this.node, p, from))
    if (pick().length === 0) {
      await withDeadline(signal, PullTuning.discoveryWaitMs, async wait => {
        while (pick().length === 0 && !wait.aborted) await this.node.nextCatalog(wait)
      })
      if (signal.aborted) return []
      // A moment for the others to show up too.
      await new Promise(resolve => setTimeout(resolve, PullTuning.settleMs))
    }
    return pick()
  }

  async pull(rev: string, opts: PullOptions): Promise<PullResult> {
    const started = Date.now()
    // Every request of the pull listens on this signal.
    setMaxListeners(0, opts.signal)
    const emit = (e: PullEvent) => {
      this.emit('event', e)
      opts.onProgress?.(e)
    }
    const peers = await this.gatherPeers(opts.from, opts.signal)
    const catalogs = new Map<string, RemoteRevision[]>()
    for (const p of peers) {
      const c = this.node.table.get(p)?.catalog
      if (c !== undefined) catalogs.set(p, c)
    }
    if (peers.length === 0 && opts.from !== undefined && opts.from.length > 0) {
      throw new PeerUnavailableError(`none of the peers ${opts.from.join(', ')} is connected (see \`fieldsync peers\`)`)
    }
    const target = resolveRevision(this.library, rev, catalogs)
    const id = target.id
    // One pull per revision at a time in this process.
    const already = this.running.get(id)
    if (already !== undefined) return await already
    const p = this.pullLeased(id, rev, target.names, target.holders, peers, { ...opts, onProgress: emit }, started)
    this.running.set(id, p)
    try {
      return await p
    } finally {
      this.running.delete(id)
    }
  }

  /** A pull writes the library: under a shared lease (a gc in another process waits for it). */
  private async pullLeased(
    id: string,
    rev: string,
    names: string[],
    holders: string[],
    peers: string[],
    opts: PullOptions,
    started: number,
  ): Promise<PullResult> {
    const lease = await this.library.lease('shared', `pull ${rev}`, { signal: opts.signal })
    try {
      return await this.pullResolved(id, names, holders, peers, opts, started, lease)
    } finally {
      lease.release()
    }
  }

  private async pullResolved(
    id: string,
    names: string[],
    holders: string[],
    peers: string[],
    opts: PullOptions,
    started: number,
    lease: Lease,
  ): Promise<PullResult> {
    const local = this.library.get(id)
    if (local?.complete === true) return { id, objects: 0, bytes: 0, fromPeers: {}, seconds: (Date.now() - started) / 1000 }
    if (local === undefined) {
      const { raw, parsed, from } = await this.fetchState(id, holders, opts.signal)
      const name = names.find(n => this.nameFree(n))
      this.library.addRevision({ raw, parsed, name, source: `peer:${from}` })
      this.log('pull %s: state from %s, added as %s', id.slice(0, 12), from, name ?? '(no name)')
    }
    // Objects the store has but the index does not know (another process finished them): record.
    const missing: string[] = []
    // Held before looking: no other writer's rollback removes what this pull counts on.
    lease.hold(this.library.missing(id))
    for (const sha of this.library.missing(id)) {
      const size = await this.library.objects.size(sha)
      if (size !== undefined) this.library.objectPresent(sha, size)
      else missing.push(sha)
    }
    // Objects another pull here is already fetching: wait for those instead;
    // and for those a pull in another process (its lease's claim) fetches.
    const theirs = missing.filter(sha => this.fetching.has(sha))
    const claimed = lease.claim(missing.filter(sha => !this.fetching.has(sha)))
    const mine = claimed.mine
    const { wanted, refused, unanswered } = await this.whoHas(id, mine, peers, opts.signal)
    let release: () => void = () => {}
    const claim = new Promise<void>(resolve => {
      release = resolve
    })
    for (const w of wanted) this.fetching.set(w.sha, claim)
    try {
      return await this.fetchWanted(id, { wanted, refused, unanswered }, theirs, claimed.theirs, lease, peers, opts, started)
    } finally {
      for (const w of wanted) if (this.fetching.get(w.sha) === claim) this.fetching.delete(w.sha)
      release()
    }
  }

  private async fetchWanted(
    id: string,
    holders: WhoHas,
    theirs: string[],
    elsewhere: string[],
    lease: Lease,
    peers: string[],
    opts: PullOptions,
    started: number,
  ): Promise<PullResult> {
    const { wanted, refused, unanswered } = holders
    const emit = opts.onProgress ?? (() => {})
    for (const [peer, c] of firstPerPeer(refused)) {
      this.log.error('pull %s: peer %s is not used: it claims object %s has %d bytes: %s', id.slice(0, 12), peer, c.sha, c.size, c.why)
      emit({ type: 'peer-dropped', id, peer, reason: `it claims object ${c.sha.slice(0, 12)} has ${formatBytes(c.size)}: ${c.why}` })
    }
    const progress = new ProgressTracker(id, 0, wanted.length, emit)
    const fetcher = new ObjectFetcher({ library: this.library, node: this.node, log: this.log }, { id, signal: opts.signal, progress, emit })
    progress.totalBytes = await fetcher.plan(wanted.filter(w => w.holders.size > 0))
    emit({ type: 'resolved', id, name: this.library.get(id)?.name ?? null, objects: wanted.length, bytes: progress.totalBytes, peers })
    const nobody = wanted.filter(w => w.holders.size === 0)
    const refusedShas = new Set(refused.map(c => c.sha))
    const disbelieved = nobody.filter(w => refusedShas.has(w.sha))
    const onCatalog = ({ peer }: { peer: string }) => {
      if (peers.includes(peer) || !matches(this.node, peer, opts.from)) return
      peers.push(peer)
      this.node.catalog
        .have(
          peer,
          wanted.map(w => w.sha),
          opts.signal,
        )
        .then(
          h => {
            fetcher.addPeer(peer, h)
          },
          () => {},
        )
    }
    this.node.on('catalog', onCatalog)
    try {
      await fetcher.run()
    } finally {
      this.node.off('catalog', onCatalog)
      progress.flush()
    }
    for (const sha of theirs) await this.fetching.get(sha)
    await this.waitElsewhere(elsewhere, lease, opts.signal)
    const stillMissing = [...theirs, ...elsewhere].filter(sha => !this.library.isPresent(sha))
    if (stillMissing.length > 0) {
      throw new ObjectMissingError(
        `revision ${id.slice(0, 12)}: ${stillMissing.length} object(s) another pull was fetching did not arrive (e.g. ${stillMissing[0]}); pull again`,
        { missing: stillMissing },
      )
    }
    if (disbelieved.length > 0) {
      const shas = new Set(disbelieved.map(w => w.sha))
      const claims = refused.filter(c => shas.has(c.sha))
      const e = claims.find(c => c.direct) ?? claims[0]
      throw new ProtocolError(
        `revision ${id.slice(0, 12)}: ${disbelieved.length} object(s) are only on peers that claim impossible sizes (e.g. object ${e.sha}: peer ${e.peer} claims ${formatBytes(e.size)}: ${e.why}); the rest was pulled`,
        { claims: claims.slice(0, 20) },
      )
    }
    if (nobody.length > 0 && unanswered.length > 0) {
      // Perhaps on a peer that could not say: its failure is the cause to report.
      const u = unanswered[0]
      throw peerFailure(
        (u.error as { code?: unknown }).code,
        `revision ${id.slice(0, 12)}: ${nobody.length} object(s) are on no team peer that answered (e.g. ${nobody[0].sha}): asking peer ${u.peer} which objects it has failed: ${u.error.message}; the rest was pulled`,
        { missing: nobody.map(n => n.sha), peer: u.peer },
      )
    }
    if (nobody.length > 0) {
      throw new ObjectMissingError(
        `revision ${id.slice(0, 12)}: ${nobody.length} object(s) are on no connected team peer (e.g. ${nobody[0].sha}); the rest was pulled, pull again when a peer that has them is around`,
        { missing: nobody.map(n => n.sha) },
      )
    }
    return { id, objects: wanted.length, bytes: progress.bytes, fromPeers: progress.fromPeers(), seconds: (Date.now() - started) / 1000 }
  }

  /**
   * Wait for objects a pull in another process is fetching: until each is in
   * the pool (then recorded here too) or no live process fetches it any more
   * (it failed, or was killed: the caller reports it missing).
   */
  private async waitElsewhere(shas: string[], lease: Lease, signal: AbortSignal): Promise<void> {
    let left = shas
    while (left.length > 0) {
      const next: string[] = []
      for (const sha of left) {
        const size = await this.library.objects.size(sha)
        if (size !== undefined) {
          if (!this.library.isPresent(sha)) this.library.objectPresent(sha, size)
        } else if (lease.fetchingElsewhere(sha)) next.push(sha)
      }
      left = next
      if (left.length === 0) return
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }, PullTuning.elsewherePollMs)
        function onAbort(): void {
          clearTimeout(t)
          reject(new AbortedError('pull cancelled while another process fetched its objects'))
        }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  private nameFree(name: string): boolean {
    try {
      this.library.resolve(name)
      return false
    } catch (err) {
      return isCode(err, ErrorCodes.UnknownRevision)
    }
  }

  /** The state JSON from the first holder whose bytes hash to `id`. */
  private async fetchState(id: string, holders: string[], signal: AbortSignal): Promise<{ raw: Uint8Array; parsed: ParsedState; from: string }> {
    let last: unknown
    for (const peer of holders) {
      try {
        const raw = await this.node.catalog.state(peer, id, signal)
        const parsed = parseState(raw, `state of ${id.slice(0, 12)} from peer ${peer}`)
        const got = revisionId(parsed)
        if (got !== id) throw new ProtocolError(`peer ${peer} sent a state whose canonical sha256 is ${got}, not ${id}`)
        return { raw, parsed, from: peer }
      } catch (err) {
        if (signal.aborted) throw err
        this.log.error('pull %s: state from %s refused: %s', id.slice(0, 12), peer, (err as Error).message)
        last = err
      }
    }
    if (last !== undefined) throw last
    throw new UnknownRevisionError(`revision ${id}: no connected team peer has it`)
  }

  /** Ask every peer which of `shas` it holds, with sizes; the claims are checked (holders.ts) before anything is planned. */
  private async whoHas(id: string, shas: string[], peers: string[], signal: AbortSignal): Promise<WhoHas> {
    const unanswered: WhoHas['unanswered'] = []
    const answers = await Promise.all(
      peers.map(async (peer): Promise<HaveAnswer> => {
        const listedBytes = this.node.table.get(peer)?.catalog?.find(r => r.id === id)?.bytes
        try {
          return { peer, have: await this.node.catalog.have(peer, shas, signal), listedBytes }
        } catch (err) {
          if (signal.aborted) throw err
          this.log.error('pull %s: asking %s which objects it has failed: %s', id.slice(0, 12), peer, (err as Error).message)
          unanswered.push({ peer, error: err instanceof Error ? err : new Error(String(err)) })
          return { peer, have: new Map<string, number>() }
        }
      }),
    )
    return { ...chooseHolders(shas, answers), unanswered }
  }
}

/** Who has which missing object: the believed claims, the refused ones, and the peers whose answer failed. */
interface WhoHas {
  wanted: WantedObject[]
  refused: RefusedClaim[]
  unanswered: Array<{ peer: string; error: Error }>
}

function firstPerPeer(claims: RefusedClaim[]): Map<string, RefusedClaim> {
  const out = new Map<string, RefusedClaim>()
  for (const c of claims) if (!out.has(c.peer)) out.set(c.peer, c)
  return out
}

/** Does `peer` match one of the --from selectors (id, id suffix of 6+, or name)? */
export function matches(node: PeerNode, peer: string, from: string[] | undefined): boolean {
  if (from === undefined || from.length === 0) return true
  const name = node.table.get(peer)?.name?.toLowerCase()
  return from.some(f => f === peer || (f.length >= 6 && peer.endsWith(f)) || (name !== undefined && f.toLowerCase() === name))
}
