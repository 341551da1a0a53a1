/**
 * Helpers for the device tests: the simulator as a real `fieldsync
 * device-sim` process (always --no-mdns, HTTP on 127.0.0.1 only), real
 * revisions with squashfs objects imported through the CLI, curl against the
 * pv-ctrl socket with pvcontrol's flags, and a real OpenSSH sshd on loopback
 * with its own host key and a temporary authorized key.
 */
import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { basename, dirname, join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { cliBin, vendoredUpstreamDir } from '../helpers/paths.js'
import { defaultFactory } from '../../main/devices/sim/factory.js'
import {
  buildState,
  composeFull,
  hasMksquashfs,
  makeSquashfs,
  readExport,
  smallObject,
  writeTarball,
  type ExportParts,
  type FullRevision,
  type TestObject,
} from '../helpers/revisions.js'

export interface Tctx {
  after: (fn: () => Promise<void>) => void
}

export { PVCONTROL } from '../helpers/upstream.js'
export const DEV_CA = join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')
export const WIFI_TGZ = join(vendoredUpstreamDir, 'pvwificonnect.tgz')

export function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export interface Sim {
  child: ChildProcess
  socket: string
  http: string
  pvr: string
  deviceId: string
  dir: string
  stderr: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Start `fieldsync device-sim --fast --no-mdns --http 127.0.0.1:0` with extra args; stopped after the test. */
export async function startSim(t: Tctx, dir: string, extra: string[] = [], opts: { fast?: boolean } = {}): Promise<Sim> {
  await mkdir(dir, { recursive: true })
  const fast = opts.fast === false ? [] : ['--fast']
  const child = spawn(process.execPath, [cliBin, '--json', 'device-sim', '--dir', dir, '--no-mdns', ...fast, '--http', '127.0.0.1:0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBUG: 'fieldsync:device-sim*' },
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
    if (err.length > 200_000) err = err.slice(-100_000)
  })
  const exited = new Promise<number | null>(resolve => {
    child.on('exit', code => {
      resolve(code)
    })
  })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const i = out.indexOf('\n')
      if (i >= 0) resolve(out.slice(0, i))
    })
    child.on('exit', code => {
      reject(new Error(`device-sim exited ${String(code)} before it was up: ${err}`))
    })
  })
  const info = JSON.parse(line) as { socket: string; http: string; pvr: string; deviceId: string }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return await exited
  }
  t.after(async () => {
    await stop()
  })
  return { child, ...info, dir, stderr: () => err, stop }
}

/** curl against the pv-ctrl socket with pvcontrol's flags; returns status and body. */
export function curl(sock: string, args: string[], input?: Buffer): Promise<{ status: number; body: string; code: number }> {
  return new Promise(resolve => {
    const child = execFile(
      'curl',
      ['-s', '-w', '\n%{http_code}', '--connect-timeout', '5', '--max-time', '240', ...args, '--unix-socket', sock],
      { encoding: 'buffer', maxBuffer: 64 << 20 },
      (e, out) => {
        const s = out.toString()
        const i = s.lastIndexOf('\n')
        resolve({ status: Number(s.slice(i + 1)), body: s.slice(0, Math.max(0, i)), code: e === null ? 0 : Number((e as { code?: number }).code ?? 1) })
      },
    )
    child.stdin?.end(input)
  })
}

export async function json<T = any>(sock: string, path: string): Promise<T> {
  const r = await curl(sock, ['-X', 'GET', `http://localhost${path}`])
  assert.equal(r.status, 200, `GET ${path}: ${r.status} ${r.body}`)
  return JSON.parse(r.body) as T
}

export async function deviceObjects(sock: string): Promise<Map<string, number>> {
  const list = await json<Array<{ sha256: string; size: string }>>(sock, '/objects')
  return new Map(list.map(o => [o.sha256, Number(o.size)]))
}

/** The simulator's built-in factory revision (revision 0 of every fresh simulated device, BSP included). */
export function simFactory(): ExportParts {
  const f = defaultFactory()
  return { json: f.json, objects: f.objects }
}

/** Objects on the device other than its built-in factory revision's: what installs sent. */
export async function sentObjects(sock: string): Promise<Map<string, number>> {
  const factory = new Set(simFactory().objects.map(o => o.sha))
  return new Map([...(await deviceObjects(sock))].filter(([sha]) => !factory.has(sha)))
}

/**
 * A full revision a device runs: the simulator's factory BSP with the
 * package `pkg` (an export tarball such as pvwificonnect.tgz) composed on
 * it, written as `<dir>/<name>.tgz`. Same BSP as the device: a non-reboot update.
 */
