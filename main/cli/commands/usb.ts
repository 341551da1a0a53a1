/** USB stick commands: export, inventory, import, verify, receipts (main/usb). */
import { Option, type Command } from 'commander'
import { resolve } from 'node:path'
import { UsageError } from '../../../shared/errors.js'
import { UsbExporter, UsbImporter, ejectStick, verifyStick, writeLibraryInventory, type StickSync } from '../../usb/index.js'
import { DeviceStore } from '../../devices/store.js'
import { writeReport } from '../../devices/rollout/index.js'
import { importReceipts } from '../../usb/receipt-import.js'
import type { Cli } from '../cli.js'
import { formatBytes, table } from '../output.js'
import { sizeMismatch } from '../../../shared/units.js'

function positiveInt(v: string): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${v}: a positive number of bytes`)
  return n
}

export function register(program: Command, cli: Cli): void {
  const usb = program.command('usb').description('carry revisions on a USB stick: to devices (install.sh) and between laptops')

  usb
    .command('export')
    .argument('<rev...>', 'revisions (names or ids), then the stick folder last')
    .usage('[options] <rev>... <dir>')
    .description('write revisions onto a stick: pvr export tarballs, install.sh, README.txt, SHA256SUMS and a manifest')
    .option(
      '--for-device <inventory>',
      'only the objects this device lacks (install.sh --inventory); a package is composed onto the state the inventory says the device runs',
    )
    .option('--for-peer <inventory>', 'only the objects another laptop lacks (its fieldsync usb inventory file)')
    .addOption(new Option('--split-size <bytes>', 'largest file written (FAT32: under 4 GiB)').argParser(positiveInt).hideHelp())
    .addOption(new Option('--no-drop-cache', 'read back from the page cache instead of the medium').hideHelp())
    .action(
      cli.action<{ forDevice?: string; forPeer?: string; splitSize?: number; dropCache?: boolean }>(async (ctx, args: string[]) => {
        if (args.length < 2) throw new UsageError('usb export: give one or more revisions, then the stick folder')
        const dir = resolve(args[args.length - 1])
        const revs = args.slice(0, -1)
        const app = await ctx.app()
        const exporter = new UsbExporter({ library: app.library, log: ctx.log, trust: await app.trustStore() })
        const bar = ctx.progress('usb export', 'bytes')
        const res = await exporter.export({
          revisions: revs,
          dir,
          forDevice: ctx.opts.forDevice === undefined ? undefined : resolve(ctx.opts.forDevice),
          forPeer: ctx.opts.forPeer === undefined ? undefined : resolve(ctx.opts.forPeer),
          splitSize: ctx.opts.splitSize,
          dropCache: ctx.opts.dropCache,
          signal: ctx.signal,
          onProgress: p => {
            bar.update(p.bytes, p.totalBytes, p.phase === 'verify' ? 'reading back' : p.phase === 'check' ? `checking ${p.file}` : p.file)
          },
        })
        bar.stop()
        const rows = res.revisions.map(r => [
          r.name,
          r.files.length === 1 ? r.files[0] : `${r.tarball} (${r.files.length} parts)`,
          formatBytes(r.bytes),
          r.included === r.objects
            ? `${r.objects} objects`
            : `${r.included} of ${r.objects} objects (${res.mode === 'device' ? 'the device lacks them' : 'the other laptop lacks them'})`,
          r.written ? 'written, read back' : 'already there (hashed)',
        ])
        // Packages composed here onto the state the device's inventory carries.
        const composed = res.revisions
          .filter(r => r.onto !== undefined)
          .map(
            r =>
              `${r.name}: a package, composed here onto what the device runs (${r.onto?.revision === '' ? 'its state' : r.onto?.revision}, ${r.onto?.stateId.slice(0, 12)}): the stick carries the whole composed state ${r.id.slice(0, 12)}; install.sh installs it only while the device still runs that state`,
          )
        const next =
          res.mode === 'peer'
            ? 'on the other laptop: fieldsync usb import <stick>'
            : `on the device: sh install.sh ${res.revisions[0]?.name ?? 'NAME'}  (in the stick's folder; README.txt says more)`
        const written = res.revisions.filter(r => r.written)
        const there = res.revisions.length - written.length
        const head =
          there === 0
            ? `wrote ${written.length} revision(s) to ${res.dir}: ${formatBytes(res.bytes)}, written, read back and verified`
            : written.length === 0
              ? `${res.dir} already holds the ${there} revision(s) with the same bytes (hashed): nothing written`
              : `${res.dir} holds the ${res.revisions.length} revision(s): ${written.length} written and read back, ${there} already there with the same bytes (not written again)`
        const text = [head, table(rows, ['NAME', 'FILE', 'SIZE', 'OBJECTS', 'STICK']), ...composed, next, removal(res.dir, res.sync)].join('\n')
        return { json: { ...res, safeToRemove: res.sync.safeToRemove }, text }
      }),
    )

  usb
    .command('eject <dir>')
    .description('unmount the stick that holds this folder (and power it off where udisks can), so that it can be pulled out; says what to do where it cannot')
    .action(
      cli.action(async (ctx, dirArg: string) => {
        const r = await ejectStick(resolve(dirArg), { log: ctx.log, signal: ctx.signal })
        const text = r.ejected ? `Ejected: ${r.message}` : `Not ejected: ${r.message}\n${r.advice ?? ''}`
        return { json: r, text, exitCode: r.ejected ? 0 : 1 }
      }),
    )

  usb
    .command('inventory <dir>')
    .description("write this library's object list onto a stick, so that another laptop fills it with what this one lacks")
    .action(
      cli.action(async (ctx, dirArg: string) => {
        const dir = resolve(dirArg)
        const app = await ctx.app()
        const res = await writeLibraryInventory(app.library, dir, { signal: ctx.signal })
        return {
          json: { dir, ...res },
          text: `wrote ${res.file} (${res.objects} objects, ${formatBytes(res.bytes)}) to ${dir}\non the other laptop: fieldsync usb export --for-peer ${resolve(dir, res.file)} <rev>... ${dir}`,
        }
      }),
    )

  usb
    .command('import <dir>')
    .description(
      'import the revisions on a stick (those complete here already are not read); every tarball read is checked against the manifest and every object verified on the way in',
    )
    .action(
      cli.action(async (ctx, dirArg: string) => {
        const dir = resolve(dirArg)
        const app = await ctx.app()
        const importer = new UsbImporter({ library: app.library, importer: app.importer, log: ctx.log })
        const bar = ctx.progress('usb import', 'bytes')
        const res = await importer.import(dir, {
          signal: ctx.signal,
          onProgress: p => {
            bar.update(p.bytes, p.totalBytes, p.file)
          },
        })
        bar.stop()
        const rows = res.revisions.map(r => [
          r.name,
          r.id.slice(0, 12),
          r.status,
          r.error?.message ??
            `${r.newObjects.length} new objects, ${formatBytes(r.newBytes)}${r.complete ? '' : `, INCOMPLETE: ${r.missing.length} missing`}${r.nameHeldBy === undefined ? '' : `; the name ${r.nameHeldBy.name} stays on ${r.nameHeldBy.id.slice(0, 12)} (to move it: fieldsync import --name NAME <the tarball>)`}`,
        ])
        const text = [
          `${res.ok ? 'imported' : 'imported with errors'} from ${dir}: ${res.newObjects} new objects, ${formatBytes(res.newBytes)}`,
          table(rows, ['NAME', 'ID', 'STATUS', 'DETAIL']),
        ].join('\n')
        return { json: res, text, exitCode: res.ok ? 0 : 1 }
      }),
    )

  usb
    .command('verify <dir>')
    .description('check a stick against its manifest: every file there, with its size and sha256')
    .action(
      cli.action(async (ctx, dirArg: string) => {
        const dir = resolve(dirArg)
        const bar = ctx.progress('usb verify', 'bytes')
        const r = await verifyStick(dir, {
          signal: ctx.signal,
          onProgress: p => {
            bar.update(p.bytes, p.bytes > 0 ? Math.max(p.bytes, p.totalBytes) : p.totalBytes, p.file)
          },
        })
        bar.stop()
        const bad = r.files.filter(f => f.verdict !== 'ok')
        const lines = [`${r.ok ? 'OK' : 'DAMAGED'}: ${r.files.length} files, ${formatBytes(r.bytes)} checked on ${dir}`]
        for (const f of bad)
          lines.push(
            `  ${f.verdict.toUpperCase()}  ${f.path}${f.verdict === 'size' ? ` (${sizeMismatch(f.actualBytes ?? 0, f.bytes)})` : f.verdict === 'not-a-file' ? ' (a FIFO, device, link or folder where a file belongs; not read)' : ''}`,
          )
        for (const rev of r.revisions) {
          if (rev.problem !== undefined) lines.push(`  ${rev.problem}`)
          if (!rev.ok) lines.push(`  revision ${rev.name} cannot be installed or imported from this stick: export it again`)
        }
        if (r.leftovers.length > 0)
          lines.push(`  ${r.leftovers.length} unfinished file(s) of an interrupted export (${r.leftovers.join(', ')}); the next export removes them`)
        return { json: r, text: lines.join('\n'), exitCode: r.ok ? 0 : 1 }
      }),
    )

  usb
    .command('receipts <dir>')
    .description("import the receipts install.sh wrote on a stick into the devices' install histories, and report them")
    .option('--report <file>', 'also write a report: .csv, .json or .html (one page for the customer)')
    .action(
      cli.action<{ report?: string }>(async (ctx, dirArg: string) => {
        const dir = resolve(dirArg)
        const app = await ctx.app()
        const res = await importReceipts(dir, { store: new DeviceStore(app.library.db), log: ctx.log }, { signal: ctx.signal })
        if (ctx.opts.report !== undefined) await writeReport(resolve(ctx.opts.report), res.report)
        const added = res.imported.filter(r => r.added).length
        const rows = res.imported.map(r => [
          r.device.id,
          r.device.nick,
          r.revision.name,
          r.step ?? '-',
          r.progress.status,
          r.added ? 'imported' : 'in the history already',
        ])
        const lines = [
          `${res.imported.length} receipt(s) on ${dir}: ${added} imported into the install histories, ${res.imported.length - added} there already${res.damaged.length > 0 ? `; ${res.damaged.length} DAMAGED, not imported` : ''}`,
        ]
        if (rows.length > 0) lines.push(table(rows, ['DEVICE', 'NICK', 'REVISION', 'STEP', 'STATUS', 'HISTORY']))
        for (const d of res.damaged)
          lines.push(`  DAMAGED  ${d.file}: ${d.problem} (nothing of it imported; look at the device again, or run install.sh there again)`)
        if (ctx.opts.report !== undefined) lines.push(`report: ${resolve(ctx.opts.report)}`)
        return { json: { dir, ok: res.ok, imported: res.imported, damaged: res.damaged, report: res.report }, text: lines.join('\n'), exitCode: res.ok ? 0 : 1 }
      }),
    )
}

/** The last line of a write: the stick may be removed only once the data is on the medium. */
function removal(dir: string, sync: StickSync): string {
  if (sync.safeToRemove)
    return `Safe to remove: the data is on the stick (synced). To write more, leave it in; before pulling it out, eject it: fieldsync usb eject ${dir}`
  return `NOT confirmed on the stick yet (${sync.problem ?? 'not synced'}): do not pull it out; eject it first (fieldsync usb eject ${dir}, or in the file manager)`
}
