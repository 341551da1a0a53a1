/** library.* handlers: list, show, diff, import (path or upload), export, rename, remove. */
import { access, constants, open, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { PartDetail, ObjectDetail, RevisionSummary, DiffEntry } from '../../../shared/api/types.js'
import { BadInputError, NotFoundError } from '../../../shared/errors.js'
import { cidOf } from '../../../shared/ids.js'
import { diffStates, isSha, summarizeState, type ObjectInfo } from '../../../shared/state/index.js'
import { exportRevision } from '../../store/export.js'
import { nameFromFileName, type RevisionInfo } from '../../store/library.js'
import type { HandlerDeps, HandlerMap } from './context.js'

type LibraryHandlers = Pick<HandlerMap, 'library.list' | 'library.show' | 'library.diff' | 'library.import' | 'library.export' | 'library.rename' | 'library.remove'>

export async function summary (d: HandlerDeps, r: RevisionInfo): Promise<RevisionSummary> {
  return { id: r.id, name: r.name, names: r.names, spec: r.spec, source: r.source, importedAt: r.importedAt, complete: r.complete, objects: r.objects, missing: r.missing, bytes: r.bytes, signature: await d.signature(r.id) }
}

async function isTarball (path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false
    const fh = await open(path, 'r')
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(64), 0, 64, 0)
      return !buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart().startsWith('{')
    } finally { await fh.close() }
  } catch { return false }
}

/** A file name for an export that does not overwrite anything. */
async function freeName (folder: string, base: string, ext: string): Promise<string> {
  const safe = base.replace(/[^A-Za-z0-9._@+-]/g, '_')
  for (let i = 1; i < 1000; i++) {
    const file = join(folder, i === 1 ? `${safe}${ext}` : `${safe}-${i}${ext}`)
    try { await access(file) } catch { return file }
  }
  throw new BadInputError(`${folder}: too many files named ${safe}*${ext}`)
}

