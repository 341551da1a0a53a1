/**
 * Rollout benchmark (npm run bench -- rollout): one revision with ~100 MB of
 * new objects (real squashfs images) rolled out to 20 simulated devices
 * (device-sim --fast --no-mdns, pvr-sdk over loopback) with `fieldsync
 * rollout --parallel 4`, beside `curl -T` of the same objects to 20 fresh
 * devices, 4 at a time, in the same run. curl only uploads; the rollout
 * also plans, creates the step and follows each device to its final state.
 * The goal (>= 0.9x) is on the same work: curl's time / the rollout's upload
 * phase (its devices' upload times, from its --json, summed and divided by
 * the 4 at a time); the whole command's time (process start included) and
 * its ratio are printed beside it. So that
 * the comparison is of what the laptop does, not of how long a simulated
 * device takes to switch revisions, the devices run an update at once
 * (device-sim --timing pickup=0,inprogress=0,reboot=0,testing=0; with
 * plain --fast each device's own run adds about 0.7 s, with a real device
 * 10-30 s: BENCH_ROLLOUT_SIM="" measures that). Then the rollout's peak RSS
 * at 20 and at 100 devices (goal: <= 200 MB, and flat). Sizes:
 * BENCH_ROLLOUT_MB (default 48,32,20), BENCH_ROLLOUT_DEVICES (20),
 * BENCH_ROLLOUT_MANY (100; 0 skips the memory run).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App } from '../../main/app/index.js'
import { silentLogger } from '../../shared/log.js'
import { cliBin } from '../helpers/paths.js'
import { makeSquashfs } from '../helpers/revisions.js'
import { simFactory } from '../integration/devices-harness.js'
import { mbps, report, timeCmd, verdict } from './lib.js'

const MB = 1 << 20
const SIZES = (process.env.BENCH_ROLLOUT_MB ?? '48,32,20').split(',').map(Number)
const DEVICES = Number(process.env.BENCH_ROLLOUT_DEVICES ?? 20)
const MANY = Number(process.env.BENCH_ROLLOUT_MANY ?? 100)
const PARALLEL = 4
/** device-sim options on top of --fast: by default a device whose run after the upload takes no time. */
const SIM_ARGS = (process.env.BENCH_ROLLOUT_SIM ?? '--timing pickup=0,inprogress=0,reboot=0,testing=0').split(' ').filter(Boolean)

interface Sim {
  child: ChildProcess
  http: string
  pvr: string
}

async function startSim(dir: string): Promise<Sim> {
  await mkdir(dir, { recursive: true })
  const child = spawn(
    process.execPath,
    [cliBin, '--json', 'device-sim', '--dir', dir, '--no-mdns', '--fast', ...SIM_ARGS, '--assume-pvr-sdk-progress', '--http', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const i = out.indexOf('\n')
      if (i >= 0) resolve(out.slice(0, i))
    })
    child.on('exit', code => {
      reject(new Error(`device-sim exited ${String(code)}`))
    })
  })
  const info = JSON.parse(line) as { http: string; pvr: string }
  return { child, http: info.http, pvr: info.pvr }
}

async function fleet(dir: string, n: number): Promise<Sim[]> {
  const sims: Sim[] = []
  // A few at a time: 100 node processes starting at once would only measure the machine.
  for (let i = 0; i < n; i += 10)
    sims.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, async (_, j) => await startSim(join(dir, `d${i + j}`))))))
  return sims
}

async function stopFleet(sims: Sim[], dir: string): Promise<void> {
  await Promise.all(
    sims.map(async s => {
      s.child.kill('SIGTERM')
      await new Promise(resolve => s.child.once('exit', resolve))
    }),
  )
  await rm(dir, { recursive: true, force: true })
}

/** `fieldsync rollout` of `rev` to `sims` from `home`: its wall time and peak RSS. */
async function rollout(
  home: string,
  sims: Sim[],
  rev: string,
): Promise<{ seconds: number; rssMb: number; sent: number; read: number; perDevice: number; uploadPhase: number }> {
  const env = { FIELDSYNC_HOME: home }
  await timeCmd(process.execPath, [cliBin, 'devices', '--no-mdns', ...sims.flatMap(s => ['--device', s.http])], { env })
  const r = await timeCmd(
    process.execPath,
    [cliBin, '--json', 'rollout', rev, '--devices', sims.map(s => s.http).join(','), '--parallel', String(PARALLEL), '--poll', '50'],
    { env, rss: true },
  )
  const res = JSON.parse(r.stdout) as {
    summary: { succeeded: number; devices: number }
    devices: Array<{ bytesSent: number; seconds: number; uploadSeconds?: number }>
    reads?: { libraryBytes: number }
  }
  if (res.summary.succeeded !== sims.length) throw new Error(`rollout: ${JSON.stringify(res.summary)}`)
  const perDevice = res.devices.map(d => d.seconds).sort((a, b) => a - b)[Math.floor(res.devices.length / 2)]
  return {
    seconds: r.seconds,
    rssMb: (r.maxRssKb ?? 0) / 1024,
    sent: res.devices.reduce((a, d) => a + d.bytesSent, 0),
    read: res.reads?.libraryBytes ?? 0,
    perDevice,
    // The devices' uploads, K at a time: their upload times summed over K (what curl's run is, for the same devices).
    uploadPhase: res.devices.reduce((a, d) => a + (d.uploadSeconds ?? 0), 0) / PARALLEL,
  }
}

