/**
 * Revisions for the real-device lane, made from upstream's own packages
 * (pvwificonnect.tgz, watchdog_pinger.tar: real containers that the
 * appengine device starts) the way the device kit's examples/mkvariant.sh
 * derives them: a line appended to a container's lxc.container.conf (a new
 * object: a changed container; the kit's stand-in also reads knobs such as
 * `# pvkit.exit-after = 3` from there), and a BSP added (the appengine
 * parser ignores its content, but a state with one is a whole revision and
 * a changed BSP makes the update a reboot update).
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { writeTarball } from '../helpers/revisions.js'

export const WIFI = join(vendoredUpstreamDir, 'pvwificonnect.tgz')
export const PINGER = join(vendoredUpstreamDir, 'watchdog_pinger.tar')

export interface Pkg {
  state: Record<string, unknown>
  objects: Map<string, Buffer>
}

/** json and objects of an export tarball (plain or gzip). */
export async function readPkg(file: string): Promise<Pkg> {
  const ex = tar.extract()
  const out: Pkg = { state: {}, objects: new Map() }
  ex.on('entry', (h, stream, next) => {
    const parts: Buffer[] = []
    stream.on('data', (d: unknown) => {
      parts.push(d as Buffer)
    })
    stream.on('end', () => {
      const b = Buffer.concat(parts)
      if (h.name === 'json') out.state = JSON.parse(b.toString('utf8')) as Record<string, unknown>
      else if (h.name.startsWith('objects/')) out.objects.set(h.name.slice(8), b)
      next()
    })
  })
  const src = createReadStream(file)
  await (file.endsWith('.tar') ? pipeline(src, ex) : pipeline(src, createGunzip(), ex))
  return out
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

function canonical(o: Record<string, unknown>): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map(k => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v
  return JSON.stringify(sort(o))
}

export interface Variant {
  /** Lines appended to <container>/lxc.container.conf. */
  conf?: Record<string, string[]>
  /** Add (or replace) a BSP whose run.json carries this label. */
  bsp?: string
  /** Also hold the parts of these packages (a whole device state of several containers). */
  with?: Pkg[]
}

export function variant(base: Pkg, v: Variant): Pkg {
  const state = { ...base.state }
  const objects = new Map(base.objects)
  for (const p of v.with ?? []) {
    for (const [k, val] of Object.entries(p.state)) if (k !== '#spec') state[k] = val
    for (const [s, b] of p.objects) objects.set(s, b)
  }
  for (const [c, lines] of Object.entries(v.conf ?? {})) {
    const key = `${c}/lxc.container.conf`
    const old = state[key]
    if (typeof old !== 'string') throw new Error(`no ${key}`)
    const body = Buffer.concat([objects.get(old) as Buffer, Buffer.from(lines.map(l => `${l}\n`).join(''))])
    state[key] = sha(body)
    objects.set(sha(body), body)
  }
  if (v.bsp !== undefined) {
    const kernel = Buffer.from(`kernel ${v.bsp}\n`)
    const initrd = Buffer.from(`pantavisor ${v.bsp}\n`)
    state['bsp/run.json'] = { addons: [], initrd: 'pantavisor', linux: 'kernel.img', pvkit: v.bsp }
    state['bsp/kernel.img'] = sha(kernel)
    state['bsp/pantavisor'] = sha(initrd)
    objects.set(sha(kernel), kernel)
    objects.set(sha(initrd), initrd)
  }
  const used = new Set(Object.values(state).filter((x): x is string => typeof x === 'string'))
  for (const s of [...objects.keys()]) if (!used.has(s)) objects.delete(s)
  return { state, objects }
}

/** Write a package as a pvr export tarball (canonical json first). */
export async function writePkg(dir: string, name: string, p: Pkg): Promise<string> {
  await mkdir(join(dir, `${name}.objects`), { recursive: true })
  const list: Array<{ sha: string; path: string }> = []
  for (const [s, b] of p.objects) {
    const path = join(dir, `${name}.objects`, s)
    await writeFile(path, b)
    list.push({ sha: s, path })
  }
  const file = join(dir, `${name}.tar`)
  await writeTarball(file, canonical(p.state), list)
  return file
}
