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
import { DEVICE_KIT, skipWithoutUpstream } from './upstream.js'

const pexec = promisify(execFile)

export const KIT_SRC = DEVICE_KIT

/** Debian packages the kit needs at run time (its apt-packages.txt). */
function missingPackages(): string[] {
  let list: string[] = []
  try {
    list = execFileSync('sh', ['-c', `grep -v '^#' ${JSON.stringify(join(KIT_SRC, 'apt-packages.txt'))}`])
      .toString()
      .split(/\s+/)
      .filter(Boolean)
  } catch {
    return ['(apt-packages.txt unreadable)']
  }
  return list.filter(p => {
    try {
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', p], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .includes('install ok installed')
    } catch {
      return true
    }
  })
}

let problem: string | null | undefined

/** Why real devices cannot run here, or null. */
export function kitProblem(): string | null {
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
export function skipWithoutKit(t: { skip: (why: string) => void }): boolean {
  const why = kitProblem()
  return skipWithoutUpstream(t, why === null ? null : `real Pantavisor device: ${why}`)
}

let kitCopy: Promise<string> | undefined

/** Put back what copying lost: symlinks stored as text naming their target, and empty folders. */
async function repair(kit: string): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) {
        await walk(p)
        continue
      }
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
export async function kitDir(): Promise<string> {
  kitCopy ??= (async () => {
    const d = join(tmpdir(), `fieldsync-pvkit-${process.pid}`)
    await rm(d, { recursive: true, force: true })
    await cp(KIT_SRC, d, { recursive: true, verbatimSymlinks: true })
    execFileSync('chmod', ['-R', 'u+w', d])
    await repair(d)
    process.once('exit', () => {
      try {
        execFileSync('rm', ['-rf', d])
      } catch {
        /* best effort */
      }
    })
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
  exec: (args: string[], input?: Buffer) => Promise<{ code: number | null; stdout: string; stderr: string }>
  /** Upstream pvcontrol from the host, through the relay. */
  pvcontrol: (args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>
  /** Stop then start again with the same storage (a power cycle), with other Pantavisor configuration if given. */
  restart: (env?: string[]) => Promise<void>
  stop: () => Promise<void>
  console: () => Promise<string>
}

function run(cmd: string, args: string[], input?: Buffer, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      c.kill('SIGKILL')
    }, timeoutMs)
    c.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    c.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    c.on('close', code => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
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
  /**
   * Give the device's /var (its Pantavisor storage) a file system of its own
   * of this many MiB, so that a test can fill it (fillStorage). Objects and
   * trails stay on one file system, as Pantavisor needs (it hard-links them).
   */
  storageMiB?: number
  /** Files put into the device's /etc before it first boots (e.g. pantavisor/pvs/trust/ca-certificates.crt). */
  etc?: Record<string, string>
}

/** Boot a fresh real device; stopped and removed after the test. */
export async function startKitDevice(t: { after: (fn: () => Promise<void>) => void }, o: KitDeviceOptions = {}): Promise<KitDevice> {
  const kit = await kitDir()
  const name = `fs${process.pid % 100000}x${++seq}`
  const dir = join(tmpdir(), name)
  await rm(dir, { recursive: true, force: true })
  const pvd = join(kit, 'pv-device')
  // The kit's appengine config caps the log folder at 2 GiB, which Pantavisor refuses on a smaller storage (config.c).
  const env = [...(o.storageMiB === undefined ? [] : ['PV_LOG_DIR_MAXSIZE=10%']), ...(o.env ?? [])]
  // DIR is new: no --fresh, which would remove what is put into its state first.
  const args = (envs: string[]): string[] => [
    'start',
    dir,
    '--name',
    name,
    '--reboot-delay',
    String(o.rebootDelay ?? 1),
    '--env',
    'PV_LOG_LOGGERS=0',
    ...envs.flatMap(e => ['--env', e]),
  ]
  let current = env
  const boot = async (): Promise<void> => {
    const r = await run(pvd, args(current), undefined, 150_000)
    if (r.code !== 0) {
      const log = await readFile(join(dir, 'console.log'), 'utf8').catch(() => '')
      throw new Error(
        `pv-device start ${name} failed (exit ${String(r.code)}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}\n${log
          .split('\n')
          .filter(l => !l.includes('pv_mount_print'))
          .slice(-15)
          .join('\n')}`,
      )
    }
  }
  for (const [rel, text] of Object.entries(o.etc ?? {})) {
    const p = join(dir, 'state', 'etc-upper', rel)
    await mkdir(dirname(p), { recursive: true })
    await writeFile(p, text)
  }
  let varMount: string | null = null
  if (o.storageMiB !== undefined) {
    // pv-device copies its storage skeleton into DIR/state/var only when that does not exist yet.
    const img = join(tmpdir(), `${name}.var.img`)
    varMount = join(dir, 'state', 'var')
    await mkdir(varMount, { recursive: true })
    execFileSync('truncate', ['-s', `${o.storageMiB}M`, img])
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', img])
    execFileSync('mount', ['-o', 'loop', img, varMount])
    execFileSync('cp', ['-a', join(kit, 'rootfs', 'var') + '/.', varMount + '/'])
    t.after(async () => {
      try {
        execFileSync('umount', ['-d', varMount as string])
      } catch {
        /* stopped already */
      }
      await rm(img, { force: true })
    })
  }
  const stop = async (): Promise<void> => {
    await run(pvd, ['stop', dir, '--kill'], undefined, 60_000)
  }
  t.after(async () => {
    await stop()
    if (varMount !== null) {
      try {
        execFileSync('umount', ['-d', varMount])
      } catch {
        /* not mounted */
      }
    }
    await rm(dir, { recursive: true, force: true })
  })
  await boot()
  const socket = (await pexec(pvd, ['sock', dir])).stdout.trim()
  return {
    dir,
    name,
    socket,
    varDir: join(dir, 'state', 'var'),
    exec: async (args, input) => await run(pvd, ['exec', dir, '--', ...args], input),
    pvcontrol: async args => await run(pvd, ['pvcontrol', dir, ...args]),
    restart: async (envs?: string[]) => {
      await stop()
      if (envs !== undefined) current = [...env.filter(e => e.startsWith('PV_LOG_DIR_MAXSIZE')), ...envs]
      await boot()
    },
    stop,
    console: async () => await readFile(join(dir, 'console.log'), 'utf8').catch(() => ''),
  }
}

/** Fill the device's storage file system (storageMiB) but for `leaveKiB`; returns a function that frees it again. */
export async function fillStorage(dev: KitDevice, leaveKiB: number): Promise<() => Promise<void>> {
  const filler = join(dev.varDir, 'filler')
  const free = Number(execFileSync('df', ['--output=avail', '-k', dev.varDir]).toString().trim().split('\n').pop())
  const n = free - leaveKiB
  if (!(n > 0)) throw new Error(`fillStorage: only ${free} KiB free`)
  execFileSync('fallocate', ['-l', `${n}K`, filler])
  return async () => {
    await rm(filler, { force: true })
  }
}

/** Write a file where the device sees it as /var/<rel>. */
export async function putInDevice(dev: KitDevice, rel: string, data: Buffer | string): Promise<string> {
  const p = join(dev.varDir, rel)
  await mkdir(dirname(p), { recursive: true })
  await writeFile(p, data)
  return `/var/${rel}`
}
