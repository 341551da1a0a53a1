/**
 * Running a step and following its progress to a final state: the run
 * command is retried while the device answers 503 (an update or another
 * command in progress); the progress is polled until DONE, UPDATED, ERROR or
 * WONTGO, riding out the device's reboot (no answer for a while), with a
 * deadline whose error says where the device stopped.
 */
import { FINAL_INSTALL_STATUSES } from '../../shared/api/types.js'
import { AbortedError, DeviceBusyError, FieldsyncError, TimeoutError, ErrorCodes } from '../../shared/errors.js'
import type { DeviceDriver, StepProgress } from './drivers/types.js'

export const FINAL_STATUSES: ReadonlySet<string> = new Set(FINAL_INSTALL_STATUSES)

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new AbortedError('cancelled'))
      return
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(t)
      reject(new AbortedError('cancelled'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Errors that mean "ask again later" while a device reboots or is busy. */
export function transient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return code === ErrorCodes.DeviceUnreachable || code === ErrorCodes.Timeout || code === ErrorCodes.Protocol || code === DeviceBusyError.code
}

export interface FollowOptions {
  signal: AbortSignal
  /** Absolute deadline (ms since the epoch). */
  deadline: number
  pollMs: number
  onRetry?: (why: string) => void
  onProgress?: (p: StepProgress) => void
}

/** Send the run command, retrying 503s; resolves when the device took it, to the step it runs. */
export async function runStep(driver: DeviceDriver, step: string, commit: boolean, o: FollowOptions): Promise<string> {
  let wait = o.pollMs
  for (;;) {
    try {
      return (await driver.run(step, commit, o.signal)) ?? step
    } catch (err) {
      if (!(err instanceof DeviceBusyError)) throw err
      // An earlier attempt may have been taken after all (a retried post): then the step moved on.
      const p = await driver.progress(step, o.signal).catch(() => null)
      if (p !== null && p.status !== 'NEW') return step
      if (Date.now() + wait > o.deadline) {
        throw new TimeoutError(`${driver.target}: the device stayed busy and did not take the run command for ${step} before the deadline: ${err.message}`, {
          step,
          stage: 'run',
        })
      }
      o.onRetry?.(err.message)
      await sleep(wait, o.signal)
      wait = Math.min(wait * 2, Math.max(o.pollMs, 5000))
    }
  }
}

/** Poll the step's progress until a final status; TimeoutError names the last status seen. */
export async function followProgress(driver: DeviceDriver, step: string, o: FollowOptions): Promise<StepProgress> {
  let last: StepProgress | null = null
  let lastErr: FieldsyncError | null = null
  for (;;) {
    try {
      const p = await driver.progress(step, o.signal)
      lastErr = null
      if (p !== null) {
        if (last === null || p.status !== last.status || p.statusMsg !== last.statusMsg) o.onProgress?.(p)
        last = p
        if (FINAL_STATUSES.has(p.status)) return p
      }
    } catch (err) {
      if (!transient(err)) throw err
      lastErr = err as FieldsyncError
    }
    if (Date.now() >= o.deadline) {
      const where =
        last === null ? 'the device never reported a progress for it' : `it stopped at ${last.status}${last.statusMsg === '' ? '' : ` (${last.statusMsg})`}`
      const since = lastErr === null ? '' : `; the device has not answered since: ${lastErr.message}`
      throw new TimeoutError(`${driver.target}: gave up following ${step}: ${where}${since}. Look again later with: fieldsync devices show`, {
        step,
        stage: 'progress',
        status: last?.status ?? null,
        statusMsg: last?.statusMsg ?? null,
      })
    }
    await sleep(Math.min(o.pollMs, Math.max(0, o.deadline - Date.now())), o.signal)
  }
}
