/**
 * Inventories: the objects a target already has, so a stick carries only the
 * rest. Two shapes are read alike:
 *   - a device's `GET /objects` answer as it is (`pvcontrol objects ls`,
 *     `install.sh --inventory`): `[{"sha256": "...", "size": "<bytes>"}]`;
 *   - a laptop's `fieldsync usb inventory`: `{"format":
 *     "fieldsync-inventory@1", "objects": [{"sha256", "size"}]}`.
 */
import { hostname } from 'node:os'
import { BadInputError, NotFoundError } from '../../shared/errors.js'
import { isSha256Hex } from '../../shared/ids.js'
import { INVENTORY_FORMAT, PEER_INVENTORY_FILE } from './layout.js'
import { writeSmallFile } from './sink.js'
import { readSmallStickFile } from './stick-file.js'
import type { Library } from '../store/library.js'

export interface Inventory {
  kind: 'device' | 'laptop'
  file: string
  /** sha256 → size (null when the inventory gave none). */
  objects: Map<string, number | null>
  host?: string
}

/** The largest inventory read (a device with a million objects writes about 100 MiB). */
export const MAX_INVENTORY = 256 << 20

export async function readInventory (file: string, opts: { signal?: AbortSignal } = {}): Promise<Inventory> {
  // Usually on the stick (device-inventory.json, fieldsync-inventory.json): read as any stick file.
  const got = await readSmallStickFile(file, MAX_INVENTORY, opts.signal)
  if (!Buffer.isBuffer(got)) {
    if (got.kind === 'missing') throw new NotFoundError(`${file}: no such inventory file (write one with install.sh --inventory on the device, or fieldsync usb inventory on the other laptop)`)
    throw new BadInputError(`${got.message}${got.kind === 'too-large' ? ' (too large for an inventory)' : ''}`, { file, problem: got.kind })
  }
  return parseInventory(got.toString('utf8'), file)
}

export function parseInventory (text: string, file: string): Inventory {
  let json: unknown
  try { json = JSON.parse(text) } catch (err) {
    throw new BadInputError(`${file}: not valid JSON (${(err as Error).message}); an inventory is the device's GET /objects answer or a fieldsync usb inventory file`)
  }
  let list: unknown
  let kind: Inventory['kind']
  let host: string | undefined
  if (Array.isArray(json)) {
    list = json
    kind = 'device'
  } else if (typeof json === 'object' && json !== null && (json as Record<string, unknown>).format === INVENTORY_FORMAT) {
    const o = json as Record<string, unknown>
    list = o.objects
    kind = 'laptop'
    if (typeof o.host === 'string') host = o.host
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
  return { kind, file, objects, host }
}

/** Write this library's inventory (the objects it has) into `dir`. */
export async function writeLibraryInventory (lib: Library, dir: string, opts: { signal?: AbortSignal, file?: string } = {}): Promise<{ file: string, objects: number, bytes: number }> {
  const objects = lib.presentObjects().map(o => ({ sha256: o.sha, size: o.size }))
  objects.sort((a, b) => a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0)
  const doc = { format: INVENTORY_FORMAT, createdAt: new Date().toISOString(), host: hostname(), objects }
  const name = opts.file ?? PEER_INVENTORY_FILE
  await writeSmallFile(dir, name, JSON.stringify(doc, null, 1) + '\n', { signal: opts.signal })
  return { file: name, objects: objects.length, bytes: objects.reduce((a, o) => a + o.size, 0) }
}
