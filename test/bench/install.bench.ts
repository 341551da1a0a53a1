/**
 * Installing a revision with ~300 MB of new objects (real squashfs images)
 * into the device simulator over loopback, beside `curl -T` of the same
 * bytes to the same simulator in the same run:
 *  - pvr-sdk: Fieldsync's upload phase vs `curl -T` of each object to the
 *    same HTTP PUT endpoint (goal: curl time / Fieldsync time >= 0.9);
 *  - ssh (as root, with sshd): Fieldsync's upload phase vs `ssh ... curl -T -
 *    --unix-socket` of each object through the same sshd (same goal).
 * Then the bytes sent for a second revision that shares all but one object
 * (goal: only the changed object). A fresh simulator per run; median of
 * BENCH_RUNS (3).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../shared/log.js'
import { App } from '../../main/app/index.js'
import { DeviceStore, Installer, KnownDevices, PvrSdkDriver, SshDriver, type DeviceDriver, type InstallEvent } from '../../main/devices/index.js'
import { cliBin } from '../helpers/paths.js'
import { makeSquashfs } from '../helpers/revisions.js'
import { simFactory, sshdProblem, startSshd } from '../integration/devices-harness.js'
import { median, mbps, report, timeCmd, verdict } from './lib.js'

const MB = 1 << 20
const SIZES = (process.env.BENCH_INSTALL_MB ?? '128,96,80').split(',').map(Number)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

interface Sim {
  child: ChildProcess
  socket: string
  pvr: string
}
interface Sq {
  path: string
  sha: string
  size: number
}

async function startSim(dir: string): Promise<Sim> {
  const child = spawn(
    process.execPath,
    [cliBin, '--json', 'device-sim', '--dir', dir, '--no-mdns', '--fast', '--outcome', 'updated', '--http', '127.0.0.1:0'],
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
  const info = JSON.parse(line) as { socket: string; pvr: string }
  return { child, socket: info.socket, pvr: info.pvr }
}

async function stopSim(s: Sim, dir: string): Promise<void> {
  s.child.kill('SIGTERM')
  await new Promise(resolve => s.child.once('exit', resolve))
  await rm(dir, { recursive: true, force: true })
}

/** The upload phase of an install (from 'upload' to 'step'), and the bytes sent. */
async function fieldsync(installer: Installer, driver: DeviceDriver, rev: string): Promise<{ upload: number; total: number; bytes: number }> {
  let t0 = 0
  let t1 = 0
  const start = process.hrtime.bigint()
  const res = await installer.install({
    rev,
    driver,
    deviceId: 'bench',
    signal: new AbortController().signal,
    pollMs: 20,
    onEvent: (e: InstallEvent) => {
      if (e.type !== 'phase') return
      if (e.phase === 'upload') t0 = performance.now()
      if (e.phase === 'step') t1 = performance.now()
    },
  })
  if (!('status' in res) || res.status !== 'UPDATED') throw new Error(`install ended ${JSON.stringify(res)}`)
  return { upload: (t1 - t0) / 1000, total: Number(process.hrtime.bigint() - start) / 1e9, bytes: res.bytesSent }
}

