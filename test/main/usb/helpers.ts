/**
 * Helpers for the USB tests: libraries with generated revisions, and real
 * FAT32 sticks (mkfs.vfat images mounted through a loop device, or through
 * fusefat where the kernel has no vfat driver), unmounted in t.after.
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { silentLogger } from '../../../shared/log.js'
import { App } from '../../../main/app/index.js'
import { buildState, smallObject, writeTarball, type TestObject } from '../../helpers/revisions.js'
import { tempDir } from '../../helpers/tmp.js'

const run = promisify(execFile)

type T = Parameters<typeof tempDir>[0]

export async function newApp(t: T): Promise<App> {
  const home = await tempDir(t, 'fieldsync-usb-home-')
  const app = new App({ home, log: silentLogger() })
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  return app
}

export async function randomObject(dir: string, name: string, bytes: number): Promise<TestObject> {
  const o = await smallObject(dir, name, '')
  const data = randomBytes(bytes)
  await writeFile(o.path, data)
  const { createHash } = await import('node:crypto')
  return { ...o, sha: createHash('sha256').update(data).digest('hex'), size: bytes }
}

export interface RevSpec {
  kernel: TestObject
  initrd: TestObject
  containers: Array<{ name: string; root: TestObject; config: TestObject }>
}

/** Shared parts for building revisions that overlap. */
export async function makeParts(
  dir: string,
  opts: { rootBytes?: number } = {},
): Promise<{ kernel: TestObject; initrd: TestObject; configs: TestObject[]; roots: TestObject[] }> {
  await mkdir(dir, { recursive: true })
  const kernel = await randomObject(dir, 'kernel.img', 70_000)
  const initrd = await randomObject(dir, 'pantavisor', 50_000)
  const configs = await Promise.all([0, 1, 2, 3].map(i => smallObject(dir, `lxc${i}.conf`, `lxc.uts.name = c${i}\n`)))
  const roots = await Promise.all([0, 1, 2, 3].map(i => randomObject(dir, `root${i}.squashfs`, (opts.rootBytes ?? 200_000) + i * 1000)))
  return { kernel, initrd, configs, roots }
}

/** Import a revision built from `spec` into `app` under `name`; returns its id. */
export async function addRevision(app: App, dir: string, name: string, spec: RevSpec): Promise<string> {
  const state = buildState(spec)
  const objs = [spec.kernel, spec.initrd, ...spec.containers.flatMap(c => [c.root, c.config])]
  const uniq = [...new Map(objs.map(o => [o.sha, o])).values()]
  const file = join(dir, `${name}-${randomBytes(3).toString('hex')}.tar`)
  await writeTarball(file, JSON.stringify(state), uniq)
  const res = await app.importer.importPath(file, { name })
  return res.id
}

export function tarList(file: string): string[] {
  return execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter(s => s !== '')
}

export function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export interface Stick {
  dir: string
  how: 'kernel vfat' | 'fusefat'
  image: string
}

let kernelVfat: boolean | undefined

/**
 * A real FAT32 file system of `mib` MiB: mkfs.vfat on an image file, mounted
 * with `mount -o loop` (the kernel's vfat) or, where this kernel has no vfat
 * (as on these machines), with fusefat (Debian's FUSE FAT driver). Returns a
 * reason string when neither is possible (not root, tools missing).
 */
export async function fatStick(t: T, mib: number, opts: { readOnly?: boolean; populate?: (dir: string) => Promise<void> } = {}): Promise<Stick | string> {
  if (process.getuid?.() !== 0) return 'needs root to mount a FAT32 image'
  if (!has('mkfs.vfat')) return 'mkfs.vfat (dosfstools) is not installed'
  const work = await mkdtemp(join(tmpdir(), 'fieldsync-usb-fat-'))
  const image = join(work, 'stick.img')
  const mnt = join(work, 'mnt')
  await mkdir(mnt)
  await run('truncate', ['-s', `${mib}M`, image])
  await run('mkfs.vfat', ['-F', '32', image])
  const mountIt = async (ro: boolean): Promise<Stick['how'] | string> => {
    if (kernelVfat !== false) {
      try {
        await run('mount', ['-t', 'vfat', '-o', `loop${ro ? ',ro' : ''}`, image, mnt])
        kernelVfat = true
        return 'kernel vfat'
      } catch {
        kernelVfat = false
      }
    }
    if (!has('fusefat') || !existsSync('/dev/fuse')) return 'this kernel has no vfat driver and fusefat is not installed (test/system-deps.sh installs it)'
    await run('fusefat', ['-o', ro ? 'ro' : 'rw+', image, mnt])
    return 'fusefat'
  }
  const unmount = async () => {
    for (let i = 0; i < 20; i++) {
      try {
        await run('umount', [mnt])
        return
      } catch {
        try {
          await run('fusermount', ['-u', mnt])
          return
        } catch {
          await new Promise(r => setTimeout(r, 100))
        }
      }
    }
  }
  let mounted = false
  t.after(async () => {
    if (mounted) await unmount() // `mount -o loop` detaches its loop device on unmount (autoclear)
    await rm(work, { recursive: true, force: true })
  })
  if (opts.populate !== undefined) {
    const how = await mountIt(false)
    if (how !== 'kernel vfat' && how !== 'fusefat') return how
    try {
      await opts.populate(mnt)
    } finally {
      await unmount()
    }
  }
  const how = await mountIt(opts.readOnly === true)
  if (how !== 'kernel vfat' && how !== 'fusefat') return how
  mounted = true
  return { dir: mnt, how, image }
}
