/** How long the simulated device takes: a device's delays by default, short ones with --fast. */

export interface SimTiming {
  /** The main loop picks a command up (pv->cmd) after this. */
  pickupMs: number
  /** INPROGRESS before the new revision starts (a non-reboot transition). */
  inprogressMs: number
  /** Time the device is away while it reboots (the socket and HTTP server vanish). */
  rebootDownMs: number
  /** TESTING: PV_UPDATER_COMMIT_DELAY (25 s) before DONE/UPDATED. */
  testingMs: number
  /** Rolling back after ERROR. */
  rollbackMs: number
  /** PV_STORAGE_GC_THRESHOLD_DEFERTIME: threshold GC waits this long after an upload. */
  gcDeferMs: number
  /** Main loop period (threshold GC, devmeta refresh). */
  loopMs: number
  /**
   * Test knob, 0 on a device: pvr-sdk answers a post this long after it
   * took the step and its run command (a slow or lost answer: the client
   * may be stopped before it learns the step the device named).
   */
  postAnswerMs: number
  /** Test knob, 0 on a device: pvr-sdk answers an object offer (POST to its objects endpoint) this long after it came. */
  offerAnswerMs: number
}

export const DEVICE_TIMING: SimTiming = {
  pickupMs: 1000,
  inprogressMs: 3000,
  rebootDownMs: 12_000,
  testingMs: 25_000,
  rollbackMs: 3000,
  gcDeferMs: 600_000,
  loopMs: 5000,
  postAnswerMs: 0,
  offerAnswerMs: 0,
}

export const FAST_TIMING: SimTiming = {
  pickupMs: 50,
  inprogressMs: 150,
  rebootDownMs: 300,
  testingMs: 500,
  rollbackMs: 100,
  gcDeferMs: 2000,
  loopMs: 250,
  postAnswerMs: 0,
  offerAnswerMs: 0,
}

/** The SimTiming fields `--timing name=ms,...` may set, by their short names. */
const TIMING_NAMES: Record<string, keyof SimTiming> = {
  pickup: 'pickupMs',
  inprogress: 'inprogressMs',
  reboot: 'rebootDownMs',
  testing: 'testingMs',
  rollback: 'rollbackMs',
  'gc-defer': 'gcDeferMs',
  loop: 'loopMs',
  post: 'postAnswerMs',
  offer: 'offerAnswerMs',
}

/**
 * `--timing testing=3000,inprogress=0`: some of a device's delays set by
 * hand on top of the default or --fast ones (tests that need a device to
 * stay in a phase long enough, or a run with no wait at all). Null when
 * the text is not that; the caller says what was wrong.
 */
export function parseTiming(text: string): Partial<SimTiming> | null {
  const out: Partial<SimTiming> = {}
  for (const part of text.split(',')) {
    const m = /^([a-z-]+)=(\d{1,7})$/.exec(part.trim())
    const key = m === null ? undefined : TIMING_NAMES[m[1]]
    if (m === null || key === undefined) return null
    out[key] = Number(m[2])
  }
  return out
}

export const TIMING_HELP = Object.keys(TIMING_NAMES).join(', ')
