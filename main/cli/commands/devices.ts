/** Device commands: `devices` (discovery), `devices show`, `install`, and the simulator. */
import { Option, type Command } from 'commander'
import { NotFoundError, toWireError, UsageError } from '../../../shared/errors.js'
import { installSucceeded, type DeviceInfo, type InstallPlan, type InstallResult } from '../../../shared/api/types.js'
import {
  DEFAULT_SSH_CONTAINER, deviceDriver, deviceLabel, Discovery, DeviceStore, historyDevice, Installer, isSelectorList, resolveDevice, selectOne, SSH_DEFAULT_PORT, VIAS,
  type DeviceDriver, type DeviceRecord, type InstallEvent, type ResolvedDevice, type Via,
} from '../../devices/index.js'
import type { App } from '../../app/index.js'
import type { Cli, CommandContext } from '../cli.js'
import { formatBytes, table, terminalText } from '../output.js'
import { registerDeviceSim } from './device-sim.js'
import { registerDeviceLabels } from './device-labels.js'

function seconds (v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${v}: a number of seconds`)
  return n
}

function collect (v: string, prev: string[] = []): string[] { return [...prev, v] }

function publicDevice (d: DeviceInfo | DeviceRecord): Record<string, unknown> {
  const labels = 'alias' in d ? { alias: d.alias, tags: d.tags } : { alias: null, tags: [] }
  return { deviceId: d.deviceId, name: d.name, ...labels, addrs: d.addrs, port: d.port, claimed: d.claimed, registered: d.registered, pvrSdk: d.pvrSdk, revision: d.revision, status: d.status }
}

/** Most characters shown of a device's name, id, status... in a table, and of a line of ours that carries a device's words. */
const CELL_MAX = 64
const LINE_MAX = 400

/** What a device says of itself (mDNS, device-meta), for a table cell. */
function cell (s: string | null | undefined): string {
  return s === null || s === undefined ? '-' : terminalText(s, CELL_MAX)
}

/** The last column: "not registered" (empty device-id: the DEVICE column is a fingerprint), else claimed or not. */
function standing (d: DeviceInfo | DeviceRecord): string {
  if (d.registered === false) return 'not registered'
  return d.claimed === null ? '' : d.claimed ? 'claimed' : 'unclaimed'
}

const DEVICE_HEAD = ['NAME', 'DEVICE', 'TAGS', 'ADDRESS', 'HTTP', 'REVISION', 'STATUS', '']

function deviceRow (d: DeviceRecord): string[] {
  return [cell(deviceLabel(d)), cell(d.deviceId), cell(d.tags.join(',') || '-'), cell(d.addrs.join(',')), d.pvrSdk ? 'pvr-sdk' : '-', cell(d.revision), cell(d.status), standing(d)]
}

function deviceLine (d: DeviceRecord): string {
  return table([deviceRow(d)], DEVICE_HEAD)
}

interface InstallOpts {
  device?: string
  via?: Via
  name?: string
  commit?: boolean
  dryRun?: boolean
  message?: string
  timeout?: number
  ignoreSpace?: boolean
  poll?: number
  sshUser?: string
  sshPort?: number
  sshKey?: string
  sshPasswordEnv?: string
  sshSocket?: string
  settle?: number
  stall?: number
  replaceState?: boolean
  compose?: boolean
}

interface Target { driver: DeviceDriver, deviceId: string }

async function target (ctx: CommandContext<InstallOpts>, app: App, store: DeviceStore): Promise<Target> {
  const o = ctx.opts
  const ref = o.device
  if (ref === undefined) throw new UsageError('install: name the device with --device <id|name|address|unix:socket>')
  let res: ResolvedDevice
  try {
    res = isSelectorList(ref) ? selectOne(store, ref) : resolveDevice(store, ref)
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
    ctx.say(`looking for ${ref} on the network...`)
    const found = await new Discovery({ log: ctx.log }).browse({ timeoutMs: 3000, signal: ctx.signal })
    for (const d of found) store.upsert(d)
    res = resolveDevice(store, ref)
  }
  const password = o.sshPasswordEnv === undefined ? undefined : process.env[o.sshPasswordEnv]
  if (o.sshPasswordEnv !== undefined && password === undefined) throw new UsageError(`--ssh-password-env ${o.sshPasswordEnv}: that environment variable is not set`)
  const driver = deviceDriver(res, {
    via: o.via,
    sshUser: o.sshUser,
    sshPort: o.sshPort,
    sshKey: o.sshKey,
    sshPassword: password,
    sshAgent: o.sshKey === undefined && password === undefined ? process.env.SSH_AUTH_SOCK : undefined,
    sshSocket: o.sshSocket,
    stallMs: (o.stall ?? 30) * 1000,
    pvrSdk: { settleMs: (o.settle ?? 60) * 1000, switchMs: Math.max((o.timeout ?? 900) * 1000 / 3, (o.settle ?? 60) * 1000) },
    onHostKey: (k) => {
      ctx.note(k.pinned === 'new'
        ? `fieldsync: ${k.host}:${k.port} shows SSH host key ${terminalText(k.type, CELL_MAX)} ${k.fingerprint}: pinned (first use)`
        : `fieldsync: ${k.host}:${k.port} host key ${k.fingerprint} matches the pinned one`)
    },
  }, app.home)
  return { driver, deviceId: res.deviceId }
}

function render (ctx: CommandContext<InstallOpts>): (e: InstallEvent) => void {
  const bar = ctx.progress('upload', 'bytes')
  return (e) => {
    if (e.type === 'upload') { bar.update(e.bytes, e.totalBytes, `${e.index + 1}/${e.count}`); return }
    if (e.type === 'planned') return
    bar.stop()
    // Messages go to stderr in every mode (with --json, stdout holds only the result).
    // The final state is also the result line on stdout: printed once there without --json.
    // What the device said is shown escaped and cut (output.ts); JSON keeps it up to the drivers' caps.
    if (e.type === 'phase') { if (e.phase !== 'final' || ctx.json) ctx.note(terminalText(e.message, LINE_MAX)) }
    else if (e.type === 'retry') ctx.note(`retrying ${e.what}: ${terminalText(e.reason, LINE_MAX)}`)
    else if (e.type === 'progress') ctx.note(`  ${terminalText(e.status, CELL_MAX)}${e.progress === null ? '' : ` ${e.progress}%`} ${terminalText(e.statusMsg)}`)
  }
}

/** What composing a package onto the device's running state changes, for the plan. */
function compositionLines (p: InstallPlan): string[] {
  const c = p.composition
  if (c === null || c === undefined) return []
  const list = (xs: string[]): string => xs.map(x => terminalText(x, CELL_MAX)).join(', ')
  const sig = c.signature
  return [
    `  a package: composed onto what the device runs (${c.onto.slice(0, 12)}), the device gets state ${c.result.slice(0, 12)}`,
    ...(c.parts.added.length > 0 ? [`    parts added:    ${list(c.parts.added)}`] : []),
    ...(c.parts.replaced.length > 0 ? [`    parts replaced: ${list(c.parts.replaced)}`] : []),
    ...(c.parts.removed.length > 0 ? [`    parts removed:  ${list(c.parts.removed)}`] : []),
    ...(c.parts.unchanged.length > 0 ? [`    parts as they were: ${list(c.parts.unchanged)}`] : []),
    ...(sig === null ? [] : [`    signatures: ${terminalText(sig.summary, LINE_MAX)}${sig.device === null ? '' : `; the device would answer ${sig.device}`}`]),
    ...sig?.broken.map(b => `    BROKEN by the composition: ${terminalText(b.key, CELL_MAX)}: ${terminalText(b.message, LINE_MAX)}`) ?? [],
    ...c.warnings.map(w => `    warning: ${terminalText(w, LINE_MAX)}`),
  ]
}

/** Bytes sent at their rate over the upload alone, and the device's run with its own time. */
function sentText (r: InstallResult): string {
  const run = `the device's run ${Math.max(0, Math.round((r.seconds - r.uploadSeconds) * 10) / 10)} s`
  if (r.bytesSent === 0) return `nothing sent; ${run}`
  const speed = r.uploadSeconds > 0 ? ` (${formatBytes(r.bytesSent / r.uploadSeconds)}/s)` : ''
  return `sent ${r.objectsSent} objects, ${formatBytes(r.bytesSent)} in ${r.uploadSeconds} s${speed}; ${run}`
}

