/**
 * Before writing: is the stick there, writable, and roomy enough? Sizes are
 * exact (tgz.ts), rounded up to the file system's block size per file.
 */
import { randomBytes } from 'node:crypto'
import { open, rm, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { BadInputError, NoSpaceError } from '../../shared/errors.js'
import { mapFsError } from './errors.js'
import { formatBytes } from '../../shared/units.js'

export interface FreeSpace {
  /** Bytes available to us, or null when the file system does not say (some FUSE drivers). */
  available: number | null
  blockSize: number
}

export async function freeSpace(dir: string): Promise<FreeSpace> {
  const s = await statfs(dir)
  const blockSize = s.bsize > 0 ? s.bsize : 4096
  if (s.blocks === 0) return { available: null, blockSize }
  return { available: s.bavail * s.bsize, blockSize }
}

/** Bytes the files take on disk: each rounded up to whole blocks, plus a directory entry's worth. */
export function onDiskBytes(fileSizes: readonly number[], blockSize: number): number {
  let n = 0
  for (const b of fileSizes) n += Math.ceil(b / blockSize) * blockSize + blockSize
  return n
}

/** The folder exists and is a folder; a probe file can be created and removed there. */
export async function checkWritable(dir: string): Promise<void> {
  let st
  try {
    st = await stat(dir)
  } catch (err) {
    throw mapFsError(err, dir)
  }
  if (!st.isDirectory()) throw new BadInputError(`${dir}: not a folder; give the stick's mount point or a folder on it`)
  const probe = join(dir, `.fieldsync-probe-${randomBytes(4).toString('hex')}.tmp`)
  try {
    const fh = await open(probe, 'wx')
    await fh.close()
  } catch (err) {
    throw mapFsError(err, dir)
  }
  await rm(probe, { force: true })
}

/** Sizes in messages: shared/units.ts, the one formatter. */
export const formatSize = formatBytes

/** Throws NoSpaceError when `needed` bytes do not fit. */
export function assertFits(dir: string, needed: number, free: FreeSpace, hint: string | null): void {
  if (free.available === null) return
  if (needed > free.available) {
    // Without a hint of its own, the advice says what to do in the CLI's or the app's terms (shared/advice.ts).
    throw new NoSpaceError(
      `${dir}: the stick has ${formatSize(free.available)} free but this export needs ${formatSize(needed)}${hint === null ? '' : `; ${hint}`}`,
      { dir, needed, available: free.available, ...(hint === null ? { advice: 'stick-full' } : {}) },
    )
  }
}
