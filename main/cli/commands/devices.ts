/** Device commands: `devices` (discovery), `devices show`, `install`, and the simulator. */
import { Option, type Command } from 'commander'
import { DeviceUnreachableError, ErrorCodes, isCode, NotFoundError, toWireError, UsageError } from '../../../shared/errors.js'
import { installSucceeded, type DeviceInfo, type InstallPlan, type InstallResult, type PlanSsh } from '../../../shared/api/types.js'
import {
  chooseSshLogin,
  deviceDriver,
  deviceLabel,
  Discovery,
  DeviceStore,
  probeDevice,
  historyDevice,
  Installer,
  isSelectorList,
  resolveDevice,
  selectOne,
  type DeviceDriver,
  type DeviceRecord,
  type InstallEvent,
  type ResolvedDevice,
} from '../../devices/index.js'
import type { App } from '../../app/index.js'
import type { Cli, CommandContext } from '../cli.js'
import { formatBytes, table, terminalText } from '../output.js'
import { registerDeviceSim } from './device-sim.js'
import { registerDeviceLabels } from './device-labels.js'
import { addConnectOptions, connectOptions, type ConnectFlags } from './connect-options.js'

function seconds(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${v}: a number of seconds`)
  return n
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

function publicDevice(d: DeviceInfo | DeviceRecord): Record<string, unknown> {
  const labels = 'alias' in d ? { alias: d.alias, tags: d.tags } : { alias: null, tags: [] }
  return {
    deviceId: d.deviceId,
    name: d.name,
    ...labels,
    addrs: d.addrs,
    port: d.port,
    claimed: d.claimed,
    registered: d.registered,
    pvrSdk: d.pvrSdk,
    reach: d.reach ?? null,
    revision: d.revision,
    status: d.status,
  }
}

/** Most characters shown of a device's name, id, status... in a table, and of a line of ours that carries a device's words. */
const CELL_MAX = 64
const LINE_MAX = 400

/** What a device says of itself (mDNS, device-meta), for a table cell. */
function cell(s: string | null | undefined): string {
  return s === null || s === undefined ? '-' : terminalText(s, CELL_MAX)
}

/** The last column: "not registered" (empty device-id: the DEVICE column is a fingerprint), else claimed or not. */
function standing(d: DeviceInfo | DeviceRecord): string {
  if (d.registered === false) return 'not registered'
  return d.claimed === null ? '' : d.claimed ? 'claimed' : 'unclaimed'
}

const DEVICE_HEAD = ['NAME', 'DEVICE', 'TAGS', 'ADDRESS', 'ANSWERS', 'REVISION', 'STATUS', '']

function deviceRow(d: DeviceRecord): string[] {
  return [
    cell(deviceLabel(d)),
    cell(d.deviceId),
    cell(d.tags.join(',') || '-'),
    cell(d.addrs.join(',')),
    d.pvrSdk ? 'pvr-sdk' : (d.reach ?? '-'),
    cell(d.revision),
    cell(d.status),
    standing(d),
  ]
}

function deviceLine(d: DeviceRecord): string {
  return table([deviceRow(d)], DEVICE_HEAD)
}

interface InstallOpts extends ConnectFlags {
  device?: string
  name?: string
  commit?: boolean
  dryRun?: boolean
  message?: string
  timeout?: number
  ignoreSpace?: boolean
  poll?: number
  settle?: number
  stall?: number
  replaceState?: boolean
  compose?: boolean
}

interface Target {
  driver: DeviceDriver
  deviceId: string
  ssh: PlanSsh | null
}

async function target(ctx: CommandContext<InstallOpts>, app: App, store: DeviceStore): Promise<Target> {
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
  const co = connectOptions(ctx)
  let ssh: PlanSsh | null = null
  const driver = deviceDriver(
    res,
    {
      ...co,
      onSshChoice: c => {
        ssh = { container: c.container, source: c.source, next: c.container, hostKey: null }
        co.onSshChoice?.(c)
      },
      onHostKey: k => {
        if (ssh !== null) ssh.hostKey = { type: k.type, fingerprint: k.fingerprint, pinned: k.pinned }
        co.onHostKey?.(k)
      },
      onSshLogin: e => {
        if (ssh !== null) ssh.next = e.next.container
        co.onSshLogin?.(e)
      },
      stallMs: (o.stall ?? 30) * 1000,
      pvrSdk: { settleMs: (o.settle ?? 60) * 1000, switchMs: Math.max(((o.timeout ?? 900) * 1000) / 3, (o.settle ?? 60) * 1000) },
    },
    app.home,
    store,
  )
  return {
    driver,
    deviceId: res.deviceId,
    get ssh() {
      return ssh
    },
  }
}

function render(ctx: CommandContext<InstallOpts>): (e: InstallEvent) => void {
  const bar = ctx.progress('upload', 'bytes')
  return e => {
    if (e.type === 'upload') {
      bar.update(e.bytes, e.totalBytes, `${e.index + 1}/${e.count}`)
      return
    }
    if (e.type === 'planned') return
    bar.stop()
    // Messages go to stderr in every mode (with --json, stdout holds only the result).
    // The final state is also the result line on stdout: printed once there without --json.
    // What the device said is shown escaped and cut (output.ts); JSON keeps it up to the drivers' caps.
    if (e.type === 'phase') {
      if (e.phase !== 'final' || ctx.json) ctx.note(terminalText(e.message, LINE_MAX))
    } else if (e.type === 'retry') ctx.note(`retrying ${e.what}: ${terminalText(e.reason, LINE_MAX)}`)
    else if (e.type === 'progress')
      ctx.note(`  ${terminalText(e.status, CELL_MAX)}${e.progress === null ? '' : ` ${e.progress}%`} ${terminalText(e.statusMsg)}`)
  }
}

/** What composing a package onto the device's running state changes, for the plan. */
function compositionLines(p: InstallPlan): string[] {
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
    ...(sig?.broken.map(b => `    BROKEN by the composition: ${terminalText(b.key, CELL_MAX)}: ${terminalText(b.message, LINE_MAX)}`) ?? []),
    ...c.warnings.map(w => `    warning: ${terminalText(w, LINE_MAX)}`),
  ]
}

/** Bytes sent at their rate over the upload alone, and the device's run with its own time. */
function sentText(r: InstallResult): string {
  const run = `the device's run ${Math.max(0, Math.round((r.seconds - r.uploadSeconds) * 10) / 10)} s`
  if (r.bytesSent === 0) return `nothing sent; ${run}`
  const speed = r.uploadSeconds > 0 ? ` (${formatBytes(r.bytesSent / r.uploadSeconds)}/s)` : ''
  return `sent ${r.objectsSent} objects, ${formatBytes(r.bytesSent)} in ${r.uploadSeconds} s${speed}; ${run}`
}

