/** The puller's knobs, in one place. */
export const PullTuning = {
  /** Objects are fetched in ranges of this size (cut on multiples of it); the most a kill -9 loses per range in flight. */
  rangeBytes: 8 << 20,
  /** Ranges fetched at once from one peer. */
  slotsPerPeer: 3,
  /** Ranges in flight at once over all peers (bounds memory: each holds up to a window and a read buffer). */
  maxInFlight: 6,
  /** Writes in flight per range (each a 1 MiB O_DIRECT write from a slot; see RangeWriter). */
  writesInFlight: 2,
  /** Progress of a partial object is saved at least every this many bytes (and at each range's end). */
  persistEveryBytes: 1 << 20,
  /** A background fdatasync of a partial object every this many bytes (the final fsync then finds little left). */
  earlySyncBytes: 64 << 20,
  /** The hashing thread is told of written bytes in steps of this much. */
  hashStepBytes: 16 << 20,
  /** Near the end, pieces shrink to a fair share of what is left, in multiples of this (keeps ranges aligned for O_DIRECT), so no peer holds up the tail. */
  minPieceBytes: 1 << 20,
  /** Whole-object attempts before giving up on an object that never hashes right. */
  maxAttempts: 3,
  /** A peer whose fetches fail this many times in a row is dropped from the pull. */
  maxPeerFailures: 3,
  /**
   * Slow peers (speed.ts): a range is judged once its peer has had this long
   * (time we waited for it, not time we spent writing): an honest 8 MiB range
   * that is still running then came at under 1.7 MB/s.
   */
  slowGraceMs: 5000,
  /** ... by its rate over this much of the latest waiting. */
  slowWindowMs: 5000,
  /** A range slower than this is cut whatever other peers there are (an 8 MiB range would take 8.5 min). */
  minRangeBytesPerSec: 16 << 10,
  /** A range this many times slower than another peer that could take it sends ranges is cut, and its rest goes to that peer. */
  slowFactor: 8,
  /** Only ranges of at least this many bytes set a peer's rate (small ones say more about latency). */
  slowMinSampleBytes: 256 << 10,
  /** How often ranges in flight are judged. */
  slowCheckMs: 1000,
  /** Without --peer, how long to wait for mDNS to find team peers. */
  discoveryWaitMs: 6000,
  /** After the first peer shows up, a short grace to gather the others. */
  settleMs: 700,
  /** Progress events at most this often. */
  progressIntervalMs: 250,
  /** Window of the moving rate. */
  rateWindowMs: 3000,
  /** How often a pull looks whether an object a pull in another process fetches has arrived (leases.ts claims). */
  elsewherePollMs: 250,
} as const
