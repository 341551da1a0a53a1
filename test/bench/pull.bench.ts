/**
 * Pull benchmark (npm run bench pull): a ~1 GiB revision of real squashfs
 * images pulled between two `fieldsync` processes on loopback, beside, from
 * the same run: a bare libp2p stream over the same stack carrying the same
 * files (the ceiling; goal >= 0.9x), rsync over ssh to localhost (goal >=
 * 1.0x), 1 vs 3 seeders on tc-limited veth links (goal >= 2.5x), and the
 * peak RSS of each process (goal <= 200 MB). Sizes: BENCH_PULL_MIB (default
 * 1024), BENCH_SEEDERS_MIB (default 256), BENCH_LINK (default 200mbit).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliBin, repoRoot } from '../helpers/paths.js'
import { importRev, makeRevision, teamHomes } from '../integration/peers-harness.js'
import { mbps, report, timeCmd, verdict } from './lib.js'
import { BenchLan } from './pull-netns.js'

const MiB = 1 << 20
const PULL_MIB = Number(process.env.BENCH_PULL_MIB ?? 1024)
const SEED_MIB = Number(process.env.BENCH_SEEDERS_MIB ?? 256)
const LINK = process.env.BENCH_LINK ?? '200mbit'
/** Runs of each loopback measurement, interleaved (the machine is shared: the best run is the least disturbed). */
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
/** BENCH_ONLY=loopback or seeders runs one half. */
const ONLY = process.env.BENCH_ONLY
const bareJs = join(repoRoot, 'dist/test/bench/pull-bare.js')

function firstLine(p: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
    })
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const i = out.indexOf('\n')
      if (i >= 0) resolve(out.slice(0, i))
    })
    p.once('exit', c => {
      reject(new Error(`exited ${c}: ${err.slice(-1000)}`))
    })
  })
}

/** Peak RSS (VmHWM) of a live process, in MB. */
async function peakRss(pid: number | undefined): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const m = /VmHWM:\s+(\d+) kB/.exec(s)
  return m === null ? NaN : Number(m[1]) / 1024
}

/** Children of `pid` (ip netns exec execs, so the pid is the node's). */
async function serveIn(
  home: string,
  args: string[],
  ns?: { lan: BenchLan; ns: string },
): Promise<{ p: ChildProcess; info: { peerId: string; addrs: string[] } }> {
  const argv = [process.execPath, cliBin, '--home', home, 'serve', '--no-mdns', '--json', ...args]
  const p = ns !== undefined ? ns.lan.spawn(ns.ns, argv) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  return { p, info: JSON.parse(await firstLine(p)) }
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return
  const done = new Promise(resolve => p.once('exit', resolve))
  p.kill('SIGTERM')
  await done
}

interface PullRun {
  rate: number
  wallRate: number
  pullRss: number
  seedRss: number
}

/** One pull of the whole revision into a fresh library (same team) from a fresh seeder process. */
async function loopbackPull(seeder: string, puller: string, total: number): Promise<PullRun> {
  await rm(puller, { recursive: true, force: true })
  await mkdir(puller, { recursive: true })
  await writeFile(join(puller, 'team.json'), await readFile(join(seeder, 'team.json')))
  const s = await serveIn(seeder, ['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const t = await timeCmd(process.execPath, [cliBin, '--home', puller, 'pull', 'bench', '--no-mdns', '--peer', s.info.addrs[0], '--json'], { rss: true })
    const res = JSON.parse(t.stdout) as { bytes: number; seconds: number }
    if (res.bytes !== total) throw new Error(`pulled ${res.bytes} bytes, expected ${total}`)
    return { rate: res.bytes / res.seconds, wallRate: res.bytes / t.seconds, pullRss: (t.maxRssKb ?? NaN) / 1024, seedRss: await peakRss(s.p.pid) }
  } finally {
    await stop(s.p)
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
function spread(xs: number[]): string {
  return `best ${mbps(Math.max(...xs), 1)}, median ${mbps(median(xs), 1)} of ${xs.length}`
}

async function bareStream(home: string, files: string[]): Promise<number> {
  const r = spawn(process.execPath, [bareJs, 'recv', home], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise(resolve => r.once('exit', resolve))
  try {
    const addr = await firstLine(r)
    const t = await timeCmd(process.execPath, [bareJs, 'send', home, addr, ...files])
    const [bytes, secs] = t.stdout.trim().split(' ').map(Number)
    await exited
    return bytes / secs
  } finally {
    // The receiver exits by itself after a transfer; not after a failed one.
    if (r.exitCode === null) {
      r.kill('SIGKILL')
      await exited
    }
  }
}

async function rsyncSsh(dir: string, src: string, total: number): Promise<number | string> {
  const d = join(dir, 'ssh')
  await rm(d, { recursive: true, force: true })
  await mkdir(d, { recursive: true })
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'host')])
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'user')])
  } catch {
    return 'ssh-keygen failed'
  }
  await writeFile(join(d, 'authorized_keys'), await readFile(join(d, 'user.pub')))
  await chmod(join(d, 'authorized_keys'), 0o600)
  const port = 20000 + Math.floor(Math.random() * 20000)
  await writeFile(
    join(d, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(d, 'host')}`,
      `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'PermitRootLogin yes',
      `PidFile ${join(d, 'pid')}`,
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  )
  await mkdir('/run/sshd', { recursive: true }).catch(() => {})
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(d, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  try {
    await new Promise(resolve => setTimeout(resolve, 500))
    const user = process.env.USER ?? 'root'
    const dst = join(dir, 'rsync-dst')
    const ssh = `ssh -p ${port} -i ${join(d, 'user')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`
    const t = await timeCmd('rsync', ['-a', '--whole-file', '-e', ssh, src + '/', `${user}@127.0.0.1:${dst}/`])
    return total / t.seconds
  } finally {
    sshd.kill('SIGTERM')
  }
}

