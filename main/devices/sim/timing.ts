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
}

export const DEVICE_TIMING: SimTiming = {
  pickupMs: 1000,
  inprogressMs: 3000,
  rebootDownMs: 12_000,
  testingMs: 25_000,
  rollbackMs: 3000,
  gcDeferMs: 600_000,
  loopMs: 5000,
}

export const FAST_TIMING: SimTiming = {
  pickupMs: 50,
  inprogressMs: 150,
  rebootDownMs: 300,
  testingMs: 500,
  rollbackMs: 100,
  gcDeferMs: 2000,
  loopMs: 250,
}
