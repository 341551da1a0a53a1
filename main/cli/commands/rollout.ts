/** `fieldsync rollout`: one revision onto many devices, canaries first, K at a time, resumable (main/devices/rollout). */
import { Option, type Command } from 'commander'
import { UsageError } from '../../../shared/errors.js'
import { deviceDriver, deviceLabel, DeviceStore, Installer, selectDevices } from '../../devices/index.js'
import { Rollout, RolloutStore, reportFormat, writeReport, type RolloutEvent, type RolloutResult, type RolloutTarget } from '../../devices/rollout/index.js'
import type { Cli, CommandContext } from '../cli.js'
import { formatBytes, table, terminalText } from '../output.js'
import { addConnectOptions, connectOptions, type ConnectFlags } from './connect-options.js'

interface RolloutOpts extends ConnectFlags {
  devices: string
  canary?: string
  parallel: number
  maxFailures: number
  commit?: boolean
  dryRun?: boolean
  report?: string[]
  timeout: number
  stall: number
  settle: number
  poll: number
}

function count(what: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} ${v}: a whole number, 1 or more`)
    return n
  }
}

function seconds(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${v}: a number of seconds`)
  return n
}

const CELL = 48

function render(ctx: CommandContext<RolloutOpts>): (e: RolloutEvent) => void {
  return e => {
    if (e.type === 'wave') ctx.note(`${e.wave === 'canary' ? 'canary wave' : 'the rest'}: ${e.devices} device(s)`)
    else if (e.type === 'stop') ctx.note(`stopping: ${terminalText(e.reason, 400)}`)
    else if (e.type === 'plan' && ctx.opts.dryRun === true) return
    else if (e.type === 'device') {
      const what =
        e.state === 'running' && e.outcome === null ? 'started' : `${e.outcome ?? e.state}${e.message === null ? '' : ` (${terminalText(e.message, 200)})`}`
      ctx.note(`${terminalText(e.label, CELL)}: ${e.earlier === true ? 'finished earlier: ' : ''}${what}`)
    } else if (e.type === 'install' && e.event.type === 'progress')
      ctx.note(`${terminalText(e.label, CELL)}:   ${terminalText(e.event.status, 32)}${e.event.progress === null ? '' : ` ${e.event.progress}%`}`)
  }
}

function resultText(r: RolloutResult, seconds: number): string {
  const s = r.summary
  if (r.dryRun) {
    const rows = (r.plans ?? []).map(p => [
      terminalText(p.label, CELL) + (p.canary ? ' (canary)' : ''),
      p.alreadyRuns === true ? 'already runs it: skipped' : p.error !== null ? `ERROR ${p.error.code}` : 'install',
      p.bytesToSend === null ? '?' : formatBytes(p.bytesToSend),
      p.objectsToSend === null ? '?' : String(p.objectsToSend),
      p.fits === null ? '?' : p.fits ? 'yes' : 'NO',
      terminalText(p.revisionBefore ?? '-', 32),
      terminalText(p.error?.message ?? p.problems.join('; '), 120),
    ])
    return [
      `plan: ${r.revision.name} (${r.revision.id.slice(0, 12)}) to ${s.devices} device(s); signatures: ${terminalText(r.signature, 200)}`,
      table(rows, ['DEVICE', 'ACTION', 'SEND', 'OBJECTS', 'FITS', 'RUNS NOW', 'PROBLEMS']),
    ].join('\n')
  }
  const rows = r.devices.map(d => [
    terminalText(d.name, CELL) + (d.canary ? ' (canary)' : ''),
    d.outcome ?? d.state,
    formatBytes(d.bytesSent),
    d.seconds === null ? '-' : `${d.seconds} s`,
    terminalText(d.message ?? '', 100),
  ])
  return [
    table(rows, ['DEVICE', 'OUTCOME', 'SENT', 'TIME', 'MESSAGE']),
    `rollout ${r.rollout ?? '-'}${r.resumed ? ' (resumed)' : ''} of ${r.revision.name}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.skipped} already ran it, ${s.notStarted} not started, ${s.stopped > 0 ? `${s.stopped} stopped while running, ` : ''}of ${s.devices}, in ${seconds} s`,
    ...(r.reads === undefined || r.reads.servedBytes === 0
      ? []
      : [
          `read from the library: ${formatBytes(r.reads.libraryBytes)} for ${formatBytes(r.reads.servedBytes)} sent (devices of a wave share one read of each object)`,
        ]),
    ...(r.stopped === null ? [] : [`stopped: ${terminalText(r.stopped, 400)}`]),
  ].join('\n')
}

