/** Temporary folders that tests remove after themselves. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

export async function tempDir (t: TestContext | { after: (fn: () => Promise<void>) => void }, prefix = 'fieldsync-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  t.after(async () => { await rm(d, { recursive: true, force: true }) })
  return d
}
