/**
 * Receipts: what install.sh did on each device it ran on, written back onto
 * the stick as `receipts/<device>-<step>-<time>.json` (fieldsync-receipt@1):
 * the device's id and nick, the revision of the stick it installed, the step
 * it created, the state before and after, the final progress, the time.
 *
 * A receipt comes from removable media written by a shell script on a
 * device that may have lost power mid-write: each one is read with a cap,
 * checked field by field, and checked against the stick's manifest (it must
 * name a revision this stick carried, with the state JSON the stick carried
 * for it) before anything of it is used (house rule 5). A receipt that fails
 * any check is reported with its problem and none of it is imported.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isSha256Hex } from '../../shared/ids.js'
import { RECEIPT_FORMAT, RECEIPTS_DIR } from './layout.js'
import type { Manifest, StickRevision } from './manifest.js'
import { readSmallStickFile } from './stick-file.js'

/** The largest receipt read: install.sh writes well under 2 KiB. */
export const MAX_RECEIPT = 64 << 10

/** The statuses a receipt may end in: Pantavisor's progress statuses, and REFUSED when install.sh stopped before running anything. */
export const RECEIPT_STATUSES = ['NEW', 'QUEUED', 'DOWNLOADING', 'INPROGRESS', 'TESTING', 'DONE', 'UPDATED', 'ERROR', 'WONTGO', 'REFUSED'] as const
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number]
/** Statuses that mean the device took the revision. */
export const RECEIPT_SUCCESS: ReadonlySet<string> = new Set(['DONE', 'UPDATED'])

export interface Receipt {
  file: string
  device: { id: string; nick: string }
  /** The stick's revision: its name there, and (from the manifest) its id. */
  revision: { name: string; id: string; libraryNames: string[] }
  /** `locals/<name>`, or null when install.sh stopped before storing a step. */
  step: string | null
  before: { revision: string; stateSha256: string | null }
  after: { revision: string; stateSha256: string | null }
  progress: { status: ReceiptStatus; progress: number; message: string }
  startedAt: number
  endedAt: number
}

export interface DamagedReceipt {
  file: string
  problem: string
}