async function main(): Promise<void> {
  const work = join(process.env.BENCH_DIR ?? tmpdir(), `fieldsync-bench-install-${process.pid}`)
  await mkdir(work, { recursive: true })
  const apps: App[] = []
  try {
    const objs: Sq[] = []
    for (let i = 0; i < SIZES.length; i++) objs.push(await makeSquashfs(work, `c${i}`, SIZES[i] * MB, `install-bench-${i}`))
    const changed = await makeSquashfs(work, 'changed', 16 * MB, 'install-bench-changed')
    // The simulator's own BSP (on the device already, so it adds no bytes): a device runs only full revisions.
    const factory = simFactory()
    const bsp = Object.fromEntries(Object.entries(JSON.parse(factory.json.toString()) as Record<string, unknown>).filter(([k]) => k.startsWith('bsp/')))
    const stateOf = (roots: readonly Sq[]): Record<string, unknown> => {
      const s: Record<string, unknown> = { '#spec': 'pantavisor-service-system@1', ...bsp }
      roots.forEach((o, i) => {
        s[`c${i}/run.json`] = {
          '#spec': 'service-manifest-run@1',
          config: 'lxc.container.conf',
          name: `c${i}`,
          'root-volume': 'root.squashfs',
          type: 'lxc',
          volumes: [],
        }
        s[`c${i}/root.squashfs`] = o.sha
        s[`c${i}/lxc.container.conf`] = roots[roots.length - 1].sha
      })
      return s
    }
    const home = join(work, 'home')
    const app = new App({ home, log: silentLogger() })
    apps.push(app)
    await app.start()
    for (const [name, roots] of [
      ['bench', objs],
      ['bench2', [...objs.slice(0, -1), changed]],
    ] as const) {
      const src = join(work, `src-${name}`)
      await mkdir(join(src, 'objects'), { recursive: true })
      await writeFile(join(src, 'json'), JSON.stringify(stateOf(roots)))
      for (const o of roots) await rename(o.path, join(src, 'objects', o.sha)).catch(() => {})
      for (const o of factory.objects) if (Object.values(bsp).includes(o.sha)) await writeFile(join(src, 'objects', o.sha), o.data)
      await app.importer.importPath(src, { name })
      await rm(src, { recursive: true, force: true })
    }
    const files = objs.map(o => ({ path: join(home, 'objects', o.sha), sha: o.sha }))
    const bytes = objs.reduce((a, o) => a + o.size, 0)
    const installer = new Installer({ library: app.library, devices: new DeviceStore(app.library.db), log: silentLogger() })
    const rows: Array<[string, string]> = []
    const tF: number[] = []
    const tFtotal: number[] = []
    const tC: number[] = []
    for (let r = 0; r < RUNS; r++) {
      const d1 = join(work, `dev-f${r}`)
      const s1 = await startSim(d1)
      const f = await fieldsync(installer, new PvrSdkDriver(s1.pvr), 'bench')
      if (f.bytes !== bytes) throw new Error(`sent ${f.bytes}, expected ${bytes}`)
      tF.push(f.upload)
      tFtotal.push(f.total)
      await stopSim(s1, d1)
      const d2 = join(work, `dev-c${r}`)
      const s2 = await startSim(d2)
      const args = files.flatMap(o => ['-X', 'PUT', '-T', o.path, `${s2.pvr}/objects/${o.sha}`, '-o', '/dev/null'])
      tC.push((await timeCmd('curl', ['-s', '-S', '-f', ...args])).seconds)
      await stopSim(s2, d2)
    }
    const f = median(tF)
    const c = median(tC)
    rows.push(['pvr-sdk: fieldsync upload phase', `${f.toFixed(2)} s  ${mbps(bytes, f)}`])
    rows.push(['pvr-sdk: whole install (preflight, upload, step, run to UPDATED with --fast)', `${median(tFtotal).toFixed(2)} s`])
    rows.push(['pvr-sdk: curl -T of the same objects, same endpoint', `${c.toFixed(2)} s  ${mbps(bytes, c)}`])
    rows.push(['pvr-sdk: curl / fieldsync', `${(c / f).toFixed(2)}x  (goal >= 0.9x: ${verdict(c / f >= 0.9)})`])

    const why = sshdProblem()
    if (why === null) {
      const sshd = await startSshd({ after: () => {} }, join(work, 'sshd'))
      const sF: number[] = []
      const sC: number[] = []
      for (let r = 0; r < RUNS; r++) {
        const d1 = join(work, `dev-sf${r}`)
        const s1 = await startSim(d1)
        const drv = new SshDriver({
          host: '127.0.0.1',
          port: sshd.port,
          username: 'root',
          privateKeyFile: sshd.key,
          socket: s1.socket,
          known: new KnownDevices(join(work, 'known_devices')),
        })
        sF.push((await fieldsync(installer, drv, 'bench')).upload)
        await stopSim(s1, d1)
        const d2 = join(work, `dev-sc${r}`)
        const s2 = await startSim(d2)
        const script = files
          .map(
            o =>
              `ssh -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i ${sshd.key} -p ${sshd.port} root@127.0.0.1 "curl -s -S -f -X PUT -H 'Content-Length: $(stat -c %s ${o.path})' -T - --unix-socket ${s2.socket} http://localhost/objects/${o.sha}" < ${o.path}`,
          )
          .join(' && ')
        sC.push((await timeCmd('sh', ['-c', script])).seconds)
        await stopSim(s2, d2)
      }
      const sf = median(sF)
      const sc = median(sC)
      rows.push(['ssh: fieldsync upload phase (ssh2 + curl on the device)', `${sf.toFixed(2)} s  ${mbps(bytes, sf)}`])
      rows.push(['ssh: ssh ... curl -T - of the same objects, same sshd', `${sc.toFixed(2)} s  ${mbps(bytes, sc)}`])
      rows.push(['ssh: openssh / fieldsync', `${(sc / sf).toFixed(2)}x  (goal >= 0.9x: ${verdict(sc / sf >= 0.9)})`])
      await new Promise<void>(resolve => {
        execFile('sh', ['-c', `kill $(cat ${join(work, 'sshd', 'sshd.pid')})`], () => {
          resolve()
        })
      })
    } else {
      rows.push(['ssh', `skipped: ${why}`])
    }

    const d = join(work, 'dev-second')
    const s = await startSim(d)
    await fieldsync(installer, new PvrSdkDriver(s.pvr), 'bench')
    const second = await fieldsync(installer, new PvrSdkDriver(s.pvr), 'bench2')
    await stopSim(s, d)
    rows.push([
      'second revision (one of its objects changed)',
      `sent ${second.bytes} bytes; the changed object is ${changed.size} bytes (goal: only it: ${verdict(second.bytes === changed.size)})`,
    ])
    report(`install of a ${(bytes / MB).toFixed(0)} MiB revision (${objs.length} squashfs objects) into the simulator over loopback; median of ${RUNS}`, rows)
  } finally {
    for (const a of apps) await a.stop()
    await rm(work, { recursive: true, force: true })
  }
}

await main()
