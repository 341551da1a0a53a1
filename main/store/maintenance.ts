/**
 * verify and gc over the whole library. gc and verify --repair remove or
 * move objects, so they take the home to themselves (an exclusive lease,
 * leases.ts): they wait up to `waitMs` for writers in other processes to
 * finish, and refuse (E_BUSY) naming the one still at work after that. A
 * plain verify runs beside writers (a shared lease).
 */
import { AbortedError } from '../../shared/errors.js'
import type { Library } from './library.js'
import type { LeaseHolder } from './leases.js'

export interface VerifyReport {
  checked: number
  corrupt: string[]
  missing: string[]
}

export interface WaitOptions {
  /** How long to wait for other writers (default LeaseTuning.exclusiveWaitMs; 0: refuse at once). */
  waitMs?: number
  /** Called once when it has to wait, with who it waits for. */
  onWait?: (holder: LeaseHolder, waitMs: number) => void
}

export async function verifyLibrary(
  lib: Library,
  opts: WaitOptions & { repair?: boolean; signal?: AbortSignal; onProgress?: (p: { bytes: number; totalBytes: number }) => void } = {},
): Promise<VerifyReport> {
  const lease = await lib.lease(opts.repair === true ? 'exclusive' : 'shared', opts.repair === true ? 'verify --repair' : 'verify', {
    signal: opts.signal,
    waitMs: opts.waitMs,
    onWait: opts.onWait,
  })
  try {
    return await verifyUnderLease(lib, opts)
  } finally {
    lease.release()
  }
}

async function verifyUnderLease(
  lib: Library,
  opts: { repair?: boolean; signal?: AbortSignal; onProgress?: (p: { bytes: number; totalBytes: number }) => void },
): Promise<VerifyReport> {
  const objs = lib.presentObjects()
  const total = objs.reduce((a, o) => a + (o.size ?? 0), 0)
  let done = 0
  const report: VerifyReport = { checked: 0, corrupt: [], missing: [] }
  for (const o of objs) {
    if (opts.signal?.aborted === true) throw new AbortedError('verify cancelled')
    const r = await lib.objects.verify(o.sha, opts.signal)
    report.checked++
    done += o.size ?? 0
    opts.onProgress?.({ bytes: done, totalBytes: total })
    if (r === 'ok') {
      const size = await lib.objects.size(o.sha)
      if (size !== o.size && size !== undefined) lib.objectPresent(o.sha, size)
      continue
    }
    if (r === 'missing') {
      report.missing.push(o.sha)
      if (opts.repair === true) lib.objectAbsent(o.sha)
    } else {
      report.corrupt.push(o.sha)
      if (opts.repair === true) {
        await lib.objects.quarantine(o.sha)
        lib.objectAbsent(o.sha)
      }
    }
  }
  return report
}

export async function collectGarbage(lib: Library, opts: WaitOptions & { signal?: AbortSignal } = {}): Promise<{ removed: number; bytes: number }> {
  const lease = await lib.lease('exclusive', 'gc', { signal: opts.signal, waitMs: opts.waitMs, onWait: opts.onWait })
  try {
    return await collectUnderLease(lib, opts)
  } finally {
    lease.release()
  }
}

async function collectUnderLease(lib: Library, opts: { signal?: AbortSignal }): Promise<{ removed: number; bytes: number }> {
  let removed = 0
  let bytes = 0
  // Index entries no revision uses.
  for (const sha of lib.unreferencedObjects()) {
    if (opts.signal?.aborted === true) throw new AbortedError('gc cancelled')
    const size = await lib.objects.size(sha)
    if (size !== undefined) {
      bytes += size
      await lib.objects.remove(sha)
      removed++
    }
    lib.forgetObject(sha)
  }
  // Files in the pool the index does not count as present (left by an
  // interrupted import or pull): adopt them when a revision needs them and
  // their bytes verify, remove them otherwise.
  const known = new Set(lib.presentObjects().map(o => o.sha))
  for (const sha of await lib.objects.list()) {
    if (known.has(sha)) continue
    if (opts.signal?.aborted === true) throw new AbortedError('gc cancelled')
    const size = (await lib.objects.size(sha)) ?? 0
    if (lib.referencedBy(sha).length > 0 && (await lib.objects.verify(sha, opts.signal)) === 'ok') {
      lib.objectPresent(sha, size)
      continue
    }
    bytes += size
    await lib.objects.remove(sha)
    removed++
  }
  return { removed, bytes }
}
