/**
 * The progress file of a revision (update_progress.c): status, status-msg,
 * progress (fixed per status), retries, and logs on failure paths, written
 * compactly in that key order.
 */

export type ProgressStatus = 'NEW' | 'QUEUED' | 'DOWNLOADING' | 'INPROGRESS' | 'TESTING' | 'UPDATED' | 'DONE' | 'WONTGO' | 'ERROR'

const PERCENT: Record<ProgressStatus, number> = {
  NEW: 0,
  QUEUED: 5,
  DOWNLOADING: 25,
  INPROGRESS: 50,
  TESTING: 75,
  UPDATED: 100,
  DONE: 100,
  WONTGO: 100,
  ERROR: 100,
}

/** The messages of update_progress.c that the simulator uses. */
export const MSG = {
  prepared: 'Update not yet installed',
  installed: 'Update ready to be run',
  reboot: 'Rebooting',
  transition: 'Transitioning to new revision without rebooting',
  testingReboot: 'Awaiting to set rollback point if update is stable',
  testingNonReboot: 'Awaiting to see if update is stable',
  done: 'Update finished, revision set as rollback point',
  updated: 'Update finished, revision not set as rollback point',
  factory: 'Factory revision',
  goalFailed: 'Status goal not reached',
  internal: 'Internal error',
  badChecksum: 'Object validation went wrong',
  noStateJson: 'State JSON not found',
  noParse: 'State JSON has bad format',
} as const

export function progressJson(status: ProgressStatus, msg: string, logs?: string): string {
  const o: Record<string, unknown> = { status, 'status-msg': msg, progress: PERCENT[status], retries: 0 }
  if (logs !== undefined) o.logs = logs
  return JSON.stringify(o)
}

export const FINAL: ReadonlySet<string> = new Set(['DONE', 'UPDATED', 'ERROR', 'WONTGO'])

/** One log line as Pantavisor writes them into the progress "logs". */
export function logLine(src: string, msg: string): string {
  const now = Date.now()
  return JSON.stringify({ tsec: Math.floor(now / 1000), tnano: (now % 1000) * 1e6, platform: 'pantavisor', lvl: 'ERROR', src, msg }) + '\n'
}
