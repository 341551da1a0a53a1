/**
 * `fieldsync compose <base> --add <pkg>... --remove <part>... --name NEW`:
 * a new library revision composed with pvtx's engine. Operations apply in
 * the order given. A package is a library revision, or a file or folder
 * (imported first, as `fieldsync import` would). Prints the parts and keys
 * added, replaced and removed, and the signature verdict a device would give.
 */
import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { UsageError } from '../../../shared/errors.js'
import type { App } from '../../app/index.js'
import { nameFromFileName } from '../../store/library.js'
import { LibraryComposer, type CompositionPlan, type LibraryOp } from '../../pvtx/library.js'
import type { Cli } from '../cli.js'
import { formatBytes } from '../output.js'

interface ComposeOpts {
  name?: string
  dryRun?: boolean
  add?: string[]
  remove?: string[]
}

function list(l: string[]): string {
  return l.length === 0 ? '-' : l.join(', ')
}

export function planJson(p: CompositionPlan): Record<string, unknown> {
  return {
    id: p.id,
    existing: p.existing === null ? null : { id: p.existing.id, name: p.existing.name },
    base: { id: p.base.id, name: p.base.name },
    packages: p.packages.map(x => ({ id: x.id, name: x.name })),
    parts: p.result.parts,
    keys: p.result.keys,
    steps: p.result.steps,
    warnings: p.result.warnings,
    objects: { count: p.objects.count, missing: p.objects.missing.length, bytes: p.objects.bytes },
    transfer: p.transfer,
    issues: p.issues,
    signature: {
      policy: p.signature.policy,
      pass: p.signature.pass,
      result: p.signature.result,
      summary: p.signature.summary,
      reason: p.signature.reason,
      device: p.signature.device,
      broken: p.signature.broken,
    },
  }
}

export function planText(p: CompositionPlan): string[] {
  const r = p.result
  const lines = [
    `${p.base.name}${p.ops.map(o => ('add' in o ? ` + ${o.add}` : ` - ${o.remove}`)).join('')}  ->  ${p.id.slice(0, 12)}${p.existing !== null ? ` (already in the library as ${p.existing.name})` : ''}`,
    `parts: added ${list(r.parts.added)}; replaced ${list(r.parts.replaced)}; removed ${list(r.parts.removed)}${r.parts.unchanged.length > 0 ? `; unchanged ${list(r.parts.unchanged)}` : ''}`,
    `keys: ${r.keys.added.length} added, ${r.keys.replaced.length} replaced, ${r.keys.removed.length} removed`,
    ...r.keys.added.map(k => `  + ${k}`),
    ...r.keys.replaced.map(k => `  ~ ${k}`),
    ...r.keys.removed.map(k => `  - ${k}`),
    `objects: ${p.objects.count}, ${formatBytes(p.objects.bytes)}${p.objects.missing.length > 0 ? `, ${p.objects.missing.length} not in the library (the revision will be incomplete)` : ''}; a device running ${p.base.name} needs ${formatBytes(p.transfer.bytes)} in ${p.transfer.objects} object(s)`,
    `signatures (policy ${p.signature.policy}): ${p.signature.pass ? 'PASS' : 'REFUSED'}: ${p.signature.summary}`,
  ]
  if (p.signature.device !== null) lines.push(`  a device in "${p.signature.policy}" mode answers ${p.signature.device}: ${p.signature.reason ?? ''}`)
  for (const b of p.signature.broken) lines.push(`  broken by this composition: ${b.key}: ${b.message}`)
  for (const w of r.warnings) lines.push(`warning: ${w}`)
  for (const i of p.issues) lines.push(`${i.severity === 'warning' ? 'warning' : 'problem'}: ${i.key}: ${i.message}`)
  return lines
}

async function packageRef(app: App, what: string, signal: AbortSignal): Promise<string> {
  if (!existsSync(what)) return what
  const path = resolve(what)
  const res = await app.importer.importPath(path, { suggestedName: nameFromFileName(path), signal })
  return res.id
}

export function register(program: Command, cli: Cli): void {
  const ops: Array<{ kind: 'add' | 'remove'; value: string }> = []
  const cmd = program
    .command('compose <base>')
    .description('compose a new revision, as pvtx does on a device: packages (library revisions or files) added onto <base>, parts removed, in the order given')
    .option('--add <package>', 'add a package: a library revision, or a tarball / state JSON / folder (imported first); repeat for several')
    .option('--remove <part>', 'remove a part (a container, _config/<c> or _sigs/<c>.json: the whole part its signature signs); repeat for several')
    .option('--name <name>', 'name of the new revision')
    .option('--dry-run', 'show what the result would be, save nothing')
  cmd.on('option:add', (v: string) => {
    ops.push({ kind: 'add', value: v })
  })
  cmd.on('option:remove', (v: string) => {
    ops.push({ kind: 'remove', value: v })
  })
  cmd.action(
    cli.action<ComposeOpts>(async (ctx, base: string) => {
      if (ops.length === 0) throw new UsageError('compose: nothing to do: give --add <package> and/or --remove <part>')
      if (ctx.opts.name === undefined && ctx.opts.dryRun !== true)
        throw new UsageError('compose: name the new revision with --name (or look first with --dry-run)')
      const app = await ctx.app()
      const libOps: LibraryOp[] = []
      for (const o of ops) libOps.push(o.kind === 'add' ? { add: await packageRef(app, o.value, ctx.signal) } : { remove: o.value })
      const composer = new LibraryComposer({ library: app.library, trust: await app.trustStore(), log: ctx.log })
      const plan = await composer.plan(base, libOps)
      // name packages as the user gave them
      plan.ops = ops.map((o, i) =>
        o.kind === 'add' ? { add: plan.packages[ops.slice(0, i).filter(x => x.kind === 'add').length]?.name ?? o.value } : { remove: o.value },
      )
      const lines = planText(plan)
      const json = planJson(plan)
      if (ctx.opts.dryRun === true) return { json: { ...json, saved: false }, text: [...lines, '(dry run: nothing saved)'].join('\n') }
      const saved = composer.save(plan, ctx.opts.name as string)
      lines.push(
        `saved as ${ctx.opts.name as string} (${saved.id.slice(0, 12)})${saved.existed ? ': the library had this state already; it gained the name' : ''}`,
      )
      return { json: { ...json, saved: true, name: ctx.opts.name, existed: saved.existed }, text: lines.join('\n') }
    }),
  )
}
