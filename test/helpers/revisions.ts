/**
 * Building real revisions for tests: squashfs images made with mksquashfs
 * (Debian squashfs-tools) from generated content, a state JSON naming them,
 * and a pvr-style export tarball (plain or gzip) written with tar-stream.
 */
import { execFileSync } from 'node:child_process'
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import tar from 'tar-stream'
import { compareKeys, rawMembers } from '../../shared/state/index.js'

export function hasMksquashfs(): boolean {
  try {
    execFileSync('mksquashfs', ['-version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(file)) h.update(c as Buffer)
  return h.digest('hex')
}

/**
 * A real squashfs image of `bytes` of incompressible content (seeded, so the
 * same seed gives the same image). Returns its path and sha256.
 */
export async function makeSquashfs(dir: string, name: string, bytes: number, seed: string): Promise<{ path: string; sha: string; size: number }> {
  const src = join(dir, `${name}.src`)
  await mkdir(src, { recursive: true })
  // Deterministic incompressible content: AES-CTR keystream from the seed.
  const key = createHash('sha256').update(seed).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const fileSize = 64 << 20
  let written = 0
  let i = 0
  while (written < bytes) {
    const n = Math.min(fileSize, bytes - written)
    await writeFile(join(src, `data${i}.bin`), cipher.update(Buffer.alloc(n)))
    written += n
    i++
  }
  await writeFile(join(src, 'etc-hostname'), `${name}\n`)
  const img = join(dir, `${name}.squashfs`)
  await rm(img, { force: true })
  execFileSync(
    'mksquashfs',
    [src, img, '-noappend', '-comp', 'gzip', '-noI', '-noD', '-noF', '-noX', '-mkfs-time', '0', '-all-time', '0', '-all-root', '-quiet', '-no-progress'],
    { stdio: 'ignore' },
  )
  await rm(src, { recursive: true, force: true })
  return { path: img, sha: await sha256File(img), size: (await stat(img)).size }
}

export interface TestObject {
  key: string
  path: string
  sha: string
  size: number
}

/** A minimal valid state: a BSP (kernel + initrd) and containers with a rootfs each. */
export function buildState(objs: {
  kernel: TestObject
  initrd: TestObject
  containers: Array<{ name: string; root: TestObject; config: TestObject }>
}): Record<string, unknown> {
  const s: Record<string, unknown> = {
    '#spec': 'pantavisor-service-system@1',
    'bsp/run.json': { addons: [], initrd: 'pantavisor', linux: 'kernel.img' },
    'bsp/kernel.img': objs.kernel.sha,
    'bsp/pantavisor': objs.initrd.sha,
  }
  for (const c of objs.containers) {
    s[`${c.name}/run.json`] = {
      '#spec': 'service-manifest-run@1',
      config: 'lxc.container.conf',
      name: c.name,
      'root-volume': 'root.squashfs',
      storage: {},
      type: 'lxc',
      volumes: [],
    }
    s[`${c.name}/lxc.container.conf`] = c.config.sha
    s[`${c.name}/root.squashfs`] = c.root.sha
  }
  return s
}

export async function smallObject(dir: string, name: string, content: string): Promise<TestObject> {
  const path = join(dir, name)
  await writeFile(path, content)
  const sha = createHash('sha256').update(content).digest('hex')
  return { key: name, path, sha, size: Buffer.byteLength(content) }
}

/** Write a pvr-style export tarball: json first, then objects/<sha> once each (from a file or bytes). */
export async function writeTarball(
  file: string,
  json: string | Uint8Array,
  objects: Array<{ sha: string; path: string } | { sha: string; data: Buffer }>,
  opts: { gzip?: boolean; jsonLast?: boolean; duplicate?: boolean } = {},
): Promise<void> {
  const pack = tar.pack()
  const out = createWriteStream(file)
  const stages: NodeJS.ReadWriteStream[] = opts.gzip === true ? [createGzip()] : []
  const done = (pipeline as (...s: unknown[]) => Promise<void>)(pack, ...stages, out)
  const addJson = async () => {
    await new Promise<void>((res, rej) => pack.entry({ name: 'json' }, Buffer.from(json), e => (e ? rej(e) : res())))
  }
  if (opts.jsonLast !== true) await addJson()
  const list = opts.duplicate === true ? [...objects, ...objects.slice(0, 1)] : objects
  for (const o of list) {
    const body = 'data' in o ? o.data : await readFile(o.path)
    await new Promise<void>((res, rej) => pack.entry({ name: `objects/${o.sha}` }, body, e => (e ? rej(e) : res())))
  }
  if (opts.jsonLast === true) await addJson()
  pack.finalize()
  await done
}

export function randomName(): string {
  return randomBytes(4).toString('hex')
}

/** A revision as an export tarball holds it: the state JSON's bytes and the objects. */
export interface ExportParts {
  json: Buffer
  objects: Array<{ sha: string; data: Buffer }>
}

/** Read a pvr export tarball (plain or gzip) into memory (test-sized tarballs only). */
export async function readExport(file: string): Promise<ExportParts> {
  const raw = await readFile(file)
  const extract = tar.extract()
  const out: ExportParts = { json: Buffer.alloc(0), objects: [] }
  extract.on('entry', (h, stream, next) => {
    const parts: Buffer[] = []
    stream.on('data', (c: unknown) => {
      parts.push(c as Buffer)
    })
    stream.on('end', () => {
      const name = h.name.replace(/^\.\//, '')
      if (name === 'json') out.json = Buffer.concat(parts)
      else if (name.startsWith('objects/') && !out.objects.some(o => o.sha === name.slice(8)))
        out.objects.push({ sha: name.slice(8), data: Buffer.concat(parts) })
      next()
    })
  })
  const stages: NodeJS.ReadWriteStream[] = raw[0] === 0x1f && raw[1] === 0x8b ? [createGunzip()] : []
  await (pipeline as (...s: unknown[]) => Promise<void>)(Readable.from([raw]), ...stages, extract)
  return out
}

export interface FullRevision {
  tarball: string
  raw: string
  objects: Array<{ sha: string; size: number }>
  bytes: number
}

/**
 * A full revision that a device runs: the BSP of `bsp` (its bsp/ keys and
 * _sigs/bsp.json, with their objects) and every key of each package but
 * #spec, in canonical key order, each value's raw text kept as it was (so a
 * package's signature still verifies). Written as an export tarball.
 */
export async function composeFull(file: string, bsp: ExportParts, packages: ExportParts[], opts: { gzip?: boolean } = {}): Promise<FullRevision> {
  const members = new Map<string, string>()
  for (const m of rawMembers(bsp.json)) if (m.key === '#spec' || m.key.startsWith('bsp/') || m.key === '_sigs/bsp.json') members.set(m.key, m.rawValue)
  for (const p of packages) for (const m of rawMembers(p.json)) if (m.key !== '#spec') members.set(m.key, m.rawValue)
  const keys = [...members.keys()].sort(compareKeys)
  const raw = `{${keys.map(k => `${JSON.stringify(k)}:${members.get(k) ?? ''}`).join(',')}}`
  const named = new Set([...members.values()].filter(v => /^"[0-9a-f]{64}"$/.test(v)).map(v => v.slice(1, -1)))
  const pool = new Map([bsp, ...packages].flatMap(p => p.objects).map(o => [o.sha, o]))
  const objects = [...named].flatMap(sha => {
    const o = pool.get(sha)
    return o === undefined ? [] : [o]
  })
  await writeTarball(file, raw, objects, { gzip: opts.gzip })
  return { tarball: file, raw, objects: objects.map(o => ({ sha: o.sha, size: o.data.length })), bytes: objects.reduce((n, o) => n + o.data.length, 0) }
}
