/** Temporary folders that tests remove after themselves. */
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

export async function tempDir(t: TestContext | { after: (fn: () => Promise<void>) => void }, prefix = 'fieldsync-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  t.after(async () => {
    await rm(d, { recursive: true, force: true })
  })
  return d
}

/** Damage a file: invert the byte at `offset` (writing a fixed byte would change nothing where it already stands). */
export async function flipByte(file: string, offset: number, mask = 0xff): Promise<void> {
  const fh = await open(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    await fh.read(b, 0, 1, offset)
    b[0] ^= mask
    await fh.write(b, 0, 1, offset)
  } finally {
    await fh.close()
  }
}
