/**
 * The simulated device's brain: its storage, device metadata, the command
 * slot (pv->cmd: one at a time, 503 while taken or while an update runs),
 * the main loop (threshold GC) and the update state machine (update.ts).
 * The pv-ctrl socket and the pvr-sdk HTTP server both drive this object.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from '../../../shared/log.js'
import { UsageError } from '../../../shared/errors.js'
import type { CmdOp } from './commands.js'
import { FACTORY_REV, installFactory } from './factory.js'
import { Updater, type Outcome } from './update.js'
import { MSG, progressJson } from './progress.js'
import type { DeviceStorage } from './storage.js'
import type { SimTiming } from './timing.js'
import { verifyOnDevice, type DeviceTrust } from './verify.js'

/** Test knobs: faults a real device shows now and then, on demand. */
export interface SimKnobs {
  /** The next N object uploads arrive damaged (their sha256 does not match: 422). */
  flakyUploads: number
  /** Cut the connection once, after this many object bytes have arrived in total. */
  cutAfterBytes: number | null
  /** The next N run commands are answered 503, as while an update is ongoing. */
  busyCommands: number
}

export interface DeviceCoreOptions {
  storage: DeviceStorage
  trust: DeviceTrust
  timing: SimTiming
  outcome: Outcome
  deviceId: string
  nick: string
  /** --factory: the export tarball or state JSON of revision 0 on a fresh storage (default: the built-in one). */
  factory?: string
  /** PV_STORAGE_GC_THRESHOLD: run GC when real free space falls under this percentage (0: never). */
  gcThreshold: number
  knobs: SimKnobs
  log: Logger
}

export interface CommandAnswer {
  status: number
  error?: string
  retryAfter?: number
}

const BLOCKED_BY_UPDATE = new Set<string>(['REBOOT_DEVICE', 'POWEROFF_DEVICE', 'LOCAL_RUN', 'LOCAL_RUN_COMMIT', 'MAKE_FACTORY', 'UNCLAIM'])

export interface DeviceCoreEvents {
  /** The device goes away (reboot) and comes back. */
  down: []
  up: []
}

export class DeviceCore extends EventEmitter<DeviceCoreEvents> {
  readonly storage: DeviceStorage
  readonly trust: DeviceTrust
  readonly timing: SimTiming
  readonly knobs: SimKnobs
  readonly deviceId: string
  readonly nick: string
  readonly log: Logger
  readonly updater: Updater
  private readonly devmeta = new Map<string, string>()
  private cmd: { op: CmdOp; payload: string } | null = null
  private timers = new Set<NodeJS.Timeout>()
  private stopped = false
  private lastUpload = 0
  private gcThreshold: number
  private readonly factory: string | undefined
  /** Bytes of object uploads seen, for the cut knob. */
  uploadedBytes = 0
  claimed = false
  /** pv->remote_mode: off on a device that runs a local revision, as the simulator's always does at first. */
  remoteMode = false
  isDown = false

  constructor(opts: DeviceCoreOptions) {
    super()
    this.storage = opts.storage
    this.trust = opts.trust
    this.timing = opts.timing
    this.knobs = opts.knobs
    this.deviceId = opts.deviceId
    this.nick = opts.nick
    this.log = opts.log
    this.gcThreshold = opts.gcThreshold
    this.factory = opts.factory
    this.updater = new Updater(this, opts.outcome)
  }

  async start(): Promise<void> {
    await this.storage.start()
    if ((await this.storage.current()) === null) await this.bootFactory()
    this.updater.doneRev = (await this.storage.current()) ?? '0'
    this.devmeta.set('pantavisor.arch', process.arch === 'x64' ? 'x86_64' : process.arch)
    this.devmeta.set('pantavisor.dtmodel', 'Fieldsync device simulator')
    this.devmeta.set('pantavisor.mode', 'local')
    this.devmeta.set('pantavisor.version', '030-sim')
    this.devmeta.set('pantavisor.status', 'READY')
    this.devmeta.set('pantavisor.revision', this.updater.doneRev)
    this.devmeta.set('pantavisor.claimed', '0')
    await this.refreshStorageMeta()
    this.every(this.timing.loopMs, () => this.loop())
  }