export function register(program: Command, cli: Cli): void {
  const cmd = program
    .command('rollout <rev>')
    .description('install a revision onto many devices: canaries first, then the rest K at a time; stops at F failures; run it again to resume')
    .requiredOption('--devices <selectors>', 'the devices: ids, addresses, name:NAME, tag:TAG or all, separated by commas')
  addConnectOptions(
    cmd,
    'how to reach every device (default per device: pv-ctrl for unix:<socket>, ssh when SSH credentials are given, else pvr-sdk); over ssh each device is entered as the container remembered for it',
  )
  cmd
    .option('--canary <selectors>', 'devices (among --devices) that go first, each to its end; the rest start only when they all succeeded')
    .option('--parallel <K>', 'devices installed at once', count('--parallel'), 1)
    .option('--max-failures <F>', 'stop starting devices once F failed (default: the first failure stops)', count('--max-failures'), 1)
    .option('--commit', 'LOCAL_RUN_COMMIT on each device (ssh and pv-ctrl only)')
    .option('--dry-run', 'print the plan per device (bytes to send, fits, already runs it) and change nothing')
    .option('--report <file>', 'write a report: .csv, .json or .html (one self-contained page); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--timeout <seconds>', 'per device: give up following its progress after this long', seconds, 900)
    .option('--stall <seconds>', 'per device: give up on a request that makes no progress this long', seconds, 30)
    .option('--settle <seconds>', 'pvr-sdk that does not tell progress: how long a device must run the revision', seconds, 60)
    .addOption(new Option('--poll <ms>', 'progress poll interval').argParser(Number).default(1000).hideHelp())
    .action(
      cli.action<RolloutOpts>(async (ctx, rev: string) => {
        const o = ctx.opts
        for (const f of o.report ?? []) reportFormat(f)
        const app = await ctx.app()
        const store = new DeviceStore(app.library.db)
        const chosen = selectDevices(store, o.devices)
        const canary = new Set(o.canary === undefined ? [] : selectDevices(store, o.canary).map(d => d.deviceId))
        const outside = [...canary].filter(id => !chosen.some(d => d.deviceId === id))
        if (outside.length > 0) throw new UsageError(`--canary: ${outside.join(', ')} not among --devices`)
        const connect = { stallMs: o.stall * 1000, pvrSdk: { settleMs: o.settle * 1000, switchMs: Math.max((o.timeout * 1000) / 3, o.settle * 1000) } }
        if (o.sshUser !== undefined && chosen.length > 1)
          ctx.note(`fieldsync: --ssh-user ${o.sshUser}: every device is entered as that container, and it is remembered for each device where the login works`)
        const targets: RolloutTarget[] = chosen.map(res => ({
          deviceId: res.deviceId,
          label: res.record === undefined ? res.deviceId : deviceLabel(res.record),
          alias: res.record?.alias ?? null,
          tags: res.record?.tags ?? [],
          canary: canary.has(res.deviceId),
          driver: () =>
            deviceDriver(res, { ...connectOptions(ctx, res.record === undefined ? res.deviceId : deviceLabel(res.record)), ...connect }, app.home, store),
        }))
        const installer = new Installer({ library: app.library, devices: store, log: ctx.log, trust: await app.trustStore() })
        const rollout = new Rollout({
          library: app.library,
          devices: store,
          rollouts: new RolloutStore(app.library.db),
          installer,
          log: ctx.log,
          trust: await app.trustStore(),
        })
        const t0 = Date.now()
        const res = await rollout.run({
          rev,
          targets,
          parallel: o.parallel,
          maxFailures: o.maxFailures,
          commit: o.commit === true,
          dryRun: o.dryRun === true,
          timeoutMs: o.timeout * 1000,
          pollMs: o.poll,
          signal: ctx.signal,
          onEvent: render(ctx),
        })
        for (const f of o.report ?? []) await writeReport(f, res)
        const seconds = Math.round((Date.now() - t0) / 100) / 10
        const ok = res.summary.failed === 0 && res.summary.notStarted === 0 && res.summary.stopped === 0
        return { json: { ...res, seconds, reports: o.report ?? [] }, text: resultText(res, seconds), exitCode: res.dryRun || ok ? 0 : 1 }
      }),
    )
}
