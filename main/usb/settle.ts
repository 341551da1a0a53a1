/**
 * "Safe to remove" is said only once the data is on the medium. The export
 * has fsynced every file and every folder it wrote (sink.ts); this asks the
 * operating system to write back everything it still holds for the stick's
 * file system: `sync -f <dir>` (syncfs(2)) on Linux, `sync` on macOS and the
 * BSDs. Windows has no such tool, and FlushFileBuffers (what fsync is there)
 * already reached the device for each file.
 */
import type { UsbSyncView } from '../../shared/api/types.js'
import type { Logger } from '../../shared/log.js'
import { runTool } from './run-tool.js'

/** syncfs: the stick's file system written back; sync: every file system; fsync: each file and folder only; failed: not confirmed. */
export type StickSync = UsbSyncView

export async function syncStick(dir: string, opts: { log: Logger; signal?: AbortSignal; platform?: NodeJS.Platform }): Promise<StickSync> {
  const platform = opts.platform ?? process.platform
  if (platform === 'win32') return { how: 'fsync', safeToRemove: true, problem: null }
  const args = platform === 'linux' ? ['-f', dir] : []
  const r = await runTool('sync', args, { signal: opts.signal })
  if (!r.missing && r.code === 0) return { how: platform === 'linux' ? 'syncfs' : 'sync', safeToRemove: true, problem: null }
  const problem = r.missing ? 'the sync tool is not installed' : `sync ${args.join(' ')} failed${r.output === '' ? '' : `: ${r.output}`}`
  opts.log('%s: could not confirm the data is on the medium (%s)', dir, problem)
  return { how: 'failed', safeToRemove: false, problem }
}