  /** A fresh device: its factory revision "0" is installed, checked as at boot, linked and run (DONE "Factory revision"). */
  private async bootFactory(): Promise<void> {
    const st = this.storage
    await installFactory(st, this.factory)
    const raw = await st.readJson(FACTORY_REV)
    const verdict = raw === null ? null : verifyOnDevice(raw, this.trust)
    const what = this.factory === undefined ? 'the built-in factory revision' : `--factory ${this.factory}`
    if (verdict === null || !verdict.ok) {
      await st.removeRevision(FACTORY_REV)
      throw new UsageError(`${what}: the device refuses it (${verdict === null ? 'no state JSON' : `${verdict.message}: ${verdict.detail}`})`)
    }
    const missing = await st.linkObjects(
      FACTORY_REV,
      verdict.state.objects.map(o => ({ key: o.key, sha: o.id })),
    )
    if (missing.length > 0) this.log('factory revision: %d object(s) not on the device, first %s', missing.length, missing[0])
    await st.writeSmall(st.progressPath(FACTORY_REV), progressJson('DONE', MSG.factory))
    await st.setCurrent(FACTORY_REV)
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  /** Run fn after ms unless the device stopped. */
  later(ms: number, fn: () => void | Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      if (this.stopped) return
      Promise.resolve()
        .then(fn)
        .catch(err => {
          this.log.error('device: %s', (err as Error).stack ?? err)
        })
    }, ms)
    this.timers.add(t)
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = (): void => {
      this.later(ms, async () => {
        await fn()
        tick()
      })
    }
    tick()
  }

  setMeta(key: string, value: string): void {
    this.devmeta.set(key, value)
  }
  deleteMeta(key: string): boolean {
    return this.devmeta.delete(key)
  }

  /** GET /device-meta: values that are valid JSON go in raw, others as strings (metadata.c). */
  async deviceMeta(): Promise<string> {
    await this.refreshStorageMeta()
    const parts: string[] = []
    for (const [k, v] of this.devmeta) {
      let raw = JSON.stringify(v)
      try {
        JSON.parse(v)
        raw = v
      } catch {
        /* a plain string */
      }
      parts.push(`${JSON.stringify(k)}:${raw}`)
    }
    return `{${parts.join(',')}}`
  }

  private async refreshStorageMeta(): Promise<void> {
    const n = await this.storage.numbers()
    this.devmeta.set('storage', JSON.stringify({ total: n.total, free: n.free, reserved: n.reserved, real_free: n.realFree }))
  }

  noteUpload(): void {
    this.lastUpload = Date.now()
  }

  /** The main loop: threshold GC (deferred after uploads) and devmeta refresh. */
  private async loop(): Promise<void> {
    await this.refreshStorageMeta()
    if (this.gcThreshold <= 0 || this.updater.busy) return
    if (Date.now() - this.lastUpload < this.timing.gcDeferMs) return
    const n = await this.storage.numbers()
    if (n.total > 0 && (n.realFree * 100) / n.total < this.gcThreshold) {
      this.log('free space under %d%%: running the garbage collector', this.gcThreshold)
      await this.gc()
    }
  }

  /** pv_storage_gc_run: keeps current, the update's and the last DONE revision. */
  async gc(): Promise<number> {
    const keep = new Set<string>()
    const current = await this.storage.current()
    if (current !== null) keep.add(current)
    keep.add(this.updater.doneRev)
    const u = this.updater.current
    if (u !== null) keep.add(u.rev)
    return await this.storage.gc(keep, u?.objects ?? new Set())
  }

  /**
   * POST /commands (ctrl_cmd.c pv_ctrl_cmd_add), for an op as
   * pv_ctrl_cmd_parse matched it (commands.ts); PV_CONTROL_REMOTE and
   * PV_DEBUG_SHELL are on, as config.c has them by default.
   */
  addCommand(op: CmdOp, payload: string): CommandAnswer {
    const run = op === 'LOCAL_RUN' || op === 'LOCAL_RUN_COMMIT'
    if (!this.remoteMode && op === 'UPDATE_METADATA') return { status: 409, error: 'Cannot do this operation while on local mode' }
    if ((this.updater.busy && BLOCKED_BY_UPDATE.has(op)) || (run && this.knobs.busyCommands > 0)) {
      if (run && this.knobs.busyCommands > 0) this.knobs.busyCommands--
      return { status: 503, error: 'Cannot do this operation while update is ongoing', retryAfter: 600 }
    }
    if (op === 'MAKE_FACTORY' && this.claimed) return { status: 409, error: 'Cannot do this operation if device is already claimed' }
    if (op === 'GO_REMOTE' && this.remoteMode) return { status: 204, error: 'Already in remote mode' }
    if (op === 'UNCLAIM' && !this.claimed) return { status: 204, error: 'Device is already unclaimed' }
    if (this.cmd !== null) return { status: 503, error: 'A command is already in progress. Try again', retryAfter: 120 }
    this.cmd = { op, payload }
    this.later(this.timing.pickupMs, () => this.runCommand())
    return { status: 200 }
  }

  /** The state machine takes the command (pantavisor.c _pv_command). */
  private async runCommand(): Promise<void> {
    const cmd = this.cmd
    this.cmd = null
    if (cmd === null) return
    this.log('command %s %s', cmd.op, cmd.payload)
    switch (cmd.op) {
      case 'LOCAL_RUN':
      case 'LOCAL_RUN_COMMIT':
        if (this.updater.busy) {
          this.log('ignoring %s: an update is in progress', cmd.op)
          return
        }
        await this.updater.run(cmd.payload, cmd.op === 'LOCAL_RUN_COMMIT')
        return
      case 'RUN_GC':
        this.log('garbage collector reclaimed %d bytes', await this.gc())
        return
      case 'REBOOT_DEVICE':
        if (!this.updater.busy) this.reboot(this.timing.rebootDownMs)
        return
      case 'GO_REMOTE':
        this.remoteMode = true
        this.devmeta.set('pantavisor.mode', 'remote')
        return
      case 'UPDATE_METADATA':
      case 'POWEROFF_DEVICE':
      case 'MAKE_FACTORY':
      case 'ENABLE_SSH':
      case 'DISABLE_SSH':
      case 'UNCLAIM':
      case 'DEFER_REBOOT':
        this.log('%s: taken, nothing the simulator models', cmd.op)
        return
      default:
        this.log('unknown command received. Ignoring... (%s)', cmd.op)
    }
  }

  /** Reboots begun, so that only the last one brings the device up. */
  private reboots = 0

  /** Go away for ms (the servers close), then come back. */
  reboot(ms: number, then?: () => Promise<void>): void {
    const gen = ++this.reboots
    this.isDown = true
    this.emit('down')
    this.later(ms, async () => {
      if (then !== undefined) await then()
      // Stopped while coming back, or `then` rebooted again (a failed update's rollback): stay down,
      // the later reboot brings the device up (coming up twice left a server nobody closed).
      if (this.stopped || gen !== this.reboots) return
      this.isDown = false
      this.emit('up')
    })
  }
}