function planText(p: InstallPlan): string {
  return [
    `plan: ${p.revision.name} (${p.revision.id.slice(0, 12)}) to ${p.device} via ${p.via} as ${p.step}`,
    ...compositionLines(p),
    `  send ${p.objectsToSend} of ${p.objectsTotal} objects, ${formatBytes(p.bytesToSend)}; device free: ${formatBytes(p.freeBytes)}`,
    `  the device runs ${p.alreadyRunning === true ? 'this revision already' : p.alreadyRunning === false ? 'another revision' : `a revision ${p.via} does not tell`}`,
    `  ${p.bytesToSend === 0 ? 'no transfer: nothing to send' : `upload about ${p.uploadSeconds} s`}; then the device's run, about ${p.runSeconds} s`,
    `  commit: ${p.commit.possible ? 'possible' : 'NOT possible'} through ${p.via}: ${p.commit.reason}`,
    ...(p.ssh == null
      ? []
      : [
          `  SSH: logged in as ${terminalText(p.ssh.container, CELL_MAX)} (${p.ssh.source})${p.ssh.hostKey === null ? '' : `; host key ${terminalText(p.ssh.hostKey.type, CELL_MAX)} ${p.ssh.hostKey.fingerprint}${p.ssh.hostKey.pinned === 'new' ? ', pinned now (first use)' : ', as pinned'}`}${p.ssh.next !== p.ssh.container ? `; next time as ${terminalText(p.ssh.next, CELL_MAX)}` : ''}`,
        ]),
    ...p.problems.map(x => `  PROBLEM: ${x}`),
    ...(p.notes ?? []).map(x => `  note: ${x}`),
  ].join('\n')
}

