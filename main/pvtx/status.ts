/**
 * Where a pvtx transaction lives (PVTXDIR) and its status file, in upstream
 * pvtx's own layout (pvtx_txn.c), so that either tool can pick up the
 * other's transaction and upstream's tests can read it:
 *
 *   $PVTXDIR/current.json   the state being built (raw bytes)
 *   $PVTXDIR/.status        struct pvtx_txn   { int status; int is_local; char obj[4096]; }
 *                           struct pvtx_queue { struct pvtx_txn txn; char queue[4096]; int count; int error; }
 *
 * Ints are little-endian 32-bit, paths NUL-padded to PATH_MAX (4096).
 * Default PVTXDIR: /var/cache/pvtx for root ($PREFIX/var/cache/pvtx when
 * PREFIX is set), ~/.local/share/pvtx otherwise.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { BadInputError } from '../../shared/errors.js'

export const PATH_MAX = 4096
const TXN_SIZE = 4 + 4 + PATH_MAX
const QUEUE_SIZE = TXN_SIZE + PATH_MAX + 4 + 4

/** enum pvtx_txn_status. */
export const TxnStatus = { ERROR: 0, SET: 1, ACTIVE: 2, ABORTED: 3, COMMITED: 4, DEPLOYED: 5, UNKNOWN: 6 } as const

export interface TxnRecord {
  kind: 'txn' | 'queue'
  status: number
  /** Local: objects go to `obj` and the transaction ends with deploy; remote: objects go to pv-ctrl, it ends with commit. */
  isLocal: boolean
  obj: string
  /** queue only */
  queue: string
  count: number
  error: number
}

export function defaultPvtxDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PVTXDIR !== undefined && env.PVTXDIR !== '') return env.PVTXDIR
  if (process.getuid?.() === 0) return join(env.PREFIX ?? '/', 'var/cache/pvtx')
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir()
  return join(home, '.local/share/pvtx')
}

function writePath(buf: Buffer, at: number, path: string, what: string): void {
  const b = Buffer.from(path, 'utf8')
  if (b.length >= PATH_MAX) throw new BadInputError(`${what} path is ${b.length} bytes, over pvtx's limit of ${PATH_MAX - 1}`)
  b.copy(buf, at)
}

function readPath(buf: Buffer, at: number): string {
  const field = buf.subarray(at, at + PATH_MAX)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8')
}

export function encodeRecord(r: TxnRecord): Buffer {
  const buf = Buffer.alloc(r.kind === 'queue' ? QUEUE_SIZE : TXN_SIZE)
  buf.writeInt32LE(r.status, 0)
  buf.writeInt32LE(r.isLocal ? 1 : 0, 4)
  writePath(buf, 8, r.obj, 'objects')
  if (r.kind === 'queue') {
    writePath(buf, TXN_SIZE, r.queue, 'queue')
    buf.writeInt32LE(r.count, TXN_SIZE + PATH_MAX)
    buf.writeInt32LE(r.error, TXN_SIZE + PATH_MAX + 4)
  }
  return buf
}

export function decodeRecord(buf: Buffer): TxnRecord | null {
  if (buf.length < 8) return null
  const queue = buf.length >= QUEUE_SIZE
  return {
    kind: queue ? 'queue' : 'txn',
    status: buf.readInt32LE(0),
    isLocal: buf.readInt32LE(4) !== 0,
    obj: buf.length >= 8 + PATH_MAX ? readPath(buf, 8) : '',
    queue: queue ? readPath(buf, TXN_SIZE) : '',
    count: queue ? buf.readInt32LE(TXN_SIZE + PATH_MAX) : 0,
    error: queue ? buf.readInt32LE(TXN_SIZE + PATH_MAX + 4) : 0,
  }
}

/** Write a file whole or not at all: a temporary name in the same folder, then rename. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, data)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/** PVTXDIR: the status file and the state being built. */
export class PvtxDir {
  constructor(readonly path: string) {}

  get statusFile(): string {
    return join(this.path, '.status')
  }
  get jsonFile(): string {
    return join(this.path, 'current.json')
  }

  async load(): Promise<TxnRecord | null> {
    let buf: Buffer
    try {
      buf = await readFile(this.statusFile)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    return decodeRecord(buf)
  }

  async save(r: TxnRecord): Promise<void> {
    await mkdir(this.path, { recursive: true })
    await writeAtomic(this.statusFile, encodeRecord(r))
  }

  /** A new transaction or queue starts from an empty PVTXDIR (as upstream's init_pvtxdir). */
  async reset(): Promise<void> {
    await rm(this.path, { recursive: true, force: true })
    await mkdir(this.path, { recursive: true })
  }

  /** `pvtx abort`: the state and the status go (a queue's folder and objects stay). */
  async clear(): Promise<void> {
    await rm(this.jsonFile, { force: true })
    await rm(this.statusFile, { force: true })
  }

  async readJson(): Promise<Buffer> {
    return await readFile(this.jsonFile)
  }

  async writeJson(data: Uint8Array | string): Promise<void> {
    await mkdir(this.path, { recursive: true })
    await writeAtomic(this.jsonFile, data)
  }
}