export async function fullRevisionOf(dir: string, pkg: string, name: string): Promise<FullRevision> {
  await mkdir(dir, { recursive: true })
  return await composeFull(join(dir, `${name}.tgz`), simFactory(), [await readExport(pkg)], { gzip: true })
}

export async function deviceSteps(sock: string): Promise<string[]> {
  return (await json<Array<{ name: string }>>(sock, '/steps')).map(s => s.name)
}

/**
 * Poll a JSON answer until `pred` holds or a deadline. Answers cut short are
 * polled again: a run that reboots the device closes pv-ctrl, and a request
 * in flight then gets the status line without its body, as on a real device
 * (curl exits non-zero: 18, 52 or 56).
 */
export async function waitJson<T>(sock: string, path: string, pred: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const r = await curl(sock, ['-X', 'GET', `http://localhost${path}`])
    if (r.status === 200 && r.code === 0) {
      const v = JSON.parse(r.body) as T
      if (pred(v)) return v
    }
    if (Date.now() > end) throw new Error(`${path}: no matching answer within ${ms} ms (last: ${r.status}, curl exit ${r.code}, ${r.body})`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Poll the step's progress until `pred` or a deadline. */
export async function waitProgress(sock: string, step: string, pred: (s: string) => boolean, ms = 15_000): Promise<{ status: string; 'status-msg': string }> {
  return await waitJson<{ status: string; 'status-msg': string }>(sock, `/steps/${step}/progress`, p => pred(p.status), ms)
}

export interface TestRev {
  tarball: string
  objects: TestObject[]
  bytes: number
  state: Record<string, unknown>
  raw: string
}

/**
 * A revision with real squashfs root file systems (mksquashfs), or random
 * bytes when squashfs-tools is missing: kernel, initrd, `containers` apps.
 */
export async function makeRev(dir: string, seed: string, roots: Array<{ name: string; bytes: number; seed?: string }>): Promise<TestRev> {
  await mkdir(dir, { recursive: true })
  const kernel = { ...(await smallObject(dir, `kernel-${seed}`, `kernel ${seed}\n`.repeat(200))), key: 'bsp/kernel.img' }
  const initrd = { ...(await smallObject(dir, `initrd-${seed}`, `initrd ${seed}\n`.repeat(100))), key: 'bsp/pantavisor' }
  const containers = []
  for (const r of roots) {
    const rs = r.seed ?? `${seed}-${r.name}`
    const root = hasMksquashfs()
      ? await makeSquashfs(dir, `root-${rs}`, r.bytes, rs)
      : await smallObject(dir, `root-${rs}`, rs.repeat(Math.ceil(r.bytes / rs.length)).slice(0, r.bytes))
    const conf = await smallObject(dir, `conf-${r.name}`, `lxc.uts.name = ${r.name}\n`)
    containers.push({ name: r.name, root: { ...root, key: `${r.name}/root.squashfs` }, config: { ...conf, key: `${r.name}/lxc.container.conf` } })
  }
  const state = buildState({ kernel, initrd, containers })
  const objects: TestObject[] = [kernel, initrd, ...containers.flatMap(c => [c.root, c.config])]
  const uniq = [...new Map(objects.map(o => [o.sha, o])).values()]
  const raw = JSON.stringify(state)
  const tarball = join(dir, `rev-${seed}.tar`)
  await writeTarball(tarball, raw, uniq)
  return { tarball, objects: uniq, bytes: uniq.reduce((n, o) => n + o.size, 0), state, raw }
}

export async function importRev(home: string, tarball: string, name: string): Promise<string> {
  const r = await runCli(['--json', 'import', tarball, '--name', name], { home })
  assert.equal(r.code, 0, r.stderr)
  return (r.json() as { id: string }).id
}

export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => {
    s.listen(0, '127.0.0.1', resolve)
  })
  const port = (s.address() as { port: number }).port
  await new Promise<void>(resolve => {
    s.close(() => {
      resolve()
    })
  })
  return port
}

export interface Sshd {
  port: number
  key: string
  user: string
  dir: string
}

/** Why sshd cannot run here, or null. */
export function sshdProblem(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to run sshd and log in'
  if (!existsSync('/usr/sbin/sshd')) return 'no /usr/sbin/sshd (apt-get install openssh-server)'
  if (!has('ssh-keygen')) return 'no ssh-keygen'
  return null
}

/**
 * The forced command of a Pantavisor device's SSH server, as upstream's
 * fallbear-cmd behaves (pantavisor debug.c starts dropbear with it;
 * fallbear-cmd is in the device kit's rootfs/usr/bin): the login name is the
 * container to enter; `_pv_` or `/` is Pantavisor's own namespace; any other
 * name gets "no container found: <name>" and exit 1. Each login name is
 * appended to <dir>/logins (sshLogins reads them). Here "entering" a
 * container runs the command in the sshd's namespace, where the test's
 * pv-ctrl socket is.
 */
