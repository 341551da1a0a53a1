/**
 * `pvtx deploy <dir>`: write a local transaction's state out as a revision
 * folder the way upstream does (pvtx_txn.c create_fs): `.pvr/json` (the
 * state's bytes), `.pvr/config` (kept from the folder's previous one, else
 * `{"ObjectsDir": "<objects>"}`), each object key hard-linked from the
 * objects folder (copied across file systems), each inline value written
 * as its raw text, and `.pv/` links to the BSP files bsp/run.json names. It
 * is built in `<dir>.tmp`, then swapped in: the old folder goes to
 * `<dir>.bak` and is removed once the new one is in place.
 */
import { copyFile, cp, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { BadInputError, ObjectMissingError, UnsafeEntryError } from '../../shared/errors.js'
import { readStateDoc } from '../../shared/state/compose.js'
import { parseJsonText } from '../../shared/state/rawjson.js'
import { isSha } from '../../shared/state/types.js'

/** bsp/run.json keys and the `.pv/` names upstream links them to (`ftd` as upstream spells it). */
const BSP_LINKS: Readonly<Record<string, string>> = {
  fit: 'pantavisor.fit',
  pantavisor: 'pv-initrd.img',
  initrd: 'pv-initrd.img',
  kernel: 'pv-kernel.img',
  linux: 'pv-kernel.img',
  ftd: 'pv-ftd.img',
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}

/** rename, or copy then remove across file systems (upstream pv_fs_rename_safe_noatomic). */
async function move(from: string, to: string): Promise<void> {
  try {
    await rename(from, to)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
    await cp(from, to, { recursive: true, preserveTimestamps: true })
    await rm(from, { recursive: true, force: true })
  }
}

function inside(root: string, key: string): string {
  const p = resolve(root, key)
  if (p !== root && !p.startsWith(root + sep)) throw new UnsafeEntryError(`state key ${JSON.stringify(key)} points outside the deploy folder`, { key })
  return p
}

async function placeObject(objects: string, sha: string, dst: string): Promise<void> {
  const src = join(objects, sha)
  try {
    await link(src, dst)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && !(await exists(src)))
      throw new ObjectMissingError(`object ${sha} is not in the objects folder ${objects}; add the package that carries it first`, { sha })
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err
    await copyFile(src, dst)
  }
}

async function bspLinks(root: string, warn: (s: string) => void): Promise<void> {
  const pv = join(root, '.pv')
  await rm(pv, { recursive: true, force: true })
  await mkdir(pv, { recursive: true })
  let run: unknown
  try {
    run = parseJsonText(await readFile(join(root, 'bsp', 'run.json'), 'utf8'))
  } catch {
    return
  } // no BSP
  if (run === null || typeof run !== 'object' || Array.isArray(run)) return
  // in run.json's order: when two keys name one link (initrd, pantavisor), the later one wins
  for (const [key, file] of Object.entries(run as Record<string, unknown>)) {
    const name = Object.hasOwn(BSP_LINKS, key) ? BSP_LINKS[key] : undefined
    if (name === undefined || typeof file !== 'string') continue
    const target = inside(join(root, 'bsp'), file)
    const at = join(pv, name)
    await rm(at, { force: true })
    if (!(await exists(target))) {
      warn(`bsp/run.json names ${key} ${file}, which the state does not hold; continuing`)
      continue
    }
    await link(target, at)
  }
}

export async function deployState(state: Uint8Array, objects: string, dir: string, opts: { warn?: (s: string) => void } = {}): Promise<void> {
  const warn = opts.warn ?? (() => {})
  const target = resolve(dir)
  const tmp = `${target}.tmp`
  const bak = `${target}.bak`
  const doc = readStateDoc(state, "the transaction's state")
  await rm(tmp, { recursive: true, force: true })
  await mkdir(join(tmp, '.pvr'), { recursive: true })
  try {
    const oldConfig = join(target, '.pvr', 'config')
    if (await exists(oldConfig)) await copyFile(oldConfig, join(tmp, '.pvr', 'config'))
    else await writeFile(join(tmp, '.pvr', 'config'), `{"ObjectsDir": ${JSON.stringify(objects)}}`)
    await writeFile(join(tmp, '.pvr', 'json'), state, { mode: 0o600 })
    for (const m of doc.members) {
      const at = inside(tmp, m.key)
      if (relative(tmp, at).split(sep)[0] === '.pvr')
        throw new UnsafeEntryError(`state key ${JSON.stringify(m.key)} would overwrite the revision's own .pvr/ files`, { key: m.key })
      await mkdir(dirname(at), { recursive: true })
      await rm(at, { force: true })
      if (m.type === 'string' && isSha(m.raw)) await placeObject(objects, m.raw, at)
      else await writeFile(at, m.raw)
    }
    await bspLinks(tmp, warn)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  const had = await exists(target)
  if (had) {
    if (await exists(bak)) throw new BadInputError(`${bak} exists (left by an earlier deploy?); move it away and deploy again`)
    await move(target, bak)
  }
  try {
    await move(tmp, target)
  } catch (err) {
    if (had) await rename(bak, target).catch(() => {})
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  if (had) await rm(bak, { recursive: true, force: true })
}
