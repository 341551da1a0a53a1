/** `fieldsync device-sim`: the Pantavisor device simulator (main/devices/sim). */
import { Option, type Command } from 'commander'
import { UsageError } from '../../../shared/errors.js'
import { isPolicyMode } from '../../trust/index.js'
import type { Cli } from '../cli.js'

function bytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?B?|B)?$/i.exec(v.trim())
  if (m === null) throw new UsageError(`${v}: a size in bytes, e.g. 500000000 or 512MiB`)
  const unit = (m[2] ?? '').toUpperCase().replace(/I?B$/, '')
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit] ?? 1
  return Math.floor(Number(m[1]) * mult)
}

function count(v: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${v}: a whole number`)
  return n
}

interface SimOpts {
  dir: string
  socket?: string
  http?: string
  noHttp?: boolean
  storage?: number
  outcome?: string
  name?: string
  fast?: boolean
  timing?: string
  mdns?: boolean
  sshPort?: number
  secureboot?: string
  trustCa?: string
  gcThreshold?: number
  claimed?: boolean
  assumePvrSdkProgress?: boolean
  unregistered?: boolean
  mdnsDomain?: string
  factory?: string
  flakyUploads?: number
  cutAfter?: number
  busyCommands?: number
}

export function registerDeviceSim(program: Command, cli: Cli): void {
  program
    .command('device-sim')
    .description('run a simulated Pantavisor device: pv-ctrl on a Unix socket, pvr-sdk HTTP, mDNS like pv-avahi (for tests, training and demos)')
    .requiredOption('--dir <dir>', 'where the device keeps its objects and steps (its /storage)')
    .option('--socket <path>', 'pv-ctrl Unix socket (default: DIR/pv-ctrl)')
    .option('--http <host:port>', 'pvr-sdk HTTP address (default 127.0.0.1:12368)')
    .option('--no-http', 'no pvr-sdk HTTP server')
    .option('--storage <bytes>', 'storage capacity, e.g. 2GiB (default: the host file system)', bytes)
    .addOption(
      new Option(
        '--outcome <outcome>',
        'how runs end: auto (DONE after a reboot when the BSP or a platform that restarts the system changes, or with run-commit; else UPDATED), done, updated, error, wontgo',
      )
        .choices(['auto', 'done', 'updated', 'error', 'wontgo'])
        .default('auto'),
    )
    .option('--name <nick>', 'device nick (mDNS name)', 'pantavisor')
    .option('--fast', 'short delays (TESTING 0.5 s instead of 25 s) for tests')
    .addOption(
      new Option(
        '--timing <name=ms,...>',
        'test: set some delays by hand, over the default or --fast ones (pickup, inprogress, reboot, testing, rollback, gc-defer, loop, post, offer)',
      ).hideHelp(),
    )
    .option('--no-mdns', 'do not advertise on mDNS (always use this on a shared network or in tests)')
    .option('--ssh-port <port>', 'SSH port to advertise', count, 8222)
    .option('--secureboot <mode>', 'signature mode: disabled, lenient, strict, audit', 'lenient')
    .option('--trust-ca <pem>', 'CA bundle the device trusts for signatures instead of its stock one (the Pantavisor Dev CA); "none": trust no CA')
    .option('--gc-threshold <percent>', 'run the garbage collector when free space falls under this (0: never)', count, 0)
    .option('--claimed', 'behave as a claimed device (no challenge advertised)')
    .option(
      '--assume-pvr-sdk-progress',
      "ASSUMPTION, not stock pvr-sdk: also serve step-get-url and device-meta-url in .pvrremote (the device's progress and free space over HTTP)",
    )
    .option('--unregistered', 'a device that never registered with Pantahub: mDNS advertises an empty device-id and no challenge')
    .option('--mdns-domain <domain>', "mDNS domain to advertise in, as avahi's domain-name (default local)")
    .option(
      '--factory <file>',
      'revision 0 of a fresh device: a pvr export tarball (json + objects) or a state JSON (default: a small built-in BSP + pvr-sdk, objects included)',
    )
    .addOption(new Option('--flaky-uploads <n>', 'test: the next N object uploads arrive damaged (422)').argParser(count).hideHelp())
    .addOption(new Option('--cut-after <bytes>', 'test: drop the connection once after this many object bytes').argParser(bytes).hideHelp())
    .addOption(new Option('--busy-commands <n>', 'test: answer 503 to the next N run commands').argParser(count).hideHelp())
    .action(
      cli.action<SimOpts>(async ctx => {
        const o = ctx.opts
        if (o.secureboot !== undefined && !isPolicyMode(o.secureboot))
          throw new UsageError(`--secureboot ${o.secureboot}: use disabled, lenient, strict or audit`)
        const { DeviceSimulator, parseTiming, TIMING_HELP } = await import('../../devices/sim/index.js')
        const timing = o.timing === undefined ? undefined : parseTiming(o.timing)
        if (timing === null)
          throw new UsageError(`--timing ${o.timing ?? ''}: give name=ms pairs separated by commas (names: ${TIMING_HELP}), e.g. testing=3000`)
        const sim = new DeviceSimulator(
          { log: ctx.log },
          {
            dir: o.dir,
            socket: o.socket,
            http: (o.http as unknown) === false ? null : o.http,
            storageBytes: o.storage,
            outcome: o.outcome as 'auto',
            name: o.name,
            fast: o.fast === true,
            timing,
            mdns: o.mdns !== false,
            sshPort: o.sshPort,
            secureboot: o.secureboot as 'lenient',
            trustCa: o.trustCa,
            gcThreshold: o.gcThreshold,
            claimed: o.claimed === true,
            assumePvrSdkProgress: o.assumePvrSdkProgress === true,
            unregistered: o.unregistered === true,
            mdnsDomain: o.mdnsDomain,
            factory: o.factory,
            knobs: { flakyUploads: o.flakyUploads ?? 0, cutAfterBytes: o.cutAfter ?? null, busyCommands: o.busyCommands ?? 0 },
          },
        )
        const addr = await sim.start()
        const info = {
          socket: addr.socket,
          http: addr.http,
          pvr: sim.pvrUrl,
          deviceId: addr.deviceId,
          registered: addr.registered,
          name: addr.name,
          dir: o.dir,
        }
        if (ctx.json) process.stdout.write(JSON.stringify(info) + '\n')
        else {
          ctx.say(`device ${addr.name} (${addr.registered ? addr.deviceId : 'not registered'}) is up`)
          ctx.say(`pv-ctrl socket: ${addr.socket}`)
          ctx.say(`pvr-sdk http:   ${addr.http === null ? 'off' : `${addr.http}  (${sim.pvrUrl ?? ''})`}`)
          ctx.say(`try: SOCKET=${addr.socket} CURL_CMD=curl pvcontrol devmeta ls   (Ctrl-C stops the device)`)
        }
        await new Promise<void>(resolve => {
          if (ctx.signal.aborted) {
            resolve()
            return
          }
          ctx.signal.addEventListener(
            'abort',
            () => {
              resolve()
            },
            { once: true },
          )
        })
        await sim.stop()
        return undefined
      }),
    )
}
