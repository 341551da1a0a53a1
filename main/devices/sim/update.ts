/**
 * Running a revision (update.c pv_update_run, _finish_update_installation):
 * read the stored state, check signatures and parse (WONTGO), link every
 * object into the revision (a missing one: ERROR "Internal error"), then
 * INPROGRESS (rebooting, or transitioning without a reboot), TESTING for the
 * commit delay, and DONE (reboot: rollback point) or UPDATED, or ERROR with a
 * rollback, as --outcome says. `auto` reboots when the BSP changes or with
 * LOCAL_RUN_COMMIT, like the device.
 */
import { objectRefs, parseState, type ParsedState } from '../../../shared/state/index.js'
import type { DeviceCore } from './device.js'
import { logLine, MSG, progressJson, type ProgressStatus } from './progress.js'
import { verifyOnDevice } from './verify.js'

export type Outcome = 'auto' | 'done' | 'updated' | 'error' | 'wontgo'
export const OUTCOMES: readonly Outcome[] = ['auto', 'done', 'updated', 'error', 'wontgo']

export interface RunningUpdate { rev: string, objects: Set<string>, previous: string }

function bspOf (s: ParsedState | null): string {
  if (s === null) return ''
  return JSON.stringify(Object.entries(s.json).filter(([k]) => k.startsWith('bsp/')).sort())
}

export class Updater {
  /** The revision the bootloader boots (the last DONE). */
  doneRev = '0'
  current: RunningUpdate | null = null

  constructor (private readonly dev: DeviceCore, private readonly outcome: Outcome) {}

  get busy (): boolean { return this.current !== null }

  private async set (rev: string, status: ProgressStatus, msg: string, logs?: string): Promise<void> {
    await this.dev.storage.writeSmall(this.dev.storage.progressPath(rev), progressJson(status, msg, logs))
    this.dev.log('%s: %s (%s)', rev, status, msg)
  }

  private finish (): void { this.current = null }

  async run (revArg: string, commit: boolean): Promise<void> {
    const st = this.dev.storage
    const rev = await st.resolve(revArg)
    const previous = (await st.current()) ?? this.doneRev
    const u: RunningUpdate = { rev, objects: new Set(), previous }
    this.current = u
    const raw = await st.readJson(rev)
    if (raw === null) { await this.set(rev, 'WONTGO', MSG.noStateJson); this.finish(); return }
    const verdict = verifyOnDevice(raw, this.dev.trust)
    if (!verdict.ok) {
      await this.set(rev, 'WONTGO', verdict.stage === 'signature' ? verdict.message : MSG.noParse)
      this.finish()
      return
    }
    if (this.outcome === 'wontgo') {
      await this.set(rev, 'WONTGO', 'Signature validation failed')
      this.finish()
      return
    }
    const parsed = parseState(raw, rev)
    const refs = objectRefs(parsed)
    for (const r of refs) u.objects.add(r.sha)
    const missing = await st.linkObjects(rev, refs)
    if (missing.length > 0) {
      await this.set(rev, 'ERROR', MSG.internal, logLine('storage', `unable to link objects to relative path: ${missing.length} object(s) missing, first ${missing[0]}`) +
        logLine('updater', 'could not prepare state to be run'))
      this.finish()
      return
    }
    let old: ParsedState | null = null
    const oldRaw = await st.readJson(previous)
    if (oldRaw !== null) { try { old = parseState(oldRaw, previous) } catch { old = null } }
    const reboot = commit || this.outcome === 'done' || (this.outcome === 'auto' && bspOf(old) !== bspOf(parsed))
    const t = this.dev.timing
    await this.set(rev, 'INPROGRESS', reboot ? MSG.reboot : MSG.transition)
    this.dev.setMeta('pantavisor.status', 'INSTALLED')
    const testing = async (): Promise<void> => {
      await st.setCurrent(rev)
      this.dev.setMeta('pantavisor.revision', rev)
      this.dev.setMeta('pantavisor.status', 'READY')
      await this.set(rev, 'TESTING', reboot ? MSG.testingReboot : MSG.testingNonReboot)
      this.dev.later(t.testingMs, () => this.conclude(u, reboot))
    }
    if (reboot) this.dev.later(t.inprogressMs, () => { this.dev.reboot(t.rebootDownMs, testing) })
    else this.dev.later(t.inprogressMs, testing)
  }

  private async conclude (u: RunningUpdate, reboot: boolean): Promise<void> {
    const st = this.dev.storage
    if (this.outcome === 'error') {
      const logs = logLine('platforms', "platform status goal timed out after waiting for more than 30 secs") +
        logLine('controller', 'timed out before all goals were met. Rolling back...')
      await this.set(u.rev, 'ERROR', MSG.goalFailed, logs)
      const back = async (): Promise<void> => {
        await st.setCurrent(u.previous)
        this.dev.setMeta('pantavisor.revision', u.previous)
        this.dev.setMeta('pantavisor.status', 'READY')
        this.finish()
      }
      if (reboot) this.dev.reboot(this.dev.timing.rebootDownMs, back)
      else this.dev.later(this.dev.timing.rollbackMs, back)
      return
    }
    if (reboot) {
      this.doneRev = u.rev
      await this.set(u.rev, 'DONE', MSG.done)
    } else {
      await this.set(u.rev, 'UPDATED', MSG.updated)
    }
    this.finish()
  }
}