function planText (p: InstallPlan): string {
  return [
    `plan: ${p.revision.name} (${p.revision.id.slice(0, 12)}) to ${p.device} via ${p.via} as ${p.step}`,
    ...compositionLines(p),
    `  send ${p.objectsToSend} of ${p.objectsTotal} objects, ${formatBytes(p.bytesToSend)}; device free: ${formatBytes(p.freeBytes)}`,
    `  the device runs ${p.alreadyRunning === true ? 'this revision already' : p.alreadyRunning === false ? 'another revision' : `a revision ${p.via} does not tell`}`,
    `  ${p.bytesToSend === 0 ? 'no transfer: nothing to send' : `upload about ${p.uploadSeconds} s`}; then the device's run, about ${p.runSeconds} s`,
    ...p.problems.map(x => `  PROBLEM: ${x}`),
    ...(p.notes ?? []).map(x => `  note: ${x}`),
  ].join('\n')
}

export function register (program: Command, cli: Cli): void {
  const devices = program.command('devices')
    .description('find Pantavisor devices on the LAN (mDNS like pv-avahi, and addresses you name)')
    .option('--timeout <seconds>', 'how long to listen for mDNS answers', seconds, 3)
    .option('--device <host[:port]>', 'also probe this address (repeatable)', collect)
    .option('--no-mdns', 'do not browse mDNS (only --device addresses)')
    .action(cli.action<{ timeout: number, device?: string[], mdns?: boolean }>(async (ctx) => {
      const app = await ctx.app()
      const store = new DeviceStore(app.library.db)
      const seen = await new Discovery({ log: ctx.log }).browse({
        timeoutMs: ctx.opts.timeout * 1000,
        addresses: ctx.opts.device,
        mdns: ctx.opts.mdns !== false,
        signal: ctx.signal,
        onDevice: (d) => {
          store.upsert(d)
          const rec = store.get(d.deviceId)
          ctx.note(`found ${cell(rec === undefined ? d.name : deviceLabel(rec))} (${d.registered === false ? 'not registered, ' : ''}${cell(d.deviceId)}) at ${cell(d.addrs.join(', '))}`)
        },
      })
      // As stored: with the technician's alias and tags, and no bare IP for a name.
      const list = seen.map(d => store.get(d.deviceId)).filter((d): d is DeviceRecord => d !== undefined)
      return {
        json: list.map(publicDevice),
        text: list.length === 0 ? 'no devices answered (multicast blocked? name one with --device ADDRESS)' : table(list.map(deviceRow), DEVICE_HEAD),
      }
    }))

  devices.command('show <device>')
    .description("a device's details and its install history")
    .action(cli.action(async (ctx, ref: string) => {
      const app = await ctx.app()
      const store = new DeviceStore(app.library.db)
      const { deviceId: id, record: rec } = historyDevice(store, ref)
      const installs = store.installs(id)
      if (rec === undefined && installs.length === 0) throw new NotFoundError(`${ref}: no device or install history by that id, name or address`)
      const rows = installs.map(i => [new Date(i.startedAt).toISOString().replace(/\.\d+Z$/, 'Z'), i.revisionName ?? i.revisionId.slice(0, 12), i.step ?? '-', i.via, cell(i.status), formatBytes(i.bytesSent), terminalText(i.statusMsg ?? '', 80)])
      const head = rec === undefined ? `device ${id} (not seen by discovery)` : deviceLine(rec)
      return {
        json: { device: rec === undefined ? null : publicDevice(rec), installs },
        text: [head, '', installs.length === 0 ? 'no installs recorded' : table(rows, ['WHEN', 'REVISION', 'STEP', 'VIA', 'STATUS', 'SENT', 'MESSAGE'])].join('\n'),
      }
    }))

  program.command('install <rev>')
    .description('install a revision onto a device: only the objects it lacks, then step locals/NAME, run, and follow its progress; a package (no BSP) is composed onto what the device runs, as pvtx does')
    .requiredOption('--device <device>', 'device id, name, address (host or host:port), or unix:<pv-ctrl socket>')
    .addOption(new Option('--via <driver>', 'how to reach it (default: pv-ctrl for unix:<socket>, ssh when SSH credentials are given, else pvr-sdk)').choices([...VIAS]))
    .option('--name <name>', 'step name: locals/NAME (default: from the revision name and id)')
    .option('--commit', 'LOCAL_RUN_COMMIT: run then reboot, so that the revision becomes a rollback point (ssh and pv-ctrl only)')
    .option('--dry-run', 'stop after the preflight and print the plan')
    .option('--replace-state', 'send the revision as the device\'s whole state (refused for a package: one without a BSP)')
    .option('--compose', 'compose the revision onto what the device runs even though it has a BSP (a BSP update package); a revision without a BSP always is')
    .option('-m, --message <text>', 'commit message (at most 256 bytes)')
    .option('--timeout <seconds>', 'give up following the progress after this long', seconds, 900)
    .option('--ignore-space', 'send even if the device reports too little free space')
    .option('--stall <seconds>', 'give up on a request that makes no progress this long: an upload the device stops taking, an answer that never comes', seconds, 30)
    .option('--settle <seconds>', 'pvr-sdk, which does not tell the device\'s progress: how long the device must run the revision before the install ends RUNNING', seconds, 60)
    .option('--ssh-user <container>', `SSH login name: on a Pantavisor device, the container to enter, its management container (default ${DEFAULT_SSH_CONTAINER})`)
    .option('--ssh-port <port>', `SSH port (default ${SSH_DEFAULT_PORT}, as pv-avahi advertises)`, (v) => Number(v))
    .option('--ssh-key <file>', 'private key file')
    .option('--ssh-password-env <var>', 'take the SSH password from this environment variable')
    .option('--ssh-socket <path>', 'pv-ctrl socket inside the management container (default: where pvcontrol looks)')
    .addOption(new Option('--poll <ms>', 'progress poll interval').argParser(Number).default(1000).hideHelp())
    .action(cli.action<InstallOpts>(async (ctx, rev: string) => {
      const app = await ctx.app()
      const store = new DeviceStore(app.library.db)
      const { driver, deviceId } = await target(ctx, app, store)
      const installer = new Installer({ library: app.library, devices: store, log: ctx.log, trust: await app.trustStore() })
      const t0 = Date.now()
      let res: InstallResult | InstallPlan
      try {
        res = await installer.install({
          rev, driver, deviceId, name: ctx.opts.name, commit: ctx.opts.commit === true, dryRun: ctx.opts.dryRun === true, message: ctx.opts.message,
          timeoutMs: (ctx.opts.timeout ?? 900) * 1000, ignoreSpace: ctx.opts.ignoreSpace === true, replaceState: ctx.opts.replaceState === true, compose: ctx.opts.compose === true, pollMs: ctx.opts.poll, signal: ctx.signal, onEvent: render(ctx),
        })
      } catch (err) {
        const d = (err as { details?: Record<string, unknown> }).details
        if (d?.step === undefined) throw err
        // The install had started: report what was sent, the error, and fail.
        const w = toWireError(err)
        ctx.note(`fieldsync: ${terminalText(w.message, LINE_MAX)}`)
        const out = { device: deviceId, revision: rev, step: d.step, status: w.code === 'E_TIMEOUT' ? 'TIMEOUT' : 'FAILED', statusMsg: w.message, bytesSent: d.bytesSent ?? 0, objectsSent: d.objectsSent ?? 0, seconds: Math.round((Date.now() - t0) / 100) / 10, error: { code: w.code, message: w.message } }
        return { json: out, text: `${out.status}: ${terminalText(w.message, LINE_MAX)}`, exitCode: 1 }
      }
      if (!('status' in res)) return { json: res, text: planText(res) }
      const ok = installSucceeded(res.status)
      return {
        json: res,
        text: `${res.step}: ${terminalText(res.status, CELL_MAX)} (${terminalText(res.statusMsg)}); ${sentText(res)}`,
        exitCode: ok ? 0 : 1,
      }
    }))

  registerDeviceLabels(devices, cli)
  registerDeviceSim(program, cli)
}