export function register(program: Command, cli: Cli): void {
  const devices = program
    .command('devices')
    .description('find Pantavisor devices on the LAN (mDNS like pv-avahi, and addresses you name)')
    .option('--timeout <seconds>', 'how long to listen for mDNS answers', seconds, 3)
    .option(
      '--device <host[:port]|unix:path>',
      'also probe this address for pvr-sdk, SSH or a pv-ctrl socket (repeatable); nothing answering is an error',
      collect,
    )
    .option('--offline', 'keep a --device address where nothing answers, as an offline device')
    .option('--no-mdns', 'do not browse mDNS (only --device addresses)')
    .action(
      cli.action<{ timeout: number; device?: string[]; mdns?: boolean; offline?: boolean }>(async ctx => {
        const app = await ctx.app()
        const store = new DeviceStore(app.library.db)
        const discovery = new Discovery({ log: ctx.log })
        const seen = new Map<string, DeviceInfo>()
        const keep = (d: DeviceInfo, how: string): void => {
          store.upsert(d)
          seen.set(d.deviceId, d)
          const rec = store.get(d.deviceId)
          ctx.note(
            `${how} ${cell(rec === undefined ? d.name : deviceLabel(rec))} (${d.registered === false ? 'not registered, ' : ''}${cell(d.deviceId)})${d.addrs.length > 0 ? ` at ${cell(d.addrs.join(', '))}` : ''}`,
          )
        }
        const unreachable: Error[] = []
        const probes = (ctx.opts.device ?? []).map(async a => {
          try {
            const p = await probeDevice(a, { discovery, signal: ctx.signal, offline: ctx.opts.offline === true })
            keep(
              p.device,
              p.answered.length === 0 ? 'nothing answered; added offline:' : `found (${p.answered.map(x => terminalText(x, LINE_MAX)).join('; ')}):`,
            )
          } catch (err) {
            if (!isCode(err, ErrorCodes.DeviceUnreachable)) throw err
            unreachable.push(err as Error)
          }
        })
        const browsing =
          ctx.opts.mdns === false
            ? Promise.resolve()
            : discovery.browse({
                timeoutMs: ctx.opts.timeout * 1000,
                mdns: true,
                signal: ctx.signal,
                onDevice: d => {
                  keep(d, 'found')
                },
              })
        await Promise.all([...probes, browsing])
        if (unreachable.length > 0) {
          // Nothing that answered is lost: it is stored and listed above; the exit status says an address did not answer.
          if (unreachable.length === 1) throw unreachable[0]
          throw new DeviceUnreachableError(unreachable.map(e => e.message).join('\n'), { devices: unreachable.length })
        }
        // As stored: with the technician's alias and tags, and no bare IP for a name.
        const list = [...seen.values()].map(d => store.get(d.deviceId)).filter((d): d is DeviceRecord => d !== undefined)
        return {
          json: list.map(publicDevice),
          text: list.length === 0 ? 'no devices answered (multicast blocked? name one with --device ADDRESS)' : table(list.map(deviceRow), DEVICE_HEAD),
        }
      }),
    )

  devices
    .command('show <device>')
    .description("a device's details and its install history")
    .action(
      cli.action(async (ctx, ref: string) => {
        const app = await ctx.app()
        const store = new DeviceStore(app.library.db)
        const { deviceId: id, record: rec } = historyDevice(store, ref)
        const installs = store.installs(id)
        if (rec === undefined && installs.length === 0) throw new NotFoundError(`${ref}: no device or install history by that id, name or address`)
        const rows = installs.map(i => [
          new Date(i.startedAt).toISOString().replace(/\.\d+Z$/, 'Z'),
          i.revisionName ?? i.revisionId.slice(0, 12),
          i.step ?? '-',
          i.via,
          cell(i.status),
          formatBytes(i.bytesSent),
          terminalText(i.statusMsg ?? '', 80),
        ])
        const head = rec === undefined ? `device ${id} (not seen by discovery)` : deviceLine(rec)
        const mem = store.sshLogin(id)
        const next = chooseSshLogin({ remembered: mem.container, mgmt: mem.mgmt })
        const ssh = { container: next.container, source: next.source, chosen: mem.container, mgmt: mem.mgmt }
        const sshLine =
          `SSH login: ${terminalText(next.container, CELL_MAX)} (${next.source === 'state' ? 'the management container of the state it ran' : next.source === 'setting' ? 'your choice' : 'pvr-sdk, nothing else known'})` +
          (mem.mgmt === null
            ? ''
            : `; management role in its state: ${mem.mgmt.length === 0 ? 'none' : mem.mgmt.map(m => terminalText(m, CELL_MAX)).join(', ')}`)
        return {
          json: { device: rec === undefined ? null : publicDevice(rec), ssh, installs },
          text: [
            head,
            sshLine,
            '',
            installs.length === 0 ? 'no installs recorded' : table(rows, ['WHEN', 'REVISION', 'STEP', 'VIA', 'STATUS', 'SENT', 'MESSAGE']),
          ].join('\n'),
        }
      }),
    )

  const install = program
    .command('install <rev>')
    .description(
      'install a revision onto a device: only the objects it lacks, then step locals/NAME, run, and follow its progress; a package (no BSP) is composed onto what the device runs, as pvtx does',
    )
    .requiredOption('--device <device>', 'device id, name, address (host or host:port), or unix:<pv-ctrl socket>')
  addConnectOptions(install, 'how to reach it (default: pv-ctrl for unix:<socket>, ssh when SSH credentials are given, else pvr-sdk)')
  install
    .option('--name <name>', 'step name: locals/NAME (default: from the revision name and id)')
    .option('--commit', 'LOCAL_RUN_COMMIT: run then reboot, so that the revision becomes a rollback point (ssh and pv-ctrl only)')
    .option('--dry-run', 'stop after the preflight and print the plan')
    .option('--replace-state', "send the revision as the device's whole state (refused for a package: one without a BSP)")
    .option('--compose', 'compose the revision onto what the device runs even though it has a BSP (a BSP update package); a revision without a BSP always is')
    .option('-m, --message <text>', 'commit message (at most 256 bytes)')
    .option('--timeout <seconds>', 'give up following the progress after this long', seconds, 900)
    .option('--ignore-space', 'send even if the device reports too little free space')
    .option(
      '--stall <seconds>',
      'give up on a request that makes no progress this long: an upload the device stops taking, an answer that never comes',
      seconds,
      30,
    )
    .option(
      '--settle <seconds>',
      "pvr-sdk, which does not tell the device's progress: how long the device must run the revision before the install ends RUNNING",
      seconds,
      60,
    )
    .addOption(new Option('--poll <ms>', 'progress poll interval').argParser(Number).default(1000).hideHelp())
    .action(
      cli.action<InstallOpts>(async (ctx, rev: string) => {
        const app = await ctx.app()
        const store = new DeviceStore(app.library.db)
        const tg = await target(ctx, app, store)
        const { driver, deviceId } = tg
        const installer = new Installer({ library: app.library, devices: store, log: ctx.log, trust: await app.trustStore() })
        const t0 = Date.now()
        let res: InstallResult | InstallPlan
        try {
          res = await installer.install({
            rev,
            driver,
            deviceId,
            name: ctx.opts.name,
            commit: ctx.opts.commit === true,
            dryRun: ctx.opts.dryRun === true,
            message: ctx.opts.message,
            timeoutMs: (ctx.opts.timeout ?? 900) * 1000,
            ignoreSpace: ctx.opts.ignoreSpace === true,
            replaceState: ctx.opts.replaceState === true,
            compose: ctx.opts.compose === true,
            pollMs: ctx.opts.poll,
            signal: ctx.signal,
            onEvent: render(ctx),
          })
        } catch (err) {
          const d = (err as { details?: Record<string, unknown> }).details
          if (d?.step === undefined) throw err
          // The install had started: report what was sent, the error, and fail.
          const w = toWireError(err)
          ctx.note(`fieldsync: ${terminalText(w.message, LINE_MAX)}`)
          const out = {
            device: deviceId,
            revision: rev,
            step: d.step,
            status: w.code === 'E_TIMEOUT' ? 'TIMEOUT' : 'FAILED',
            statusMsg: w.message,
            bytesSent: d.bytesSent ?? 0,
            objectsSent: d.objectsSent ?? 0,
            seconds: Math.round((Date.now() - t0) / 100) / 10,
            error: { code: w.code, message: w.message },
          }
          return { json: out, text: `${out.status}: ${terminalText(w.message, LINE_MAX)}`, exitCode: 1 }
        }
        if (!('status' in res)) {
          const plan = { ...res, ssh: tg.ssh }
          return { json: plan, text: planText(plan) }
        }
        const ok = installSucceeded(res.status)
        return {
          json: res,
          text: `${res.step}: ${terminalText(res.status, CELL_MAX)} (${terminalText(res.statusMsg)}); ${sentText(res)}`,
          exitCode: ok ? 0 : 1,
        }
      }),
    )

  registerDeviceLabels(devices, cli)
  registerDeviceSim(program, cli)
}
