/**
 * ObjectFetcher: fetches a set of objects from every team peer that holds
 * them, in parallel. Objects are cut into ranges that go to whichever peer
 * has a free slot, so a large object is spread over several peers. A range
 * that fails goes back to the queue (its safely written prefix is kept); a
 * peer that fails repeatedly or vanishes is dropped and its ranges go to
 * others. An object whose hash does not match is fetched again from one peer
 * at a time: a single-source attempt that fails proves that peer lied, one
 * that succeeds gives the truth to compare every earlier piece against.
 */
import { setMaxListeners } from 'node:events'
import { AbortedError, ErrorCodes, isCode, ObjectHashMismatchError, ObjectMissingError } from '../../../shared/errors.js'
import type { Logger } from '../../../shared/log.js'
import { isDiskFull, type Library } from '../../store/library.js'
import type { PeerNode } from '../node.js'
import { HashWorker } from './hash-worker.js'
import { fullDiskError } from './full-disk.js'
import type { WantedObject } from './holders.js'
import { newPeer, orphanError, type Obj, type PeerState, type Piece } from './fetch-state.js'
import { PartialStore, type PartialFile } from './partials.js'
import type { ProgressTracker, PullEvent } from './progress.js'
import { splitRanges } from './ranges.js'
import { liarsAgainstTruth, pickSingleSource, recordFailedAttempt, RESUMED } from './evidence.js'
import { slowKind, SpeedWatch } from './speed.js'
import { PullTuning } from './tuning.js'

export type { WantedObject }

export class ObjectFetcher {
  private readonly objs: Obj[] = []
  private readonly peers = new Map<string, PeerState>()
  private readonly workers: Array<Promise<void>> = []
  private wake: () => void = () => {}
  private changed: Promise<void>
  private readonly partials: PartialStore
  private readonly hasher: HashWorker
  private readonly speed = new SpeedWatch()
  /** Bytes waiting in all queues (for the fair share near the end). */
  private queued = 0
  /** Ranges being fetched now, over all peers. */
  private fetching = 0
  /** Stops every worker when the pull cannot go on (a full disk); `pull.signal` still tells a cancel. */
  private readonly halt = new AbortController()
  private readonly signal: AbortSignal
  /** Why the pull stopped: a full disk (ENOSPC, SQLITE_FULL), or a failure no peer can help with. */
  private fatal: unknown

  constructor(
    private readonly components: { library: Library; node: PeerNode; log: Logger },
    private readonly pull: { id: string; signal: AbortSignal; progress: ProgressTracker; emit: (e: PullEvent) => void },
  ) {
    this.partials = new PartialStore(components.library)
    this.hasher = new HashWorker({ directIo: components.library.objects.directIo })
    this.signal = AbortSignal.any([pull.signal, this.halt.signal])
    setMaxListeners(0, this.signal) // every request of the pull listens on it, as on pull.signal (Puller.pull)
    this.changed = new Promise(resolve => {
      this.wake = resolve
    })
  }

  private notify(): void {
    const w = this.wake
    this.changed = new Promise(resolve => {
      this.wake = resolve
    })
    w()
  }

  /** Plan: open nothing yet, but count what partial files already hold. Returns bytes still to fetch. */
  async plan(wanted: WantedObject[]): Promise<number> {
    await this.partials.start()
    let need = 0
    for (const w of [...wanted].sort((a, b) => b.size - a.size)) {
      const prev = this.partials.load(w.sha)
      const done = prev !== undefined && prev.size === w.size ? prev.done : []
      const doneBytes = done.reduce((n, r) => n + r[1] - r[0], 0)
      need += w.size - doneBytes
      this.objs.push({
        sha: w.sha,
        size: w.size,
        holders: new Set(w.holders),
        queue: [],
        inflight: 0,
        contributions: [],
        history: [],
        attempts: 0,
        tried: new Set(),
        state: 'pending',
        lost: [],
      })
    }
    return need
  }