async function seeders(dir: string): Promise<Array<[string, string]>> {
  const why = BenchLan.available()
  if (why !== undefined) return [['1 vs 3 seeders', `skipped: ${why}`]]
  const homes = await teamHomes(join(dir, 'lan'), 5)
  const rev = await makeRevision(join(dir, 'lan-src'), 'seed', SEED_MIB * MiB)
  for (const h of homes.slice(0, 3)) await importRev(h, rev, 'bench')
  const lan = new BenchLan(3, LINK)
  try {
    const served = await Promise.all(lan.seeders.map((s, i) => serveIn(homes[i], ['--listen', `/ip4/${s.addr}/tcp/4001`], { lan, ns: s.ns })))
    const addrs = served.map(s => s.info.addrs[0])
    const pull = async (home: string, peers: string[]) => {
      const p = lan.spawn(lan.puller, [process.execPath, cliBin, '--home', home, 'pull', 'bench', '--no-mdns', ...peers.flatMap(a => ['--peer', a]), '--json'])
      let out = ''
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
      })
      await new Promise(resolve => p.once('exit', resolve))
      return JSON.parse(out) as { bytes: number; seconds: number; fromPeers: Record<string, number> }
    }
    const one = await pull(homes[3], addrs.slice(0, 1))
    const three = await pull(homes[4], addrs)
    const speedup = three.bytes / three.seconds / (one.bytes / one.seconds)
    const shares = Object.values(three.fromPeers)
      .map(b => `${(b / MiB).toFixed(0)}`)
      .join(' + ')
    return [
      [`1 seeder (link ${LINK})`, `${mbps(one.bytes, one.seconds)}  (${one.seconds.toFixed(2)} s)`],
      [`3 seeders (each ${LINK})`, `${mbps(three.bytes, three.seconds)}  (${three.seconds.toFixed(2)} s; MiB per seeder ${shares})`],
      ['speed-up', `${speedup.toFixed(2)}x  (goal >= 2.5x: ${verdict(speedup >= 2.5)})`],
    ]
  } finally {
    lan.destroy()
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fieldsync-bench-pull-'))
  try {
    if (ONLY === 'seeders') {
      report(`pull: 1 vs 3 seeders (${SEED_MIB} MiB)`, await seeders(dir))
      return
    }
    const [a, b, bare] = await teamHomes(dir, 3)
    const rev = await makeRevision(join(dir, 'src'), 'bench', Math.round(PULL_MIB * 0.75) * MiB, Math.round(PULL_MIB * 0.25) * MiB)
    await importRev(a, rev, 'bench')
    const objDir = join(a, 'objects')
    const files = (await readdir(objDir)).map(f => join(objDir, f))
    const pulls: PullRun[] = []
    const bares: number[] = []
    const rsyncs: number[] = []
    let rsyncSkip: string | undefined
    // sync before each measurement: none inherits the dirty pages of the one before.
    const sync = () => {
      execFileSync('sync')
    }
    for (let i = 0; i < RUNS; i++) {
      sync()
      pulls.push(await loopbackPull(a, b, rev.bytes))
      sync()
      bares.push(await bareStream(bare, files))
      sync()
      const r = await rsyncSsh(dir, objDir, rev.bytes)
      if (typeof r === 'string') rsyncSkip = r
      else rsyncs.push(r)
      await rm(join(dir, 'rsync-dst'), { recursive: true, force: true })
    }
    const pull = Math.max(...pulls.map(p => p.rate))
    const ceiling = Math.max(...bares)
    const rsync = rsyncs.length > 0 ? Math.max(...rsyncs) : undefined
    const rss = [Math.max(...pulls.map(p => p.pullRss)), Math.max(...pulls.map(p => p.seedRss))]
    const rows: Array<[string, string]> = [
      ['fieldsync pull (transfer)', spread(pulls.map(p => p.rate))],
      ['fieldsync pull (whole command)', `${spread(pulls.map(p => p.wallRate))}  (process and node start included)`],
      ['bare libp2p stream (same stack)', spread(bares)],
      ['pull / bare stream (best/best)', `${(pull / ceiling).toFixed(2)}x  (goal >= 0.9x: ${verdict(pull / ceiling >= 0.9)})`],
      ['rsync over ssh (localhost)', rsync === undefined ? `skipped: ${rsyncSkip ?? ''}` : spread(rsyncs)],
      ...(rsync === undefined
        ? []
        : [['pull / rsync (best/best)', `${(pull / rsync).toFixed(2)}x  (goal >= 1.0x: ${verdict(pull / rsync >= 1)})`] as [string, string]]),
      ['peak RSS: puller, seeder', `${rss.map(r => r.toFixed(0)).join(' MB, ')} MB  (goal <= 200 MB: ${verdict(Math.max(...rss) <= 200)})`],
      ...(ONLY === 'loopback' ? [] : await seeders(dir)),
    ]
    report(`pull ${(rev.bytes / MiB).toFixed(0)} MiB (${rev.objects.length} objects) between two processes on loopback`, rows)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
