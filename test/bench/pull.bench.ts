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
const bareJs = join(repoRoot, 'dist/test/bench/pull-bare.js')

function firstLine (p: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    p.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); const i = out.indexOf('\n'); if (i >= 0) resolve(out.slice(0, i)) })
    p.once('exit', c => { reject(new Error(`exited ${c}: ${err.slice(-1000)}`)) })
  })
}

/** Peak RSS (VmHWM) of a live process, in MB. */
async function peakRss (pid: number | undefined): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const m = /VmHWM:\s+(\d+) kB/.exec(s)
  return m === null ? NaN : Number(m[1]) / 1024
}

/** Children of `pid` (ip netns exec execs, so the pid is the node's). */
async function serveIn (home: string, args: string[], ns?: { lan: BenchLan, ns: string }): Promise<{ p: ChildProcess, info: { peerId: string, addrs: string[] } }> {
  const argv = [process.execPath, cliBin, '--home', home, 'serve', '--no-mdns', '--json', ...args]
  const p = ns !== undefined ? ns.lan.spawn(ns.ns, argv) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  return { p, info: JSON.parse(await firstLine(p)) }
}

async function stop (p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return
  const done = new Promise(resolve => p.once('exit', resolve))
  p.kill('SIGTERM')
  await done
}

async function loopbackPull (dir: string, seeder: string, puller: string, total: number): Promise<{ rows: Array<[string, string]>, rate: number, rss: number[] }> {
  const s = await serveIn(seeder, ['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const t = await timeCmd(process.execPath, [cliBin, '--home', puller, 'pull', 'bench', '--no-mdns', '--peer', s.info.addrs[0], '--json'], { rss: true })
    const res = JSON.parse(t.stdout) as { bytes: number, seconds: number }
    if (res.bytes !== total) throw new Error(`pulled ${res.bytes} bytes, expected ${total}`)
    const seedRss = await peakRss(s.p.pid)
    const pullRss = (t.maxRssKb ?? NaN) / 1024
    return {
      rate: res.bytes / res.seconds,
      rss: [pullRss, seedRss],
      rows: [
        ['fieldsync pull (transfer)', `${mbps(res.bytes, res.seconds)}  (${(res.bytes / MiB).toFixed(0)} MiB in ${res.seconds.toFixed(2)} s)`],
        ['fieldsync pull (whole command)', `${mbps(res.bytes, t.seconds)}  (${t.seconds.toFixed(2)} s, process start and node start included)`],
      ],
    }
  } finally { await stop(s.p) }
}

async function bareStream (home: string, files: string[]): Promise<number> {
  const r = spawn(process.execPath, [bareJs, 'recv', home], { stdio: ['ignore', 'pipe', 'pipe'] })
  const addr = await firstLine(r)
  const lines: string[] = []
  r.stdout!.on('data', (d: Buffer) => { lines.push(...d.toString().split('\n').filter(Boolean)) })
  const t = await timeCmd(process.execPath, [bareJs, 'send', home, addr, ...files])
  const [bytes, secs] = t.stdout.trim().split(' ').map(Number)
  await new Promise(resolve => r.once('exit', resolve))
  return bytes / secs
}

async function rsyncSsh (dir: string, src: string, total: number): Promise<number | string> {
  const d = join(dir, 'ssh')
  await mkdir(d, { recursive: true })
  try { execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'host')]); execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'user')]) } catch { return 'ssh-keygen failed' }
  await writeFile(join(d, 'authorized_keys'), await readFile(join(d, 'user.pub')))
  await chmod(join(d, 'authorized_keys'), 0o600)
  const port = 20000 + Math.floor(Math.random() * 20000)
  await writeFile(join(d, 'sshd_config'), [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(d, 'host')}`, `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
    'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'PermitRootLogin yes', `PidFile ${join(d, 'pid')}`, 'Subsystem sftp internal-sftp', ''].join('\n'))
  await mkdir('/run/sshd', { recursive: true }).catch(() => {})
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(d, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  try {
    await new Promise(resolve => setTimeout(resolve, 500))
    const user = process.env.USER ?? 'root'
    const dst = join(dir, 'rsync-dst')
    const ssh = `ssh -p ${port} -i ${join(d, 'user')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`
    const t = await timeCmd('rsync', ['-a', '--whole-file', '-e', ssh, src + '/', `${user}@127.0.0.1:${dst}/`])
    return total / t.seconds
  } finally { sshd.kill('SIGTERM') }
}

async function seeders (dir: string): Promise<Array<[string, string]>> {
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
      p.stdout!.on('data', (d: Buffer) => { out += d.toString() })
      await new Promise(resolve => p.once('exit', resolve))
      return JSON.parse(out) as { bytes: number, seconds: number, fromPeers: Record<string, number> }
    }
    const one = await pull(homes[3], addrs.slice(0, 1))
    const three = await pull(homes[4], addrs)
    const speedup = (three.bytes / three.seconds) / (one.bytes / one.seconds)
    const shares = Object.values(three.fromPeers).map(b => `${(b / MiB).toFixed(0)}`).join(' + ')
    return [
      [`1 seeder (link ${LINK})`, `${mbps(one.bytes, one.seconds)}  (${one.seconds.toFixed(2)} s)`],
      [`3 seeders (each ${LINK})`, `${mbps(three.bytes, three.seconds)}  (${three.seconds.toFixed(2)} s; MiB per seeder ${shares})`],
      ['speed-up', `${speedup.toFixed(2)}x  (goal >= 2.5x: ${verdict(speedup >= 2.5)})`],
    ]
  } finally { lan.destroy() }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fieldsync-bench-pull-'))
  try {
    const [a, b, bare] = await teamHomes(dir, 3)
    const rev = await makeRevision(join(dir, 'src'), 'bench', Math.round(PULL_MIB * 0.75) * MiB, Math.round(PULL_MIB * 0.25) * MiB)
    await importRev(a, rev, 'bench')
    const objDir = join(a, 'objects')
    const files = (await readdir(objDir)).map(f => join(objDir, f))
    const pull = await loopbackPull(dir, a, b, rev.bytes)
    const ceiling = await bareStream(bare, files)
    const rsync = await rsyncSsh(dir, objDir, rev.bytes)
    const rows: Array<[string, string]> = [
      ...pull.rows,
      ['bare libp2p stream (same stack)', `${mbps(ceiling, 1)}`],
      ['pull / bare stream', `${(pull.rate / ceiling).toFixed(2)}x  (goal >= 0.9x: ${verdict(pull.rate / ceiling >= 0.9)})`],
      ['rsync over ssh (localhost)', typeof rsync === 'string' ? `skipped: ${rsync}` : mbps(rsync, 1)],
      ...(typeof rsync === 'string' ? [] : [['pull / rsync', `${(pull.rate / rsync).toFixed(2)}x  (goal >= 1.0x: ${verdict(pull.rate / rsync >= 1)})`] as [string, string]]),
      ['peak RSS: puller, seeder', `${pull.rss.map(r => r.toFixed(0)).join(' MB, ')} MB  (goal <= 200 MB: ${verdict(Math.max(...pull.rss) <= 200)})`],
      ...(await seeders(dir)),
    ]
    report(`pull ${(rev.bytes / MiB).toFixed(0)} MiB (${rev.objects.length} objects) between two processes on loopback`, rows)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
