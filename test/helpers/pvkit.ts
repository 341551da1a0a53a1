/**
 * Real Pantavisor devices for tests: upstream Pantavisor built from its
 * source, run in appengine mode in namespaces by the device kit at
 * ../shared/pantavisor-device (its README says what is real and what is
 * stubbed). A test reaches a device's real pv-ctrl through the kit's relay
 * socket (`--device unix:<socket>`).
 *
 * The kit is upstream code: it is never copied into the repository. It is
 * run from a copy in a temporary folder, because the copy in ../shared has
 * lost what a plain file copy loses: symlinks became small text files
 * naming their target, and empty folders are gone. Both are put back here
 * (the empty storage and skeleton folders are the ones pantavisor's
 * CMakeLists.txt installs: boot, config, disks, objects, trails,
 * trails/0/.pv, trails/0/.pvr, and pvtx.extra.d).
 *
 * Without root, the kit or its Debian packages, kitProblem() says why; tests
 * then skip with that line, or fail under CI=true, where the kit is always
 * present and a skip would hide a regression.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './paths.js'

const pexec = promisify(execFile)

export const KIT_SRC = process.env.PVKIT_DIR ?? resolve(repoRoot, '../shared/pantavisor-device')

/** Debian packages the kit needs at run time (its apt-packages.txt). */
function missingPackages (): string[] {
  let list: string[] = []
  try {
    list = execFileSync('sh', ['-c', `grep -v '^#' ${JSON.stringify(join(KIT_SRC, 'apt-packages.txt'))}`]).toString().split(/\s+/).filter(Boolean)
  } catch { return ['(apt-packages.txt unreadable)'] }
  return list.filter(p => {
    try { return !execFileSync('dpkg-query', ['-W', '-f=${Status}', p], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().includes('install ok installed') } catch { return true }
  })
}

let problem: string | null | undefined

/** Why real devices cannot run here, or null. */
export function kitProblem (): string | null {
  if (problem !== undefined) return problem
  problem = null
  if (!existsSync(join(KIT_SRC, 'pv-device'))) problem = `no Pantavisor device kit at ${KIT_SRC}`
  else if (process.getuid?.() !== 0) problem = 'real Pantavisor devices need root (namespaces, mounts, cgroups, loop devices)'
  else {
    const miss = missingPackages()
    if (miss.length > 0) problem = `the device kit needs Debian packages: ${miss.join(' ')} (test/system-deps.sh installs them as root)`
  }
  return problem
}

/** Skip the test with the kit's problem, or fail under CI=true. Returns true when the test must stop. */
export function skipWithoutKit (t: { skip: (why: string) => void }): boolean {
  const why = kitProblem()
  if (why === null) return false
  if (process.env.CI === 'true') throw new Error(`real-device lane: ${why} (CI always has the kit: this is a regression, not a skip)`)
  t.skip(`real Pantavisor device: ${why}`)
  return true
}

let kitCopy: Promise<string> | undefined

/** Put back what copying lost: symlinks stored as text naming their target, and empty folders. */
async function repair (kit: string): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) { await walk(p); continue }
      if (!e.isFile()) continue
      const st = await lstat(p)
      if (st.size === 0 || st.size > 200) continue
      const text = (await readFile(p, 'utf8')).trim()
      if (!/^[\w./+-]+$/.test(text) || text.includes('\n')) continue
      const target = resolve(dirname(p), text)
      if (!target.startsWith(kit + '/') || !existsSync(target) || target === p) continue
      await rm(p)
      await symlink(text, p)
    }
  }
  await walk(kit)
  for (const base of ['rootfs/usr/lib/pantavisor/skel', 'rootfs/var/pantavisor/storage']) {
    for (const d of ['boot', 'config', 'disks', 'objects', 'trails', 'trails/0/.pv', 'trails/0/.pvr']) await mkdir(join(kit, base, d), { recursive: true })
  }
  await mkdir(join(kit, 'rootfs/usr/lib/pantavisor/pvtx.extra.d'), { recursive: true })
}

