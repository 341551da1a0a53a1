/** library.* handlers: list, show, diff, import (path or upload), export, rename, remove. */
import { access, constants, open, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { RevisionSummary } from '../../../shared/api/types.js'
import { revisionDetail, revisionDiff, revisionSummary } from '../../../shared/library/views.js'
import { BadInputError, NotFoundError } from '../../../shared/errors.js'
import { exportRevision } from '../../store/export.js'
import { nameFromFileName, type RevisionInfo } from '../../store/library.js'
import type { HandlerDeps, HandlerMap } from './context.js'

type LibraryHandlers = Pick<
  HandlerMap,
  'library.list' | 'library.show' | 'library.diff' | 'library.import' | 'library.export' | 'library.rename' | 'library.remove'
>

export async function summary(deps: HandlerDeps, r: RevisionInfo): Promise<RevisionSummary> {
  return revisionSummary(r, await deps.signature(r.id))
}

async function isTarball(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false
    const fh = await open(path, 'r')
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(64), 0, 64, 0)
      return !buffer
        .subarray(0, bytesRead)
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .trimStart()
        .startsWith('{')
    } finally {
      await fh.close()
    }
  } catch {
    return false
  }
}

/** A file name for an export that does not overwrite anything. */
async function freeName(folder: string, base: string, ext: string): Promise<string> {
  const safe = base.replace(/[^A-Za-z0-9._@+-]/g, '_')
  for (let i = 1; i < 1000; i++) {
    const file = join(folder, i === 1 ? `${safe}${ext}` : `${safe}-${i}${ext}`)
    try {
      await access(file)
    } catch {
      return file
    }
  }
  throw new BadInputError(`${folder}: too many files named ${safe}*${ext}`)
}

export function libraryHandlers(deps: HandlerDeps): LibraryHandlers {
  const lib = deps.app.library
  return {
    async 'library.list'() {
      return { revisions: await Promise.all(lib.list().map(async r => await summary(deps, r))), stats: lib.stats() }
    },

    async 'library.show'({ rev }) {
      const info = lib.resolve(rev)
      return revisionDetail(lib, await summary(deps, info), await deps.signatureReport(info.id))
    },

    async 'library.diff'({ a, b }) {
      return revisionDiff(lib, lib.resolve(a), lib.resolve(b))
    },

    async 'library.import'(req) {
      const up = req.upload !== undefined ? deps.uploads.take(req.upload) : undefined
      const path = up?.path ?? (req.path as string)
      const label = `import ${up?.filename ?? basename(path)}`
      try {
        // Tarballs report bytes read; folders and bare state JSONs report objects taken.
        const unit = (await isTarball(path)) ? 'bytes' : 'items'
        const res = await deps.transfers.run(
          'import',
          label,
          async t =>
            await deps.app.importer.importPath(path, {
              name: req.name,
              // An upload's file is a temporary copy: messages name the user's file.
              label: up?.filename,
              suggestedName: nameFromFileName(up?.filename ?? path),
              source: up !== undefined ? `upload: ${up.filename}` : path,
              signal: t.signal,
              onProgress: p => {
                t.progress(p.bytes, p.totalBytes)
              },
            }),
          { totalBytes: unit === 'bytes' ? (up?.bytes ?? null) : null, unit },
        )
        return {
          id: res.id,
          name: res.name ?? null,
          objects: res.objects,
          missing: res.missing.length,
          bytes: res.bytes,
          newBytes: res.newBytes,
          existed: res.existed,
        }
      } catch (err) {
        // Kept (for an hour) so that Retry can import the same bytes again: the browser may no longer have the file.
        if (up !== undefined) deps.uploads.keep(up)
        throw err
      } finally {
        if (up !== undefined && !deps.uploads.has(up.id)) await deps.uploads.discard(up)
      }
    },

    async 'library.export'({ rev, folder, gzip, compress }) {
      const info = lib.resolve(rev)
      if (gzip === false && compress === true) throw new BadInputError('export: a plain .tar cannot be compressed; choose .tgz to compress it')
      try {
        await access(folder, constants.W_OK)
      } catch (err) {
        throw new BadInputError(`${folder}: cannot write there (${(err as NodeJS.ErrnoException).code ?? 'error'}); choose a folder you can write to`)
      }
      const file = await freeName(folder, info.name, gzip === false ? '.tar' : '.tgz')
      return await deps.transfers.run(
        'export',
        `export ${info.name}`,
        async t =>
          await exportRevision(lib, info.id, file, {
            gzip: gzip !== false,
            compress: compress === true,
            signal: t.signal,
            onProgress: p => {
              t.progress(p.bytes, p.totalBytes)
            },
          }),
      )
    },

    async 'library.rename'({ rev, name }) {
      const info = lib.resolve(rev)
      const state = lib.state(info.id)
      lib.addRevision({ raw: state.raw, parsed: state, name, source: info.source })
      const now = lib.get(info.id)
      if (now === undefined) throw new NotFoundError(`revision ${rev}: removed meanwhile`)
      deps.events.emit('revision', { id: info.id, complete: now.complete })
      return await summary(deps, now)
    },

    async 'library.remove'({ rev }) {
      const info = lib.resolve(rev)
      if (deps.transfers.running() > 0)
        throw new BadInputError(`revision ${info.name}: cannot remove it while transfers run; wait for them to finish or cancel them`)
      const lease = await lib.lease('shared', `remove ${info.name}`)
      try {
        lib.removeRevision(info.id)
        // Objects no revision uses any more go too (the safe half of gc: only
        // what the index knows, and nothing a writer in another process holds).
        lib.removeUnreferenced(lease)
      } finally {
        lease.release()
      }
      deps.events.emit('revision', { id: info.id, complete: false, removed: true })
      return { removed: info.id }
    },
  }
}
