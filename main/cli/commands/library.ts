/**
 * Library commands: import, export, ls, show, diff, stats, verify, gc. `show`
 * and `diff` print the models of shared/library/views.ts. What only some
 * commands use (the models, export, the trust code) is imported inside them,
 * so that `ls` starts fast (`npm run bench -- startup`).
 */
import type { Command } from 'commander'
import { resolve } from 'node:path'
import { nameFromFileName } from '../../store/library.js'
import type { LeaseHolder } from '../../store/leases.js'
import { verifyLibrary, collectGarbage } from '../../store/maintenance.js'
import { UsageError } from '../../../shared/errors.js'
import type { Cli } from '../cli.js'
import { formatBytes, table } from '../output.js'
import { diffText, showText } from '../views.js'
import { revisionSizeText } from '../../../shared/units.js'

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

/** One line on stderr when a command has to wait for another process on the same library. */
export function waitNotice(what: string): (h: LeaseHolder, waitMs: number) => void {
  return (h, waitMs) => {
    const doing = h.kind === 'exclusive' ? 'is tidying' : 'is writing'
    process.stderr.write(
      `fieldsync: another Fieldsync process (pid ${h.pid}, \`${h.command}\`: ${h.what}) ${doing} this library; ${what} waits up to ${Math.round(waitMs / 1000)} s for it\n`,
    )
  }
}

/** `--wait <seconds>` as milliseconds. */
function waitMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0 || n > 86400) throw new UsageError(`--wait ${v}: give seconds between 0 and 86400`)
  return n * 1000
}

