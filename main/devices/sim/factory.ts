/**
 * The revision a fresh simulated device runs, revision "0", DONE "Factory
 * revision", as a device flashed from an image does. By default a small full
 * state that the simulator makes itself, the same on every run: a BSP
 * (bsp/run.json naming a kernel and an initrd, both objects) and the pvr-sdk
 * management container, objects included. `--factory FILE` takes a pvr
 * export tarball (plain or gzip: `json` then `objects/<sha>`, every object
 * checked against its name) or a bare state JSON (its objects then are not
 * on the device). Only a fresh storage gets one; a device that already has a
 * current revision keeps it.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { PassThrough, type Readable } from 'node:stream'
import tar from 'tar-stream'
import { UsageError } from '../../../shared/errors.js'
import { compareKeys } from '../../../shared/state/index.js'
import type { DeviceStorage } from './storage.js'

export const FACTORY_REV = '0'

export interface FactoryObject {
  sha: string
  data: Buffer
}
export interface FactoryRevision {
  json: Buffer
  objects: FactoryObject[]
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

/** Deterministic filler bytes for a simulated object. */
function filler(label: string, bytes: number): Buffer {
  const line = Buffer.from(`Fieldsync device simulator: ${label}\n`)
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / line.length) }, () => line)).subarray(0, bytes)
}

/** The built-in factory revision: BSP (kernel, initrd) and the pvr-sdk container (mgmt role). */
export function defaultFactory(): FactoryRevision {
  const files: Record<string, Buffer> = {
    'bsp/kernel.img': filler('kernel image', 8192),
    'bsp/pantavisor': filler('pantavisor initrd', 4096),
    'pvr-sdk/lxc.container.conf': Buffer.from(
      'lxc.uts.name = pvr-sdk\nlxc.rootfs.path = overlayfs:/volumes/pvr-sdk/root.squashfs:/volumes/pvr-sdk/lxc-overlay/upper\n',
    ),
    'pvr-sdk/root.squashfs': filler('pvr-sdk root file system', 16384),
  }
  const inline: Record<string, unknown> = {
    'bsp/run.json': { addons: [], initrd: 'pantavisor', linux: 'kernel.img' },
    'pvr-sdk/run.json': {
      '#spec': 'service-manifest-run@1',
      config: 'lxc.container.conf',
      group: 'platform',
      name: 'pvr-sdk',
      restart_policy: 'system',
      roles: ['mgmt'],
      'root-volume': 'root.squashfs',
      storage: { 'lxc-overlay': { persistence: 'boot' } },
      type: 'lxc',
      volumes: [],
    },
  }
  const members: Array<[string, string]> = [['#spec', JSON.stringify('pantavisor-service-system@1')]]
  for (const [k, v] of Object.entries(files)) members.push([k, JSON.stringify(sha256(v))])
  for (const [k, v] of Object.entries(inline)) members.push([k, JSON.stringify(v)])
  members.sort((a, b) => compareKeys(a[0], b[0]))
  const json = Buffer.from(`{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)
  const objects = [...new Map(Object.values(files).map(d => [sha256(d), { sha: sha256(d), data: d }])).values()]
  return { json, objects }
}

/** Write one object to the device's pool, hashing as it goes; refused unless it hashes to its name. */
async function storeObject(st: DeviceStorage, sha: string, body: Readable, source: string): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new UsageError(`${source}: objects/${sha}: not a sha256 name`)
  const tmp = `${st.objectPath(sha)}.factory.tmp`
  const h = createHash('sha256')
  const fh = await open(tmp, 'w', 0o644)
  let n = 0
  try {
    for await (const c of body) {
      h.update(c as Buffer)
      n += (c as Buffer).length
      await fh.write(c as Buffer)
    }
  } finally {
    await fh.close()
  }
  if (h.digest('hex') !== sha) {
    await rm(tmp, { force: true })
    throw new UsageError(`${source}: objects/${sha} does not hash to its name`)
  }
  await rename(tmp, st.objectPath(sha))
  st.charge(n)
}

/** Read a factory export tarball (plain or gzip) into storage: objects stored as they stream, the json returned. */
async function loadTarball(st: DeviceStorage, file: string): Promise<Buffer> {
  const head = Buffer.alloc(2)
  const fh = await open(file, 'r')
  try {
    await fh.read(head, 0, 2, 0)
  } finally {
    await fh.close()
  }
  const gz = head[0] === 0x1f && head[1] === 0x8b
  const extract = tar.extract()
  let json: Buffer | null = null
  extract.on('entry', (h, stream, next) => {
    const name = h.name.replace(/^\.\//, '')
    const done = (err?: unknown): void => {
      if (err !== undefined) extract.destroy(err as Error)
      else next()
    }
    if (name === 'json') {
      const parts: Buffer[] = []
      stream.on('data', (c: unknown) => {
        parts.push(c as Buffer)
      })
      stream.on('end', () => {
        json = Buffer.concat(parts)
        done()
      })
      stream.on('error', done)
      return
    }
    const m = /^objects\/([^/]+)$/.exec(name)
    if (m === null || h.type !== 'file') {
      stream.resume()
      stream.on('end', () => {
        done()
      })
      return
    }
    const pass = new PassThrough()
    stream.pipe(pass)
    storeObject(st, m[1], pass, file).then(() => {
      done()
    }, done)
  })
  const stages: NodeJS.ReadWriteStream[] = gz ? [createGunzip()] : []
  await (pipeline as (...s: unknown[]) => Promise<void>)(createReadStream(file), ...stages, extract)
  if (json === null) throw new UsageError(`--factory ${file}: no "json" entry (not a pvr export tarball)`)
  return json
}

/** Put the factory revision's json and objects in place as revision 0 of a fresh storage (the caller links and runs it). */
export async function installFactory(st: DeviceStorage, source: string | undefined): Promise<void> {
  let json: Buffer
  if (source === undefined) {
    const f = defaultFactory()
    for (const o of f.objects) await storeObject(st, o.sha, PassThrough.from([o.data]), 'factory')
    json = f.json
  } else {
    const start = Buffer.alloc(512)
    const fh = await open(source, 'r')
    let n = 0
    try {
      n = (await fh.read(start, 0, 512, 0)).bytesRead
    } finally {
      await fh.close()
    }
    const bare = start.subarray(0, n).toString('latin1').trimStart().startsWith('{')
    json = bare ? await readFile(source) : await loadTarball(st, source)
  }
  await st.writeSmall(st.jsonPath(FACTORY_REV), json)
}
