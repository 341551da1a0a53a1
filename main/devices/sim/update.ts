/**
 * Running a revision (update.c pv_update_run, _finish_update_installation;
 * pantavisor.c _pv_run): read the stored state, check signatures and parse
 * (WONTGO), link its objects into the trail and its boot assets
 * (state.c pv_state_prepare_run, storage.c pv_storage_meta_link_boot: a state
 * without a BSP, or whose kernel/initrd/fit/addons are not there, ends in
 * ERROR "Internal error" at once and nothing changes), then INPROGRESS
 * (rebooting, or transitioning without a reboot), the new revision's objects
 * checked (pv_state_validate_checksum: a missing or damaged one gives ERROR
 * "Object validation went wrong" and a rollback), TESTING for the commit
 * delay, and DONE (reboot: rollback point) or UPDATED, or ERROR with a
 * rollback, as --outcome says. `auto` reboots as upstream decides (reboot.ts:
 * a change of the BSP or of a platform whose restart policy is `system`) or
 * with LOCAL_RUN_COMMIT.
 */
import type { DeviceCore } from './device.js'
import type { DeviceState } from './parser.js'
import { logLine, MSG, progressJson, type ProgressStatus } from './progress.js'
import { needsReboot } from './reboot.js'
import { verifyOnDevice } from './verify.js'

export type Outcome = 'auto' | 'done' | 'updated' | 'error' | 'wontgo'
export const OUTCOMES: readonly Outcome[] = ['auto', 'done', 'updated', 'error', 'wontgo']

export interface RunningUpdate {
  rev: string
  objects: Set<string>
  previous: string
}

/** The BSP part of a state (its bsp/ keys and their raw values), to tell whether an update changes it. */
/** Upstream's rule (reboot.ts): a reboot when what changed belongs to the BSP or to a platform that restarts the system. */
function rebootBetween(previous: Buffer | null, next: Buffer): boolean {
  if (previous === null) return true
  try {
    return needsReboot(JSON.parse(previous.toString('utf8')) as Record<string, unknown>, JSON.parse(next.toString('utf8')) as Record<string, unknown>)
  } catch {
    return true
  }
}

/** pv_storage_meta_link_boot: the trail paths of the boot assets to link, or why there are none. */
function bootPaths(s: DeviceState): { paths: string[] } | { error: string } {
  const b = s.boot
  const at = (name: string | null): string => s.prefix + (name ?? '(null)')
  if (b === null) return { error: 'bsp type not supported. no std,fit or rpiab boot assets found' }
  const paths = b.addons.map(a => at(a))
  if (b.initrd !== null) {
    paths.push(at(b.initrd), at(b.kernel))
    if (b.fdt !== null) paths.push(at(b.fdt))
  } else if (b.fit !== null) paths.push(at(b.fit))
  else if (b.rpiab !== null) paths.push(at(b.rpiab))
  else return { error: 'bsp type not supported. no std,fit or rpiab boot assets found' }
  return { paths }
}

export class Updater {
  /** The revision the bootloader boots (the last DONE). */
  doneRev = '0'
  current: RunningUpdate | null = null

  constructor(
    private readonly dev: DeviceCore,
    private readonly outcome: Outcome,
  ) {}

  get busy(): boolean {
    return this.current !== null
  }

  private async set(rev: string, status: ProgressStatus, msg: string, logs?: string): Promise<void> {
    await this.dev.storage.writeSmall(this.dev.storage.progressPath(rev), progressJson(status, msg, logs))
    this.dev.log('%s: %s (%s)', rev, status, msg)
  }

  private finish(): void {
    this.current = null
  }

  async run(revArg: string, commit: boolean): Promise<void> {
    const st = this.dev.storage
    const rev = await st.resolve(revArg)
    const previous = (await st.current()) ?? this.doneRev
    const u: RunningUpdate = { rev, objects: new Set(), previous }
    this.current = u
    const raw = await st.readJson(rev)
    if (raw === null) {
      await this.set(rev, 'WONTGO', MSG.noStateJson)
      this.finish()
      return
    }
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
    const state = verdict.state
    for (const o of state.objects) u.objects.add(o.id)
    // _link_trail_objects: a link that fails is logged and skipped; only the boot assets must be there
    const missing = await st.linkObjects(
      rev,
      state.objects.map(o => ({ key: o.key, sha: o.id })),
    )
    const boot = bootPaths(state)
    const absent = 'paths' in boot ? await st.missingTrailFiles(rev, boot.paths) : []
    if ('error' in boot || absent.length > 0) {
      const why = 'error' in boot ? `${boot.error} for rev=${rev}` : `unable to link '${absent[0]}': no such object in the trail`
      await this.set(
        rev,
        'ERROR',
        MSG.internal,
        logLine('storage', why) + logLine('state', 'unable to link objects to relative path') + logLine('updater', 'could not prepare state to be run'),
      )
      this.finish()
      return
    }
    const reboot = commit || this.outcome === 'done' || (this.outcome === 'auto' && rebootBetween(await st.readJson(previous), raw))
    const t = this.dev.timing
    await this.set(rev, 'INPROGRESS', reboot ? MSG.reboot : MSG.transition)
    this.dev.setMeta('pantavisor.status', 'INSTALLED')
    const testing = async (): Promise<void> => {
      await st.setCurrent(rev)
      this.dev.setMeta('pantavisor.revision', rev)
      // pv_state_validate_checksum, on the revision now running
      const bad = missing.length > 0 ? missing : await st.invalidTrailObjects(rev, state.objects)
      if (bad.length > 0) {
        await this.set(
          rev,
          'ERROR',
          MSG.badChecksum,
          logLine('state', `trails object ${bad[0]} failed`) + logLine('pantavisor', 'state objects validation went wrong'),
        )
        await this.rollBack(u, true)
        return
      }
      this.dev.setMeta('pantavisor.status', 'READY')
      await this.set(rev, 'TESTING', reboot ? MSG.testingReboot : MSG.testingNonReboot)
      this.dev.later(t.testingMs, () => this.conclude(u, reboot))
    }
    if (reboot)
      this.dev.later(t.inprogressMs, () => {
        this.dev.reboot(t.rebootDownMs, testing)
      })
    else this.dev.later(t.inprogressMs, testing)
  }

  /** Back to the revision that ran before (a reboot when `reboot`, as _pv_rollback issues one). */
  private async rollBack(u: RunningUpdate, reboot: boolean): Promise<void> {
    const st = this.dev.storage
    const back = async (): Promise<void> => {
      await st.setCurrent(u.previous)
      this.dev.setMeta('pantavisor.revision', u.previous)
      this.dev.setMeta('pantavisor.status', 'READY')
      this.finish()
    }
    if (reboot) this.dev.reboot(this.dev.timing.rebootDownMs, back)
    else this.dev.later(this.dev.timing.rollbackMs, back)
  }

  private async conclude(u: RunningUpdate, reboot: boolean): Promise<void> {
    if (this.outcome === 'error') {
      const logs =
        logLine('platforms', 'platform status goal timed out after waiting for more than 30 secs') +
        logLine('controller', 'timed out before all goals were met. Rolling back...')
      await this.set(u.rev, 'ERROR', MSG.goalFailed, logs)
      await this.rollBack(u, reboot)
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