  /** A peer that appeared during the pull, with what it holds. */
  addPeer(peer: string, have: ReadonlyMap<string, number>): void {
    if (this.peers.get(peer)?.dropped === true) return
    let added = false
    for (const o of this.objs) {
      if (o.state === 'pending' && have.get(o.sha) === o.size && !o.holders.has(peer)) {
        o.holders.add(peer)
        added = true
      }
    }
    if (added || this.peers.has(peer)) this.startPeer(peer)
    this.notify()
  }

  async run(): Promise<void> {
    // Open partial files first: their remaining ranges become the queue.
    for (const o of this.objs) {
      let f: PartialFile
      try {
        f = await this.openFile(o)
      } catch (err) {
        this.stop(err)
        break
      }
      o.queue = splitRanges(f.missing(), PullTuning.rangeBytes).map(range => ({ range }))
      this.queued += o.size - f.doneBytes
      if (o.queue.length === 0) void this.finish(o)
    }
    const all = new Set<string>()
    for (const o of this.objs) for (const h of o.holders) all.add(h)
    // Every peer is known before any worker starts, so the first ones do not take every slot.
    for (const p of all) if (!this.peers.has(p)) this.peers.set(p, newPeer())
    for (const p of all) this.startPeer(p)
    const judge = setInterval(() => {
      this.judgeSpeed()
    }, PullTuning.slowCheckMs)
    judge.unref()
    try {
      await this.loop()
    } finally {
      clearInterval(judge)
    }
    this.notify()
    await Promise.allSettled(this.workers)
    for (const o of this.objs)
      await o.file?.close().catch((err: unknown) => {
        this.stop(err)
      })
    await this.hasher.stop()
    // Keep what a later pull can resume (saved ranges), and say so.
    if (isDiskFull(this.fatal))
      throw await fullDiskError(
        this.components.library,
        this.partials,
        this.objs.map(o => o.sha),
        this.fatal,
        this.pull.id,
      )
    if (this.fatal !== undefined) throw this.fatal
    if (this.pull.signal.aborted) throw new AbortedError(`pull ${this.pull.id.slice(0, 12)}: cancelled (partial objects are kept; pull again to resume)`)
    const failed = this.objs.filter(o => o.state === 'failed')
    if (failed.length > 0) throw failed[0].error ?? new ObjectMissingError(`object ${failed[0].sha}: could not be fetched`)
  }

  /** Until every object is done or failed, or the pull is cancelled. */
  private async loop(): Promise<void> {
    for (;;) {
      this.failOrphans()
      if (this.objs.every(o => o.state === 'done' || o.state === 'failed')) break
      if (this.signal.aborted) break
      await Promise.race([this.changed, new Promise(resolve => this.signal.addEventListener('abort', resolve, { once: true }))])
    }
  }

  private startPeer(peer: string): void {
    if (!this.peers.has(peer)) this.peers.set(peer, newPeer())
    const st = this.peers.get(peer)!
    if (st.dropped) return
    while (st.slots < PullTuning.slotsPerPeer) {
      st.slots++
      const w = this.worker(peer)
      w.catch((err: unknown) => {
        this.stop(err)
      })
      this.workers.push(w)
    }
  }

  /** `code`: what went wrong with the peer (the error of an object it leaves without a source). */
  private dropPeer(peer: string, reason: string, code: string = ErrorCodes.PeerUnavailable): void {
    const st = this.peers.get(peer)
    if (st === undefined || st.dropped) return
    st.dropped = true
    this.components.log('pull %s: dropping peer %s: %s', this.pull.id.slice(0, 12), peer, reason)
    this.pull.emit({ type: 'peer-dropped', id: this.pull.id, peer, reason })
    for (const o of this.objs) {
      if (o.holders.delete(peer)) o.lost.push({ peer, reason, code })
      // (An object being checked picks its next source itself, once: see badHash.)
      if (o.singleSource === peer && o.state === 'pending') this.pickSingleSource(o)
    }
    this.notify()
  }

