/**
 * A local transaction's objects folder: flat `<sha256>` files, as pvr and
 * Pantavisor's storage keep them. An object already there with the right
 * bytes is not written again; a new one is hashed while written to a
 * temporary name and renamed into place only when its sha256 matches
 * (upstream pvtx writes whatever the archive holds).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { copyFile, link, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BadInputError, ObjectHashMismatchError } from '../../shared/errors.js'
import type { ObjectSink } from './package.js'
import { sizeMismatch } from '../../shared/units.js'

/** sha256 of a file, or null when it does not exist. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<string | null> {
  const h = createHash('sha256')
  try {
    for await (const c of createReadStream(path, { highWaterMark: 1 << 20, signal })) h.update(c as Buffer)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  return h.digest('hex')
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of body) {
    /* skip */
  }
}

function missingDir(dir: string, err: unknown): unknown {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
    ? new BadInputError(`objects folder ${dir} does not exist; create it, or begin the transaction with an objects folder that does`)
    : err
}

export class ObjectsDir implements ObjectSink {
  constructor(readonly dir: string) {}

  path(sha: string): string {
    return join(this.dir, sha)
  }

  /** True when `<dir>/<sha>` exists and holds the right bytes. */
  async hasValid(sha: string): Promise<boolean> {
    return (await hashFile(this.path(sha))) === sha
  }

  async put(sha: string, size: number, body: AsyncIterable<Uint8Array>, source: string): Promise<void> {
    if (await this.hasValid(sha)) {
      await drain(body)
      return
    }
    const tmp = join(this.dir, `.${sha}.${randomBytes(4).toString('hex')}.tmp`)
    const h = createHash('sha256')
    let n = 0
    const hasher = new Transform({
      transform(chunk: Buffer, _e, cb) {
        h.update(chunk)
        n += chunk.length
        cb(null, chunk)
      },
    })
    try {
      await pipeline(Readable.from(body), hasher, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 }))
      const got = h.digest('hex')
      if (got !== sha) throw new ObjectHashMismatchError(`${source}: object ${sha} has bytes whose sha256 is ${got}`, { sha, actual: got })
      if (n !== size) throw new ObjectHashMismatchError(`${source}: object ${sha} is ${sizeMismatch(n, size, "archive's")}`, { sha })
      await rename(tmp, this.path(sha))
    } catch (err) {
      await rm(tmp, { force: true })
      throw missingDir(this.dir, err)
    }
  }

  /** Put a file already on this machine (the library's copy): hard-linked when possible, copied otherwise. */
  async putFile(sha: string, file: string): Promise<void> {
    if (await this.hasValid(sha)) return
    const dst = this.path(sha)
    await rm(dst, { force: true })
    try {
      await link(file, dst)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && (await stat(this.dir).catch(() => null)) === null) throw missingDir(this.dir, err)
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err
      const tmp = join(this.dir, `.${sha}.${randomBytes(4).toString('hex')}.tmp`)
      try {
        await copyFile(file, tmp)
        await rename(tmp, dst)
      } catch (e) {
        await rm(tmp, { force: true })
        throw e
      }
    }
  }
}