export function libraryHandlers (d: HandlerDeps): LibraryHandlers {
  const lib = d.app.library
  return {
    async 'library.list' () {
      return { revisions: await Promise.all(lib.list().map(async r => await summary(d, r))), stats: lib.stats() }
    },

    async 'library.show' ({ rev }) {
      const info = lib.resolve(rev)
      const state = lib.state(info.id)
      const objs = lib.objectsOf(info.id)
      const bySha = new Map(objs.map(o => [o.sha, o]))
      const sum = summarizeState(state, sha => bySha.get(sha)?.size ?? null)
      const shared = new Map<string, number>()
      for (const sha of bySha.keys()) shared.set(sha, Math.max(0, lib.referencedBy(sha).length - 1))
      const detail = (o: ObjectInfo): ObjectDetail => ({ key: o.key, sha: o.sha, cid: cidOf(o.sha), size: o.size, present: bySha.get(o.sha)?.present ?? false, sharedWith: shared.get(o.sha) ?? 0 })
      const sharedBytesOf = (list: ObjectInfo[]) => {
        const seen = new Set<string>()
        let n = 0
        for (const o of list) {
          if (seen.has(o.sha)) continue
          seen.add(o.sha)
          if ((shared.get(o.sha) ?? 0) > 0) n += o.size ?? 0
        }
        return n
      }
      const parts: PartDetail[] = []
      if (sum.bsp !== null) parts.push({ name: 'bsp', kind: 'bsp', bytes: sum.bsp.bytes, sharedBytes: sharedBytesOf(sum.bsp.objects), objects: sum.bsp.objects.map(detail) })
      for (const c of sum.containers) {
        const p: PartDetail = { name: c.name, kind: 'container', bytes: c.bytes, sharedBytes: sharedBytesOf(c.objects), objects: c.objects.map(detail) }
        if (c.group !== undefined) p.group = c.group
        if (c.status_goal !== undefined) p.statusGoal = c.status_goal
        parts.push(p)
      }
      if (sum.other.length > 0) {
        const seen = new Set<string>()
        const bytes = sum.other.reduce((a, o) => { if (seen.has(o.sha)) return a; seen.add(o.sha); return a + (o.size ?? 0) }, 0)
        parts.push({ name: 'other', kind: 'other', bytes, sharedBytes: sharedBytesOf(sum.other), objects: sum.other.map(detail) })
      }
      return { revision: await summary(d, info), signatureReport: await d.signatureReport(info.id), parts, signatures: sum.signatures, keys: state.keys.length, sharedBytes: sharedBytesOf(sum.objects) }
    },

    async 'library.diff' ({ a, b }) {
      const ra = lib.resolve(a)
      const rb = lib.resolve(b)
      const sa = lib.state(ra.id)
      const sb = lib.state(rb.id)
      const diff = diffStates(sa, sb, sha => lib.objectSize(sha))
      const entry = (json: Record<string, unknown>) => (key: string): DiffEntry => {
        const v = json[key]
        return { key, bytes: isSha(v) ? lib.objectSize(v) : null }
      }
      return {
        a: { id: ra.id, name: ra.name },
        b: { id: rb.id, name: rb.name },
        added: diff.added.map(entry(sb.json)),
        removed: diff.removed.map(entry(sa.json)),
        changed: diff.changed.map(entry(sb.json)),
        transferBytes: diff.transferBytes,
        transferObjects: diff.transferObjects.length,
        unknownSizes: diff.unknownSizes.length,
      }
    },

    async 'library.import' (req) {
      const up = req.upload !== undefined ? d.uploads.take(req.upload) : undefined
      const path = up?.path ?? req.path as string
      const label = `import ${up?.filename ?? basename(path)}`
      try {
        // Tarballs report bytes read; folders and bare state JSONs report objects taken.
        const unit = await isTarball(path) ? 'bytes' : 'items'
        const res = await d.transfers.run('import', label, async (t) => await d.app.importer.importPath(path, {
          name: req.name,
          // An upload's file is a temporary copy: messages name the user's file.
          label: up?.filename,
          suggestedName: nameFromFileName(up?.filename ?? path),
          source: up !== undefined ? `upload: ${up.filename}` : path,
          signal: t.signal,
          onProgress: p => { t.progress(p.bytes, p.totalBytes) },
        }), { totalBytes: unit === 'bytes' ? up?.bytes ?? null : null, unit })
        return { id: res.id, name: res.name ?? null, objects: res.objects, missing: res.missing.length, bytes: res.bytes, newBytes: res.newBytes, existed: res.existed }
      } finally {
        if (up !== undefined) await d.uploads.discard(up)
      }
    },

    async 'library.export' ({ rev, folder, gzip, compress }) {
      const info = lib.resolve(rev)
      if (gzip === false && compress === true) throw new BadInputError('export: a plain .tar cannot be compressed; choose .tgz to compress it')
      try { await access(folder, constants.W_OK) } catch (err) {
        throw new BadInputError(`${folder}: cannot write there (${(err as NodeJS.ErrnoException).code ?? 'error'}); choose a folder you can write to`)
      }
      const file = await freeName(folder, info.name, gzip === false ? '.tar' : '.tgz')
      return await d.transfers.run('export', `export ${info.name}`, async (t) => await exportRevision(lib, info.id, file, {
        gzip: gzip !== false,
        compress: compress === true,
        signal: t.signal,
        onProgress: p => { t.progress(p.bytes, p.totalBytes) },
      }))
    },

    async 'library.rename' ({ rev, name }) {
      const info = lib.resolve(rev)
      const state = lib.state(info.id)
      lib.addRevision({ raw: state.raw, parsed: state, name, source: info.source })
      const now = lib.get(info.id)
      if (now === undefined) throw new NotFoundError(`revision ${rev}: removed meanwhile`)
      d.events.emit('revision', { id: info.id, complete: now.complete })
      return await summary(d, now)
    },

    async 'library.remove' ({ rev }) {
      const info = lib.resolve(rev)
      if (d.transfers.running() > 0) throw new BadInputError(`revision ${info.name}: cannot remove it while transfers run; wait for them to finish or cancel them`)
      const lease = await lib.lease('shared', `remove ${info.name}`)
      try {
        lib.removeRevision(info.id)
        // Objects no revision uses any more go too (the safe half of gc: only
        // what the index knows, and nothing a writer in another process holds).
        lib.removeUnreferenced(lease)
      } finally {
        lease.release()
      }
      d.events.emit('revision', { id: info.id, complete: false, removed: true })
      return { removed: info.id }
    },
  }
}