async function main(): Promise<void> {
  const work = join(process.env.BENCH_DIR ?? tmpdir(), `fieldsync-bench-rollout-${process.pid}`)
  await mkdir(work, { recursive: true })
  try {
    const objs = []
    for (let i = 0; i < SIZES.length; i++) objs.push(await makeSquashfs(work, `c${i}`, SIZES[i] * MB, `rollout-bench-${i}`))
    const conf = await makeSquashfs(work, 'conf', 4096, 'rollout-bench-conf')
    const bytes = objs.reduce((a, o) => a + o.size, 0) + conf.size
    // The simulator's own BSP (on every device already): only the containers are new, in the
    // `app` group (restart policy container), so the update needs no reboot, as an app update would.
    const factory = simFactory()
    const bsp = Object.fromEntries(Object.entries(JSON.parse(factory.json.toString()) as Record<string, unknown>).filter(([k]) => k.startsWith('bsp/')))
    const state: Record<string, unknown> = { '#spec': 'pantavisor-service-system@1', ...bsp }
    objs.forEach((o, i) => {
      state[`c${i}/run.json`] = {
        '#spec': 'service-manifest-run@1',
        config: 'lxc.container.conf',
        group: 'app',
        name: `c${i}`,
        'root-volume': 'root.squashfs',
        type: 'lxc',
        volumes: [],
      }
      state[`c${i}/root.squashfs`] = o.sha
      state[`c${i}/lxc.container.conf`] = conf.sha
    })
    const src = join(work, 'src')
    await mkdir(join(src, 'objects'), { recursive: true })
    await writeFile(join(src, 'json'), JSON.stringify(state))
    for (const o of [...objs, conf]) await rename(o.path, join(src, 'objects', o.sha))
    for (const o of factory.objects) if (Object.values(bsp).includes(o.sha)) await writeFile(join(src, 'objects', o.sha), o.data)
    const home = join(work, 'home')
    const app = new App({ home, log: silentLogger() })
    await app.start()
    try {
      await app.importer.importPath(src, { name: 'bench' })
    } finally {
      await app.stop()
    }
    const files = [...objs, conf].map(o => ({ path: join(src, 'objects', o.sha), sha: o.sha }))

    const rows: Array<[string, string]> = []
    const total = bytes * DEVICES
    const fDir = join(work, 'fleet-f')
    const fSims = await fleet(fDir, DEVICES)
    const f = await rollout(home, fSims, 'bench')
    await stopFleet(fSims, fDir)
    if (f.sent !== total) throw new Error(`rollout sent ${f.sent} bytes, expected ${total}`)

    const cDir = join(work, 'fleet-c')
    const cSims = await fleet(cDir, DEVICES)
    const perDevice = cSims.map(s => `curl -s -S -f ${files.map(o => `-X PUT -T ${o.path} ${s.pvr}/objects/${o.sha} -o /dev/null`).join(' ')}`)
    await writeFile(join(work, 'curl.list'), perDevice.join('\n') + '\n')
    const c = await timeCmd('sh', ['-c', `xargs -P ${PARALLEL} -I{} sh -c '{}' < ${join(work, 'curl.list')}`])
    await stopFleet(cSims, cDir)

    const run = SIM_ARGS.length === 0 ? "with --fast (each device's own run: about 0.7 s)" : `that run at once (${SIM_ARGS.join(' ')})`
    rows.push(['devices', `${DEVICES} simulated devices ${run}`])
    rows.push([
      `fieldsync rollout --parallel ${PARALLEL}: the whole command (plan, upload, step, each device followed to its final state)`,
      `${f.seconds.toFixed(2)} s  ${mbps(total, f.seconds)}  peak RSS ${f.rssMb.toFixed(0)} MB`,
    ])
    rows.push([`curl -T of the same objects, ${PARALLEL} devices at a time (the upload only)`, `${c.seconds.toFixed(2)} s  ${mbps(total, c.seconds)}`])
    rows.push([
      `the rollout's upload phase: its ${DEVICES} uploads' own times summed, / ${PARALLEL}`,
      `${f.uploadPhase.toFixed(2)} s  ${mbps(total, f.uploadPhase)}`,
    ])
    rows.push([
      "curl / the rollout's upload phase (the same work)",
      `${(c.seconds / f.uploadPhase).toFixed(2)}x  (goal >= 0.9x: ${verdict(c.seconds / f.uploadPhase >= 0.9)})`,
    ])
    rows.push(['curl / the whole rollout command', `${(c.seconds / f.seconds).toFixed(2)}x  (beside it: plan, step and following each device)`])
    rows.push(['one device in the rollout, median (plan excluded: upload, step, its run)', `${f.perDevice.toFixed(1)} s`])
    rows.push(['read from the library (shared reads per wave)', `${(f.read / MB).toFixed(0)} MiB for ${(f.sent / MB).toFixed(0)} MiB sent`])
    if (MANY > 0) {
      const mDir = join(work, 'fleet-m')
      const mSims = await fleet(mDir, MANY)
      const m = await rollout(home, mSims, 'bench')
      await stopFleet(mSims, mDir)
      rows.push([
        `peak RSS at ${DEVICES} and ${MANY} devices`,
        `${f.rssMb.toFixed(0)} MB, ${m.rssMb.toFixed(0)} MB  (goal <= 200 MB and flat: ${verdict(Math.max(f.rssMb, m.rssMb) <= 200 && m.rssMb <= f.rssMb * 1.25)})`,
      ])
    }
    report(`rollout of a ${(bytes / MB).toFixed(0)} MiB revision (${objs.length} squashfs objects) to ${DEVICES} simulated devices over loopback`, rows)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

await main()