/** A working copy of the kit, made once per process (removed at exit). */
export async function kitDir (): Promise<string> {
  kitCopy ??= (async () => {
    const d = join(tmpdir(), `fieldsync-pvkit-${process.pid}`)
    await rm(d, { recursive: true, force: true })
    await cp(KIT_SRC, d, { recursive: true, verbatimSymlinks: true })
    execFileSync('chmod', ['-R', 'u+w', d])
    await repair(d)
    process.once('exit', () => { try { execFileSync('rm', ['-rf', d]) } catch { /* best effort */ } })
    return d
  })()
  return await kitCopy
}

export interface KitDevice {
  dir: string
  name: string
  /** The relay socket to the device's pv-ctrl. */
  socket: string
  /** Where the device's /var is on this host (a "stick" put under it is /var/... inside). */
  varDir: string
  /** Run a command inside the device (its namespaces, root). */
  exec: (args: string[], input?: Buffer) => Promise<{ code: number | null, stdout: string, stderr: string }>
  /** Upstream pvcontrol from the host, through the relay. */
  pvcontrol: (args: string[]) => Promise<{ code: number | null, stdout: string, stderr: string }>
  /** Stop then start again with the same storage (a power cycle). */
  restart: () => Promise<void>
  stop: () => Promise<void>
  console: () => Promise<string>
}

function run (cmd: string, args: string[], input?: Buffer, timeoutMs = 120_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => { c.kill('SIGKILL') }, timeoutMs)
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    c.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
    c.stdin.on('error', () => {})
    c.stdin.end(input)
  })
}

let seq = 0

export interface KitDeviceOptions {
  /** Pantavisor configuration, e.g. PV_SECUREBOOT_MODE=strict. */
  env?: string[]
  /** Seconds a "reboot" takes (default 1). */
  rebootDelay?: number
}

/** Boot a fresh real device; stopped and removed after the test. */
export async function startKitDevice (t: { after: (fn: () => Promise<void>) => void }, o: KitDeviceOptions = {}): Promise<KitDevice> {
  const kit = await kitDir()
  const name = `fs${process.pid % 100000}x${++seq}`
  const dir = join(tmpdir(), name)
  await rm(dir, { recursive: true, force: true })
  const pvd = join(kit, 'pv-device')
  const startArgs = ['start', dir, '--name', name, '--fresh', '--reboot-delay', String(o.rebootDelay ?? 1), '--env', 'PV_LOG_LOGGERS=0', ...(o.env ?? []).flatMap(e => ['--env', e])]
  const boot = async (fresh: boolean): Promise<void> => {
    const r = await run(pvd, fresh ? startArgs : startArgs.filter(a => a !== '--fresh'), undefined, 150_000)
    if (r.code !== 0) {
      const log = await readFile(join(dir, 'console.log'), 'utf8').catch(() => '')
      throw new Error(`pv-device start ${name} failed (exit ${String(r.code)}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}\n${log.split('\n').filter(l => !l.includes('pv_mount_print')).slice(-15).join('\n')}`)
    }
  }
  await boot(true)
  const stop = async (): Promise<void> => { await run(pvd, ['stop', dir, '--kill'], undefined, 60_000) }
  t.after(async () => {
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  const socket = (await pexec(pvd, ['sock', dir])).stdout.trim()
  return {
    dir,
    name,
    socket,
    varDir: join(dir, 'state', 'var'),
    exec: async (args, input) => await run(pvd, ['exec', dir, '--', ...args], input),
    pvcontrol: async (args) => await run(pvd, ['pvcontrol', dir, ...args]),
    restart: async () => { await stop(); await boot(false) },
    stop,
    console: async () => await readFile(join(dir, 'console.log'), 'utf8').catch(() => ''),
  }
}

/** Write a file where the device sees it as /var/<rel>. */
export async function putInDevice (dev: KitDevice, rel: string, data: Buffer | string): Promise<string> {
  const p = join(dev.varDir, rel)
  await mkdir(dirname(p), { recursive: true })
  await writeFile(p, data)
  return `/var/${rel}`
}
