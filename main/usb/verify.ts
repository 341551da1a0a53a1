/**
 * `fieldsync usb verify`: every file the manifest names is there (a regular
 * file), has its size and its sha256, and each tarball holds the revision
 * the manifest says; left-overs of interrupted exports are reported.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { manifestFiles, readManifest, type Manifest, type StickFile } from './manifest.js'
import { dropCache, hashHandle, TMP_PREFIX, TMP_SUFFIX } from './sink.js'
import { inspectStickFile, openStickFile } from './stick-file.js'
import { TarballStateProbe, type TarballState } from './tarball-state.js'

/** `not-a-file`: a FIFO, device, link or folder where the manifest lists a file (never read). */
export type FileVerdict = 'ok' | 'missing' | 'size' | 'corrupt' | 'not-a-file'

export interface VerifyReport {
  dir: string
  ok: boolean
  /**
   * `tarballId`: the revision the tarball's own state is (null when its
   * files are damaged, so it was not looked at); `problem`: why the revision
   * cannot be taken from this stick, when it is not one of its files.
   */
  revisions: Array<{ name: string; id: string; ok: boolean; tarballId: string | null; problem?: string }>
  files: Array<StickFile & { verdict: FileVerdict; actualBytes?: number; actualSha256?: string }>
  /** Temporary files of an interrupted export. */
  leftovers: string[]
  bytes: number
}

/**
 * One file against its manifest entry. It is opened only once it is a
 * regular file of the manifest's size (stick-file.ts), and never read past
 * that size (plus one byte, to see one that grew).
 */
export async function checkStickFile(
  dir: string,
  f: StickFile,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void; onData?: (b: Buffer) => Promise<void>; dropCache?: boolean } = {},
): Promise<VerifyReport['files'][number]> {
  const file = join(dir, f.path)
  const seen = await inspectStickFile(file, Number.MAX_SAFE_INTEGER).catch(() => null)
  if (seen === null || !('size' in seen)) return { ...f, verdict: seen?.kind === 'not-regular' ? 'not-a-file' : 'missing' }
  if (seen.size !== f.bytes) return { ...f, verdict: 'size', actualBytes: seen.size }
  if (opts.dropCache === true) await dropCache(file)
  const o = await openStickFile(file, f.bytes)
  if (!('fh' in o)) return { ...f, verdict: o.kind === 'not-regular' ? 'not-a-file' : o.kind === 'missing' ? 'missing' : 'size' }
  let h
  try {
    h = await hashHandle(o.fh, file, { signal: opts.signal, onBytes: opts.onBytes, onData: opts.onData, limit: f.bytes + 1 })
  } finally {
    await o.fh.close()
  }
  if (h.bytes !== f.bytes) return { ...f, verdict: 'size', actualBytes: h.bytes }
  if (h.sha256 !== f.sha256) return { ...f, verdict: 'corrupt', actualBytes: h.bytes, actualSha256: h.sha256 }
  return { ...f, verdict: 'ok' }
}

export async function verifyStick(
  dir: string,
  opts: { signal?: AbortSignal; onProgress?: (p: { bytes: number; totalBytes: number; file: string }) => void; manifest?: Manifest } = {},
): Promise<VerifyReport> {
  const m = opts.manifest ?? ((await readManifest(dir, { signal: opts.signal })) as Manifest)
  const all = manifestFiles(m)
  const totalBytes = all.reduce((a, f) => a + f.bytes, 0)
  let bytes = 0
  const files: VerifyReport['files'] = []
  const check = async (f: StickFile, onData?: (b: Buffer) => Promise<void>) => {
    const v = await checkStickFile(dir, f, {
      signal: opts.signal,
      onData,
      onBytes: n => {
        bytes += n
        opts.onProgress?.({ bytes, totalBytes, file: f.path })
      },
    })
    files.push(v)
    return v.verdict === 'ok'
  }
  // Each tarball's parts, walked as they are hashed (one read of the stick) for the revision its state is.
  const held = new Map<string, TarballState | null>()
  for (const r of m.revisions) {
    const probe = new TarballStateProbe(join(dir, r.tarball))
    let whole = true
    for (const p of r.parts)
      whole =
        (await check(
          p,
          whole
            ? async b => {
                await probe.write(b)
              }
            : undefined,
        )) && whole
    if (whole) held.set(r.name, await probe.finish())
    else {
      probe.destroy()
      held.set(r.name, null)
    }
  }
  for (const f of all.slice(files.length)) await check(f)
  const bad = new Set(files.filter(f => f.verdict !== 'ok').map(f => f.path))
  const revisions = m.revisions.map(r => {
    const h = held.get(r.name) ?? null
    const problem =
      h === null
        ? undefined
        : 'problem' in h
          ? h.problem
          : h.id !== r.id
            ? `${join(dir, r.tarball)}: holds revision ${h.id}, not ${r.id} as the manifest says: the stick was altered or its manifest does not belong to it`
            : undefined
    return {
      name: r.name,
      id: r.id,
      ok: problem === undefined && !r.parts.some(p => bad.has(p.path)) && !bad.has(r.objectsFile) && !bad.has(`${r.name}.json`),
      tarballId: h !== null && 'id' in h ? h.id : null,
      ...(problem === undefined ? {} : { problem }),
    }
  })
  const leftovers = (await readdir(dir)).filter(n => n.startsWith(TMP_PREFIX) && n.endsWith(TMP_SUFFIX))
  return { dir, ok: bad.size === 0 && revisions.every(r => r.problem === undefined), revisions, files, leftovers, bytes }
}