  /** After a bad hash: the least suspect live peer not tried yet sends the whole object (evidence.ts). */
  private pickSingleSource(o: Obj): boolean {
    return pickSingleSource(o, h => this.peers.get(h)?.dropped !== true && !this.isLiar(h))
  }

  /** Objects nobody can give any more fail (the rest of the pull goes on). */
  private failOrphans(): void {
    for (const o of this.objs) {
      if (o.state !== 'pending' || o.inflight > 0 || o.queue.length === 0) continue
      const live = [...o.holders].filter(h => this.peers.get(h)?.dropped !== true && !this.isLiar(h))
      if (live.length === 0) {
        this.queued -= o.queue.reduce((n, p) => n + p.range[1] - p.range[0], 0)
        o.queue = []
        o.state = 'failed'
        o.error ??= orphanError(o)
      }
    }
  }

  /** End the pull for every worker (the first cause is kept). */
  private stop(err: unknown): void {
    if (this.fatal === undefined) this.fatal = err
    this.components.log.error('pull %s: stopping: %s', this.pull.id.slice(0, 12), (err as Error)?.message ?? err)
    this.halt.abort()
    this.notify()
  }

  /** Record progress; a full disk refusing the record stops the pull instead of escaping. */
  private record(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      if (!isDiskFull(err)) throw err
      this.stop(err)
    }
  }

  private isLiar(peer: string): boolean {
    return this.components.node.table.get(peer)?.liar === true
  }

  private next(peer: string): { o: Obj; piece: Piece } | undefined {
    for (const o of this.objs) {
      if (o.state !== 'pending' || o.queue.length === 0 || !o.holders.has(peer)) continue
      if (o.singleSource !== undefined && o.singleSource !== peer) continue
      // A peer cut as slow gets work only when no faster one can take it.
      if (this.peers.get(peer)?.slow === true && this.takers(o, peer).length > 0) continue
      const others = [...o.holders].some(h => h !== peer && this.peers.get(h)?.dropped !== true && !this.isLiar(h))
      const i = o.queue.findIndex(p => p.avoid !== peer || !others)
      if (i < 0) continue
      const piece = o.queue[i]
      const [s, e] = piece.range
      // Near the end a piece is cut to a fair share of what is left, so every peer keeps busy to the last byte.
      const slots = Math.min(PullTuning.maxInFlight, [...this.peers.values()].filter(p => !p.dropped).length * PullTuning.slotsPerPeer)
      // Whole multiples of minPieceBytes, so the next piece still starts aligned (O_DIRECT writes; see RangeWriter).
      const share = Math.ceil(this.queued / Math.max(1, slots) / PullTuning.minPieceBytes) * PullTuning.minPieceBytes
      const take = Math.min(e - s, Math.max(PullTuning.minPieceBytes, share))
      if (take < e - s) o.queue[i] = { range: [s + take, e], avoid: piece.avoid }
      else o.queue.splice(i, 1)
      this.queued -= take
      return { o, piece: { range: [s, s + take], avoid: piece.avoid } }
    }
    return undefined
  }

  private async worker(peer: string): Promise<void> {
    const st = this.peers.get(peer)!
    while (!this.signal.aborted && !st.dropped && !this.isLiar(peer)) {
      // The ranges in flight are shared fairly among the peers in use (slow ones get work only when nobody else can take it).
      const live = [...this.peers.values()].filter(p => !p.dropped && !p.slow).length
      if (this.fetching >= PullTuning.maxInFlight || st.active >= Math.ceil(PullTuning.maxInFlight / Math.max(1, live))) {
        await this.changed
        continue
      }
      const job = this.next(peer)
      if (job === undefined) {
        const useful = this.objs.some(o => (o.state === 'pending' || o.state === 'finishing') && o.holders.has(peer))
        if (!useful) break
        await this.changed
        continue
      }
      this.fetching++
      st.active++
      try {
        await this.fetchPiece(peer, st, job.o, job.piece)
      } finally {
        this.fetching--
        st.active--
      }
    }
    st.slots--
  }

  private async openFile(o: Obj): Promise<PartialFile> {
    if (o.file !== undefined) return o.file
    o.opening ??= this.partials.open(o.sha, o.size, this.hasher)
    o.file = await o.opening
    return o.file
  }

  private async fetchPiece(peer: string, st: PeerState, o: Obj, piece: Piece): Promise<void> {
    o.inflight++
    const [start, end] = piece.range
    const file = await this.openFile(o)
    const w = file.writer(start)
    let got = 0
    // This range's own signal: the pull's, or SpeedWatch cutting it.
    const ac = new AbortController()
    const onAbort = () => {
      ac.abort(this.signal.reason)
    }
    this.signal.addEventListener('abort', onAbort, { once: true })
    const clock = this.speed.start(
      peer,
      `object ${o.sha.slice(0, 12)} range ${start}+${end - start}`,
      () => this.takers(o, peer),
      reason => {
        ac.abort(reason)
      },
    )
    let ok = false
    try {
      await this.components.node.objects.fetch(
        peer,
        { sha: o.sha, offset: start, length: end - start },
        {
          write: chunk => {
            got += chunk.byteLength
            this.pull.progress.add(peer, chunk.byteLength)
            clock.arrived(chunk.byteLength, Date.now())
            return w.write(chunk).then(() => {
              clock.written(Date.now())
            })
          },
        },
        ac.signal,
        o.size,
      )
      await w.drain()
      ok = true
    } catch (err) {
      if (isDiskFull(err)) this.stop(err)
      const safe = await w.settle()
      if (safe > 0) {
        this.record(() => {
          file.markDone([start, start + safe])
        })
        o.contributions.push({ range: [start, start + safe], peer })
      }
      if (start + safe < end) {
        // The rest of a range cut as slow goes to another peer if one can take it.
        o.queue.unshift({ range: [start + safe, end], avoid: slowKind(err) !== undefined ? peer : piece.avoid })
        this.queued += end - start - safe
      }
      this.pull.progress.wasted(got - safe)
      if (!this.signal.aborted) this.onFetchError(peer, st, o, err)
    } finally {
      this.speed.end(clock, ok)
      this.signal.removeEventListener('abort', onAbort)
      if (ok) {
        this.record(() => {
          file.markDone(piece.range)
        })
        o.contributions.push({ range: piece.range, peer })
        st.failures = 0
        st.slow = false
      }
      o.inflight--
    }
    if (o.state === 'pending' && o.queue.length === 0 && o.inflight === 0 && file.complete) await this.finish(o)
    this.notify()
  }

  private onFetchError(peer: string, st: PeerState, o: Obj, err: unknown): void {
    const msg = (err as Error)?.message ?? String(err)
    this.components.log('pull %s: %s', this.pull.id.slice(0, 12), msg)
    if (isCode(err, ErrorCodes.ObjectMissing) || isCode(err, ErrorCodes.NotFound)) {
      o.holders.delete(peer)
      if (o.singleSource === peer && o.state === 'pending') this.pickSingleSource(o)
      return
    }
    if (isCode(err, ErrorCodes.PeerUnavailable)) {
      this.dropPeer(peer, msg)
      return
    }
    const slow = slowKind(err)
    if (slow !== undefined) st.slow = true
    // Cut for being slower than another peer: no failure of its own (the other may just be faster).
    if (slow === 'relative') return
    st.failures++
    const code = (err as { code?: unknown })?.code
    if (st.failures >= PullTuning.maxPeerFailures)
      this.dropPeer(peer, `${st.failures} failed requests in a row; last: ${msg}`, typeof code === 'string' ? code : undefined)
  }

  /** Peers other than `peer` that could take over a range of `o` now (none while it is checked against one source). */
  private takers(o: Obj, peer: string): string[] {
    if (o.singleSource !== undefined) return []
    return [...o.holders].filter(h => h !== peer && !this.isLiar(h) && this.peers.get(h)?.dropped === false && this.peers.get(h)?.slow === false)
  }

  /** Cut the ranges SpeedWatch finds too slow (each fails with its reason; see fetchPiece). */
  private judgeSpeed(): void {
    for (const cut of this.speed.check()) {
      const reason = SpeedWatch.reason(cut)
      this.components.log('pull %s: cutting a range: %s', this.pull.id.slice(0, 12), reason.message)
      cut.clock.cut(reason)
    }
  }

  private async finish(o: Obj): Promise<void> {
    if (o.state !== 'pending') return
    o.state = 'finishing'
    const file = await this.openFile(o)
    try {
      const t0 = Date.now()
      const digest = await file.digest(this.signal)
      const t1 = Date.now()
      if (digest === o.sha) {
        await this.convictLiars(o, file)
        await file.adopt(this.components.library.objects.path(o.sha))
        this.components.log(
          'pull %s: object %s (%d bytes) in place: hash tail %d ms, sync+rename %d ms',
          this.pull.id.slice(0, 12),
          o.sha.slice(0, 12),
          o.size,
          t1 - t0,
          Date.now() - t1,
        )
        o.file = undefined
        this.components.library.objectPresent(o.sha, o.size)
        this.pull.progress.objectDone()
        this.pull.emit({ type: 'object', id: this.pull.id, sha: o.sha, size: o.size })
        o.state = 'done'
      } else {
        await this.badHash(o, file, digest)
      }
    } catch (err) {
      if (isDiskFull(err)) this.stop(err)
      if (this.signal.aborted) {
        o.state = 'pending'
        return
      }
      o.state = 'failed'
      o.error = err as Error
    } finally {
      this.notify()
    }
  }

  /** With the true bytes in hand, any earlier piece that differs convicts its sender. */
  private async convictLiars(o: Obj, file: PartialFile): Promise<void> {
    for (const peer of await liarsAgainstTruth(o, file)) this.convict(peer, o.sha)
  }

  private convict(peer: string, sha: string): void {
    if (this.isLiar(peer)) return
    this.components.node.markLiar(peer)
    this.pull.emit({ type: 'liar', id: this.pull.id, peer, sha })
    this.dropPeer(peer, `sent bytes of ${sha} that do not hash`)
  }

  private async badHash(o: Obj, file: PartialFile, digest: string): Promise<void> {
    o.attempts++
    // Bytes from before this run (a resumed partial) have no known sender.
    const senders = await recordFailedAttempt(o, file)
    this.components.log.error(
      'pull %s: object %s hashed to %s (attempt %d, from %s)',
      this.pull.id.slice(0, 12),
      o.sha,
      digest,
      o.attempts,
      [...senders].join(', '),
    )
    // Every byte came from one peer: it lied.
    if (senders.size === 1 && !senders.has(RESUMED)) this.convict([...senders][0], o.sha)
    this.pull.progress.wasted(o.size)
    await file.reset()
    o.contributions = []
    // (An object of 0 bytes has nothing to fetch again: its size was a lie, though holders.ts refuses such claims.)
    if (o.size === 0 || o.attempts >= PullTuning.maxAttempts + o.holders.size || !this.pickSingleSource(o)) {
      o.state = 'failed'
      o.error = new ObjectHashMismatchError(
        `object ${o.sha}: the bytes the team peers sent do not hash to its name (last: ${digest}); the peers that lied are no longer used`,
        { sha: o.sha, actual: digest },
      )
      return
    }
    o.queue = splitRanges([[0, o.size]], PullTuning.rangeBytes).map(range => ({ range }))
    this.queued += o.size
    o.state = 'pending'
  }
}