export function register(program: Command, cli: Cli): void {
  program
    .command('import <path>')
    .description('import a revision: pvr export tarball (.tar/.tgz), pvr checkout, json+objects/ folder, or a state JSON')
    .option(
      '--name <name>',
      'name the revision (default: the file or folder name without extensions, when the revision has no name yet and no other revision has that one)',
    )
    .option('--objects <dir>', 'folder of <sha256> files to take objects from')
    .action(
      cli.action<{ name?: string; objects?: string }>(async (ctx, path: string) => {
        const app = await ctx.app()
        const bar = ctx.progress('import', 'bytes')
        const res = await app.importer.importPath(resolve(path), {
          name: ctx.opts.name,
          suggestedName: nameFromFileName(resolve(path)),
          objectsDir: ctx.opts.objects,
          signal: ctx.signal,
          onProgress: p => bar.update(p.bytes, p.totalBytes),
          onWait: waitNotice('the import'),
        })
        bar.stop()
        const what = res.missing.length === 0 ? 'complete' : `INCOMPLETE: ${res.missing.length} object(s) missing`
        const text = res.existed
          ? `already in the library: ${res.id.slice(0, 12)} ${res.name ?? ''} (nothing imported)`
          : `imported ${res.id.slice(0, 12)} ${res.name ?? ''}: ${res.objects} objects, ${formatBytes(res.bytes)} (${formatBytes(res.newBytes)} new), ${what}` +
            (res.missing.length > 0 ? '\n  missing: ' + res.missing.join('\n           ') : '')
        return {
          json: {
            id: res.id,
            name: res.name ?? null,
            objects: res.objects,
            missing: res.missing.length,
            bytes: res.bytes,
            missingObjects: res.missing,
            existed: res.existed,
          },
          text,
        }
      }),
    )

  program
    .command('export <rev> <file>')
    .description('write a pvr export tarball (gzip when the name ends in .tgz or .gz, stored uncompressed inside unless --compress)')
    .option('--parts <part>', 'only this part (repeat for several); #spec is always kept', collect)
    .option('--compress', 'deflate the .tgz for real (smaller when objects compress, many times slower); default: stored, as fast as a copy')
    .action(
      cli.action<{ parts?: string[]; compress?: boolean }>(async (ctx, rev: string, file: string) => {
        const { exportRevision, isGzipName } = await import('../../store/export.js')
        if (ctx.opts.compress === true && !isGzipName(file)) throw new UsageError(`--compress: ${file} is a plain .tar; name it .tgz to compress it`)
        const app = await ctx.app()
        const info = app.library.resolve(rev)
        const bar = ctx.progress('export', 'bytes')
        const res = await exportRevision(app.library, info.id, resolve(file), {
          parts: ctx.opts.parts,
          compress: ctx.opts.compress === true,
          signal: ctx.signal,
          onProgress: p => bar.update(p.bytes, p.totalBytes),
        })
        bar.stop()
        return {
          json: { id: info.id, file: res.file, bytes: res.bytes, objects: res.objects },
          text: `exported ${info.name} to ${res.file}: ${res.objects} objects, ${formatBytes(res.bytes)}`,
        }
      }),
    )

  program
    .command('ls')
    .description('list the revisions in the library')
    .action(
      cli.action(async ctx => {
        const app = await ctx.app()
        const revs = app.library.list()
        // The trust code loads only when there is a signature to check.
        const { revisionSignatureSummary } = revs.length > 0 ? await import('./trust.js') : { revisionSignatureSummary: undefined }
        const sigs = new Map<string, string>()
        for (const r of revs) sigs.set(r.id, await (revisionSignatureSummary as NonNullable<typeof revisionSignatureSummary>)(app, r.id))
        const json = revs.map(r => ({
          id: r.id,
          name: r.name,
          names: r.names,
          spec: r.spec,
          objects: r.objects,
          missing: r.missing,
          bytes: r.bytes,
          complete: r.complete,
          source: r.source,
          importedAt: new Date(r.importedAt).toISOString(),
          signature: sigs.get(r.id),
        }))
        const text =
          revs.length === 0
            ? 'the library is empty: import a revision with `fieldsync import <tarball|checkout|state.json>`'
            : table(
                revs.map(r => [
                  r.id.slice(0, 12),
                  r.name,
                  revisionSizeText(r),
                  `${r.objects}`,
                  r.complete ? 'complete' : `INCOMPLETE (${r.missing} missing)`,
                  new Date(r.importedAt).toISOString().slice(0, 16).replace('T', ' '),
                  sigs.get(r.id) ?? '',
                ]),
                ['ID', 'NAME', 'SIZE', 'OBJECTS', 'STATUS', 'IMPORTED', 'SIGNATURES'],
              )
        return { json, text }
      }),
    )

  program
    .command('show <rev>')
    .description('show a revision: BSP, containers, objects and sizes, signatures')
    .action(
      cli.action(async (ctx, rev: string) => {
        const app = await ctx.app()
        const info = app.library.resolve(rev)
        const { signatureView } = await import('../../trust/view.js')
        const sig = signatureView(app.library.state(info.id).raw, await app.trustStore())
        const { revisionDetail, revisionSummary } = await import('../../../shared/library/views.js')
        const model = revisionDetail(app.library, revisionSummary(info, sig.status), sig.report)
        return { json: model, text: showText(model) }
      }),
    )

  program
    .command('diff <a> <b>')
    .description('what changes from revision a to revision b, and the bytes a device running a needs')
    .action(
      cli.action(async (ctx, a: string, b: string) => {
        const app = await ctx.app()
        const { revisionDiff } = await import('../../../shared/library/views.js')
        const model = revisionDiff(app.library, app.library.resolve(a), app.library.resolve(b))
        return { json: model, text: diffText(model) }
      }),
    )

  program
    .command('stats')
    .description('revisions, objects, and what deduplication saves')
    .action(
      cli.action(async ctx => {
        const app = await ctx.app()
        const s = app.library.stats()
        return {
          json: s,
          text: `${s.revisions} revisions, ${s.objects} objects\nstored ${formatBytes(s.storedBytes)} on disk for ${formatBytes(s.logicalBytes)} of revisions (${formatBytes(Math.max(0, s.logicalBytes - s.storedBytes))} saved by deduplication)\nlibrary: ${ctx.home}`,
        }
      }),
    )

  program
    .command('verify')
    .description('re-hash every object; report corrupt and missing ones')
    .option('--repair', 'move corrupt objects aside and mark their revisions incomplete')
    .option(
      '--wait <seconds>',
      'how long to wait for another Fieldsync process that holds this library (default: 60 with --repair, for writers; 600 without, for a gc; 0: refuse at once)',
    )
    .action(
      cli.action<{ repair?: boolean; wait?: string }>(async ctx => {
        const wait = waitMs(ctx.opts.wait)
        const app = await ctx.app()
        const bar = ctx.progress('verify', 'bytes')
        const r = await verifyLibrary(app.library, {
          repair: ctx.opts.repair === true,
          waitMs: wait,
          onWait: waitNotice(ctx.opts.repair === true ? 'verify --repair' : 'verify'),
          signal: ctx.signal,
          onProgress: p => bar.update(p.bytes, p.totalBytes),
        })
        bar.stop()
        const ok = r.corrupt.length === 0 && r.missing.length === 0
        const lines = [`checked ${r.checked} objects: ${r.corrupt.length} corrupt, ${r.missing.length} missing`]
        for (const s of r.corrupt) lines.push(`  corrupt ${s}${ctx.opts.repair === true ? ' (moved aside)' : ''}`)
        for (const s of r.missing) lines.push(`  missing ${s}`)
        if (!ok && ctx.opts.repair !== true)
          lines.push('run `fieldsync verify --repair` to move corrupt objects aside; pull or import the revisions again to restore them')
        return { json: r, text: lines.join('\n'), exitCode: ok || ctx.opts.repair === true ? 0 : 1 }
      }),
    )

  program
    .command('gc')
    .description('remove objects that no revision uses (waits for imports and pulls in other processes to finish)')
    .option('--wait <seconds>', 'how long to wait for other Fieldsync processes writing this library (default 60; 0: refuse at once)')
    .action(
      cli.action<{ wait?: string }>(async ctx => {
        const wait = waitMs(ctx.opts.wait)
        const app = await ctx.app()
        const r = await collectGarbage(app.library, { signal: ctx.signal, waitMs: wait, onWait: waitNotice('gc') })
        return { json: r, text: `removed ${r.removed} objects, ${formatBytes(r.bytes)} freed` }
      }),
    )
}