export interface ReceiptsRead {
  receipts: Receipt[]
  damaged: DamagedReceipt[]
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/
const STEP_RE = /^locals\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const REV_RE = /^[A-Za-z0-9._/-]{0,128}$/
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

class Bad extends Error {}

function str(o: Record<string, unknown>, key: string, where: string, max: number): string {
  const v = o[key]
  if (typeof v !== 'string') throw new Bad(`${where}${key}: missing or not a string`)
  if (v.length > max) throw new Bad(`${where}${key}: longer than ${max} characters`)
  if ([...v].some(ch => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) throw new Bad(`${where}${key}: holds control characters`)
  return v
}

function obj(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = o[key]
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad(`${key}: missing or not an object`)
  return v as Record<string, unknown>
}

function shaOrNull(o: Record<string, unknown>, key: string, where: string): string | null {
  const v = str(o, key, where, 64)
  if (v === '') return null
  if (!isSha256Hex(v)) throw new Bad(`${where}${key}: not a sha256 (64 lowercase hex characters)`)
  return v
}

function time(o: Record<string, unknown>, key: string): number {
  const v = str(o, key, '', 32)
  const t = Date.parse(v)
  if (!TIME_RE.test(v) || Number.isNaN(t)) throw new Bad(`${key}: not a time as install.sh writes it (YYYY-MM-DDThh:mm:ssZ)`)
  return t
}

/** Check one receipt's text against the stick's manifest; throws `Bad` naming the first problem. */
function checkReceipt(text: string, file: string, byName: ReadonlyMap<string, { rev: StickRevision; jsonSha: string | null }>): Receipt {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new Bad(`not valid JSON (${(err as Error).message}): cut short or damaged`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Bad('not a JSON object')
  const o = json as Record<string, unknown>
  if (o.format !== RECEIPT_FORMAT) throw new Bad(`format ${JSON.stringify(o.format)}: this Fieldsync reads ${RECEIPT_FORMAT}`)
  const dev = obj(o, 'device')
  const id = str(dev, 'id', 'device.', 128)
  if (!ID_RE.test(id)) throw new Bad('device.id: letters, digits and . _ : @ + -, starting with a letter or digit')
  const nick = str(dev, 'nick', 'device.', 128)
  const rev = obj(o, 'revision')
  const name = str(rev, 'name', 'revision.', 64)
  const carried = byName.get(name)
  if (carried === undefined) throw new Bad(`revision.name: ${JSON.stringify(name)} is not a revision this stick carries (its manifest does not list it)`)
  const jsonSha = shaOrNull(rev, 'json_sha256', 'revision.')
  if (jsonSha === null || jsonSha !== carried.jsonSha) throw new Bad(`revision.json_sha256: not the state JSON this stick carries for ${name}`)
  const stepText = str(o, 'step', '', 72)
  if (stepText !== '' && !STEP_RE.test(stepText)) throw new Bad('step: not locals/<name>')
  const before = obj(o, 'before')
  const after = obj(o, 'after')
  const beforeRev = str(before, 'revision', 'before.', 128)
  const afterRev = str(after, 'revision', 'after.', 128)
  if (!REV_RE.test(beforeRev) || !REV_RE.test(afterRev)) throw new Bad('before/after.revision: not a revision name')
  const p = obj(o, 'progress')
  const status = str(p, 'status', 'progress.', 16)
  if (!(RECEIPT_STATUSES as readonly string[]).includes(status)) throw new Bad(`progress.status: ${JSON.stringify(status)} is not a progress status`)
  const pct = p.progress
  if (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 0 || pct > 100) throw new Bad('progress.progress: a whole number 0-100')
  const message = str(p, 'message', 'progress.', 512)
  if (status !== 'REFUSED' && stepText === '') throw new Bad(`step: missing although the device reported ${status}`)
  const startedAt = time(o, 'started')
  const endedAt = time(o, 'time')
  if (endedAt < startedAt) throw new Bad('time: before started')
  return {
    file,
    device: { id, nick },
    revision: { name, id: carried.rev.id, libraryNames: carried.rev.libraryNames },
    step: stepText === '' ? null : stepText,
    before: { revision: beforeRev, stateSha256: shaOrNull(before, 'state_sha256', 'before.') },
    after: { revision: afterRev, stateSha256: shaOrNull(after, 'state_sha256', 'after.') },
    progress: { status: status as ReceiptStatus, progress: pct, message },
    startedAt,
    endedAt,
  }
}

/** Read and check every receipt in `<dir>/receipts/`; files install.sh is still writing (`.tmp`) are left alone. */
export async function readReceipts(dir: string, manifest: Manifest, opts: { signal?: AbortSignal } = {}): Promise<ReceiptsRead> {
  const folder = join(dir, RECEIPTS_DIR)
  let names: string[]
  try {
    names = await readdir(folder)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { receipts: [], damaged: [] }
    throw err
  }
  const byName = new Map(manifest.revisions.map(r => [r.name, { rev: r, jsonSha: manifest.files.find(f => f.path === `${r.name}.json`)?.sha256 ?? null }]))
  const receipts: Receipt[] = []
  const damaged: DamagedReceipt[] = []
  for (const name of names.filter(n => n.endsWith('.json')).sort()) {
    const file = join(RECEIPTS_DIR, name)
    const got = await readSmallStickFile(join(folder, name), MAX_RECEIPT, opts.signal)
    if (!Buffer.isBuffer(got)) {
      damaged.push({ file, problem: got.kind === 'too-large' ? 'too large for a receipt' : got.message })
      continue
    }
    try {
      receipts.push(checkReceipt(got.toString('utf8'), file, byName))
    } catch (err) {
      if (!(err instanceof Bad)) throw err
      damaged.push({ file, problem: err.message })
    }
  }
  return { receipts, damaged }
}
