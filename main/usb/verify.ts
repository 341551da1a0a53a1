/**
 * `fieldsync usb verify`: every file the manifest names is there, has its
 * size and its sha256; left-overs of interrupted exports are reported.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { manifestFiles, readManifest, type Manifest, type StickFile } from './manifest.js'
import { hashFile, TMP_PREFIX, TMP_SUFFIX } from './sink.js'

export type FileVerdict = 'ok' | 'missing' | 'size' | 'corrupt'

export interface VerifyReport {
  dir: string
  ok: boolean
  revisions: Array<{ name: string, id: string, ok: boolean }>
  files: Array<StickFile & { verdict: FileVerdict, actualBytes?: number, actualSha256?: string }>
  /** Temporary files of an interrupted export. */
  leftovers: string[]
  bytes: number
}

export async function checkStickFile (dir: string, f: StickFile, opts: { signal?: AbortSignal, onBytes?: (n: number) => void, dropCache?: boolean } = {}): Promise<VerifyReport['files'][number]> {
  let st
  try { st = await stat(join(dir, f.path)) } catch { return { ...f, verdict: 'missing' } }
  if (!st.isFile()) return { ...f, verdict: 'missing' }
  if (st.size !== f.bytes) return { ...f, verdict: 'size', actualBytes: st.size }
  const h = await hashFile(join(dir, f.path), { signal: opts.signal, onBytes: opts.onBytes, dropCache: opts.dropCache ?? false })
  if (h.sha256 !== f.sha256) return { ...f, verdict: 'corrupt', actualBytes: h.bytes, actualSha256: h.sha256 }
  return { ...f, verdict: 'ok' }
}

export async function verifyStick (dir: string, opts: { signal?: AbortSignal, onProgress?: (p: { bytes: number, totalBytes: number, file: string }) => void, manifest?: Manifest } = {}): Promise<VerifyReport> {
  const m = opts.manifest ?? await readManifest(dir, { signal: opts.signal }) as Manifest
  const all = manifestFiles(m)
  const totalBytes = all.reduce((a, f) => a + f.bytes, 0)
  let bytes = 0
  const files: VerifyReport['files'] = []
  for (const f of all) {
    files.push(await checkStickFile(dir, f, { signal: opts.signal, onBytes: n => { bytes += n; opts.onProgress?.({ bytes, totalBytes, file: f.path }) } }))
  }
  const bad = new Set(files.filter(f => f.verdict !== 'ok').map(f => f.path))
  const revisions = m.revisions.map(r => ({
    name: r.name,
    id: r.id,
    ok: !r.parts.some(p => bad.has(p.path)) && !bad.has(r.objectsFile) && !bad.has(`${r.name}.json`),
  }))
  const leftovers = (await readdir(dir)).filter(n => n.startsWith(TMP_PREFIX) && n.endsWith(TMP_SUFFIX))
  return { dir, ok: bad.size === 0, revisions, files, leftovers, bytes }
}
