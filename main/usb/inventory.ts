/**
 * Inventories: the objects a target already has, so a stick carries only the
 * rest. Two shapes are read alike:
 *   - a device's `GET /objects` answer as it is (`pvcontrol objects ls`,
 *     `install.sh --inventory`): `[{"sha256": "...", "size": "<bytes>"}]`;
 *   - a laptop's `fieldsync usb inventory`: `{"format":
 *     "fieldsync-inventory@1", "objects": [{"sha256", "size"}]}`;
 *   - a device's inventory with its running state (`install.sh --inventory`
 *     since the stick composes packages on the laptop): `{"format":
 *     "fieldsync-device-inventory@1", "revision": "<pantavisor.revision>",
 *     "current_sha256": "<sha256 of GET /steps/current as pvcontrol prints
 *     it>", "current": {<that state>}, "objects": [<GET /objects>]}`.
 *     install.sh later hashes the running state the same way to tell
 *     whether the device still runs what a composed state was built on.
 */
import { hostname } from 'node:os'
import { BadInputError, NotFoundError } from '../../shared/errors.js'
import { isSha256Hex } from '../../shared/ids.js'
import { DEVICE_INVENTORY_FORMAT, INVENTORY_FORMAT, PEER_INVENTORY_FILE } from './layout.js'
import { writeSmallFile } from './sink.js'
import { readSmallStickFile } from './stick-file.js'
import type { Library } from '../store/library.js'

export interface Inventory {
  kind: 'device' | 'laptop'
  file: string
  /** sha256 → size (null when the inventory gave none). */
  objects: Map<string, number | null>
  host?: string
  /** What the device ran when the inventory was taken (device inventories with a state). */
  current?: DeviceCurrent
}

export interface DeviceCurrent {
  /** The state JSON (as the inventory carried it, re-serialised). */
  raw: Uint8Array
  /** Its revision name on the device (`pantavisor.revision`), '' when the device did not tell. */
  revision: string
  /** sha256 of the state as install.sh read it (pvcontrol steps get current): what it compares before installing. */
  sha256: string
}

/** The largest inventory read (a device with a million objects writes about 100 MiB). */
export const MAX_INVENTORY = 256 << 20

export async function readInventory(file: string, opts: { signal?: AbortSignal } = {}): Promise<Inventory> {
  // Usually on the stick (device-inventory.json, fieldsync-inventory.json): read as any stick file.
  const got = await readSmallStickFile(file, MAX_INVENTORY, opts.signal)
  if (!Buffer.isBuffer(got)) {
    if (got.kind === 'missing')
      throw new NotFoundError(
        `${file}: no such inventory file (write one with install.sh --inventory on the device, or fieldsync usb inventory on the other laptop)`,
      )
    throw new BadInputError(`${got.message}${got.kind === 'too-large' ? ' (too large for an inventory)' : ''}`, { file, problem: got.kind })
  }
  return parseInventory(got.toString('utf8'), file)
}

export function parseInventory(text: string, file: string): Inventory {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new BadInputError(
      `${file}: not valid JSON (${(err as Error).message}); an inventory is the device's GET /objects answer or a fieldsync usb inventory file`,
    )
  }
  let list: unknown
  let kind: Inventory['kind']
  let host: string | undefined
  let current: DeviceCurrent | undefined
  if (Array.isArray(json)) {
    list = json
    kind = 'device'
  } else if (typeof json === 'object' && json !== null && (json as Record<string, unknown>).format === INVENTORY_FORMAT) {
    const o = json as Record<string, unknown>
    list = o.objects
    kind = 'laptop'
    if (typeof o.host === 'string') host = o.host
  } else if (typeof json === 'object' && json !== null && (json as Record<string, unknown>).format === DEVICE_INVENTORY_FORMAT) {
    const o = json as Record<string, unknown>
    list = o.objects
    kind = 'device'
    // null: the device did not tell its state (install.sh says so); its packages then go through its pvtx.
    if (o.current !== null) current = deviceCurrent(o, file)
  } else {
    throw new BadInputError(`${file}: not an inventory: expected [{"sha256","size"}] (a device's GET /objects) or a ${INVENTORY_FORMAT} document`)
  }
  if (!Array.isArray(list)) throw new BadInputError(`${file}: objects: must be an array`)
  const objects = new Map<string, number | null>()
  list.forEach((e0, i) => {
    const e = e0 as Record<string, unknown>
    if (typeof e !== 'object' || e === null) throw new BadInputError(`${file}: entry ${i}: not an object`)
    const sha = e.sha256
    if (typeof sha !== 'string' || !isSha256Hex(sha)) throw new BadInputError(`${file}: entry ${i}: sha256 must be 64 lowercase hex characters`)
    let size: number | null = null
    if (typeof e.size === 'number' && Number.isSafeInteger(e.size) && e.size >= 0) size = e.size
    else if (typeof e.size === 'string' && /^[0-9]{1,15}$/.test(e.size)) size = Number(e.size)
    else if (e.size !== undefined) throw new BadInputError(`${file}: entry ${i}: size must be a non-negative integer (or its decimal string)`)
    objects.set(sha, size)
  })
  return { kind, file, objects, host, ...(current === undefined ? {} : { current }) }
}

const REVISION_RE = /^[A-Za-z0-9._/-]{0,128}$/

function deviceCurrent(o: Record<string, unknown>, file: string): DeviceCurrent {
  const { current, revision } = o
  const sha = o.current_sha256
  if (typeof current !== 'object' || current === null || Array.isArray(current))
    throw new BadInputError(`${file}: current: must be the state JSON the device runs (an object); take the inventory again with install.sh --inventory`)
  if (typeof sha !== 'string' || !isSha256Hex(sha))
    throw new BadInputError(`${file}: current_sha256: must be 64 lowercase hex characters; take the inventory again`)
  if (typeof revision !== 'string' || !REVISION_RE.test(revision))
    throw new BadInputError(`${file}: revision: must be the device's revision name (letters, digits, . _ / -)`)
  return { raw: new TextEncoder().encode(JSON.stringify(current)), revision, sha256: sha }
}

/** Write this library's inventory (the objects it has) into `dir`. */
export async function writeLibraryInventory(
  lib: Library,
  dir: string,
  opts: { signal?: AbortSignal; file?: string } = {},
): Promise<{ file: string; objects: number; bytes: number }> {
  const objects = lib.presentObjects().map(o => ({ sha256: o.sha, size: o.size }))
  objects.sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0))
  const doc = { format: INVENTORY_FORMAT, createdAt: new Date().toISOString(), host: hostname(), objects }
  const name = opts.file ?? PEER_INVENTORY_FILE
  await writeSmallFile(dir, name, JSON.stringify(doc, null, 1) + '\n', { signal: opts.signal })
  return { file: name, objects: objects.length, bytes: objects.reduce((a, o) => a + o.size, 0) }
}
