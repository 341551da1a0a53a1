/**
 * Where the objects of a state come from when importing from a directory:
 * a pvr checkout (objects dir from .pvr/config, the pvr pool, .pvr/objects,
 * or the working files themselves), a `json` + `objects/` directory, or a bare
 * state file with `--objects DIR`.
 */
import { readFile, stat } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { BadInputError } from '../../../shared/errors.js'

export interface StateSource {
  kind: 'checkout' | 'directory' | 'json'
  /** Where the state bytes are. */
  stateFile: string
  /** Directories holding `<sha>` files, in order of preference. */
  objectDirs: string[]
  /** For a checkout: working tree root, whose files at state keys may be the objects. */
  workTree?: string
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile()
  } catch {
    return false
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory()
  } catch {
    return false
  }
}

/** Work out how to read a directory import; throws a clear error for anything else. */
/**
 * `pvrObjectDirs`: where pvr keeps objects outside a checkout (EnvSettings:
 * PVR_OBJECTS_DIR, ~/.pvr/objects), looked at after the checkout's own config.
 */
export async function directorySource(dir: string, objectsOverride: string | undefined, pvrObjectDirs: readonly string[]): Promise<StateSource> {
  if (await isDir(join(dir, '.pvr'))) {
    const stateFile = join(dir, '.pvr', 'json')
    if (!(await isFile(stateFile))) throw new BadInputError(`${dir}: a pvr checkout without .pvr/json (run pvr checkout or pvr get first)`)
    const dirs: string[] = []
    if (objectsOverride !== undefined) dirs.push(objectsOverride)
    const configured = await configuredObjectsDir(join(dir, '.pvr', 'config'))
    if (configured !== undefined) dirs.push(isAbsolute(configured) ? configured : resolve(dir, configured))
    dirs.push(...pvrObjectDirs, join(dir, '.pvr', 'objects'))
    return { kind: 'checkout', stateFile, objectDirs: dirs, workTree: dir }
  }
  if (await isFile(join(dir, 'json'))) {
    const dirs = objectsOverride !== undefined ? [objectsOverride] : []
    dirs.push(join(dir, 'objects'))
    return { kind: 'directory', stateFile: join(dir, 'json'), objectDirs: dirs }
  }
  throw new BadInputError(`${dir}: not a pvr checkout (no .pvr/json) nor a directory with a 'json' file and 'objects/'`)
}

async function configuredObjectsDir(configFile: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(configFile, 'utf8')
  } catch {
    return undefined
  }
  try {
    const c = JSON.parse(text) as { ObjectsDir?: unknown }
    return typeof c.ObjectsDir === 'string' && c.ObjectsDir !== '' ? c.ObjectsDir : undefined
  } catch {
    throw new BadInputError(`${configFile}: not valid JSON`)
  }
}

/** The first existing candidate file for an object. */
export async function findObjectFile(src: StateSource, sha: string, keys: string[]): Promise<string[]> {
  const out: string[] = []
  for (const d of src.objectDirs) {
    const p = join(d, sha)
    if (await isFile(p)) out.push(p)
  }
  if (src.workTree !== undefined) {
    for (const k of keys) {
      const p = join(src.workTree, k)
      if (!p.startsWith(src.workTree)) continue
      if (await isFile(p)) out.push(p)
    }
  }
  return out
}