function fallbearScript(containers: string[], behave: Record<string, string>, logins: string): string {
  return [
    '#!/bin/sh',
    `containers=' ${containers.join(' ')} '`,
    'target=$USER',
    `echo "$target" >> ${shq(logins)}`,
    ...Object.entries(behave).map(([name, cmd]) => `[ "$target" = ${shq(name)} ] && exec /bin/sh -c ${shq(cmd)}`),
    'case "$target" in',
    '  /|_pv_) ;;',
    '  *) case "$containers" in *" $target "*) ;; *) echo "no container found: $target" >&2; exit 1;; esac ;;',
    'esac',
    'if [ -z "$SSH_ORIGINAL_COMMAND" ]; then exec /bin/sh -l; fi',
    'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
    '',
  ].join('\n')
}

function shq(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`
}

/** The login names the fallbear-like sshd saw, in order (one per command run). */
export async function sshLogins(sshd: Sshd): Promise<string[]> {
  return (await readFile(join(sshd.dir, 'logins'), 'utf8').catch(() => '')).split('\n').filter(l => l !== '')
}

export interface SshdOptions {
  /**
   * Containers of the modelled device: sshd then runs in a mount namespace
   * of its own where these login names exist (and root), and every login
   * runs the fallbear-like forced command above. Without it, a plain sshd
   * where root logs in.
   */
  containers?: string[]
  /** Login names whose forced command runs this shell command instead (a hostile or broken device). */
  behave?: Record<string, string>
  /**
   * A pv-ctrl socket (the simulator's) that the containers see where a
   * device's management container does, /run/pantavisor/pv/pv-ctrl (the
   * first of pvcontrol's paths): a client then needs no socket option.
   * Needs `containers`; a tmpfs on /run in the sshd's own mount namespace.
   */
  pvCtrl?: string
}

/** A real OpenSSH sshd on 127.0.0.1: own host key, logins with a temporary key. */
export async function startSshd(t: Tctx, dir: string, o: SshdOptions = {}): Promise<Sshd> {
  await mkdir(dir, { recursive: true })
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')])
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')))
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const port = await freePort()
  const cfg = join(dir, 'sshd_config')
  const lines = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin yes',
    'UsePAM no',
    'LogLevel ERROR',
    'MaxSessions 50',
    'MaxStartups 50',
  ]
  let cmd = '/usr/sbin/sshd'
  let args = ['-D', '-e', '-f', cfg]
  if (o.containers !== undefined) {
    const script = join(dir, 'fallbear-cmd')
    await writeFile(script, fallbearScript(o.containers, o.behave ?? {}, join(dir, 'logins')), { mode: 0o755 })
    lines.push(`ForceCommand ${script}`)
    // Login names sshd can look up: the host's users plus one per container (uid 0, as on the device).
    const passwd = await readFile('/etc/passwd', 'utf8')
    const extra = ['_pv_', ...o.containers, ...Object.keys(o.behave ?? {})]
      .filter(n => !passwd.split('\n').some(l => l.startsWith(`${n}:`)))
      .map(n => `${n}:x:0:0:container ${n}:/root:/bin/sh`)
    await writeFile(join(dir, 'passwd'), passwd.replace(/\n?$/, '\n') + extra.join('\n') + '\n')
    cmd = 'unshare'
    // The socket's folder is bound, not the socket: a device (and the simulator) makes a new socket when it comes back up.
    if (o.pvCtrl !== undefined && basename(o.pvCtrl) !== 'pv-ctrl') throw new Error(`pvCtrl ${o.pvCtrl}: a socket named pv-ctrl`)
    const pv =
      o.pvCtrl === undefined
        ? ''
        : `mount -t tmpfs tmpfs /run && mkdir -p /run/sshd /run/mount /run/pantavisor/pv && mount --bind ${shq(dirname(o.pvCtrl))} /run/pantavisor/pv && `
    args = [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `${pv}mount --bind "$1" /etc/passwd && shift && exec "$@"`,
      'sh',
      join(dir, 'passwd'),
      '/usr/sbin/sshd',
      ...args,
    ]
  }
  await writeFile(cfg, lines.join('\n') + '\n')
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    }
  })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>(resolve => {
      const s = createServer()
      s.once('error', () => {
        resolve(true)
      })
      s.listen(port, '127.0.0.1', () => {
        s.close(() => {
          resolve(false)
        })
      })
    })
    if (up) break
    if (child.exitCode !== null) throw new Error(`sshd exited: ${err}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { port, key: join(dir, 'client_key'), user: o.containers === undefined ? 'root' : o.containers[0], dir }
}
