/**
 * `fieldsync pvtx`: Pantavisor's revision transactions with upstream pvtx's
 * verbs, arguments, PVTXDIR layout, output and exit statuses (main/pvtx), so
 * that scripts written for the device's pvtx (and its own test suite) run
 * unchanged. Fieldsync additions: a library revision wherever a file is
 * expected (`begin <rev>`, `add <rev>`), bzip2 packages from stdin too,
 * `commit --run`, `--socket`.
 */
import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { toWireError, UnknownRevisionError } from '../../../shared/errors.js'
// the modules themselves, not main/pvtx's index: it would load the archive readers too
import { CTRL_SOCKET_ENV, findCtrlSocket, socketCtrl, type PvtxCtrl } from '../../pvtx/ctrl.js'
import { exitStatusOf } from '../../pvtx/errors.js'
import { PvtxQueue } from '../../pvtx/queue.js'
import type { LibrarySource } from '../../pvtx/sources.js'
import { defaultPvtxDir } from '../../pvtx/status.js'
import { Pvtx } from '../../pvtx/txn.js'
import type { Cli, CommandContext } from '../cli.js'

interface PvtxOpts {
  socket?: string
  run?: boolean
}

interface VerbResult {
  /** Bytes for stdout as they are (show). */
  raw?: Uint8Array
  /** A line for stdout (commit prints the revision). */
  line?: string
  json?: unknown
}

function library(ctx: CommandContext<PvtxOpts>): () => Promise<LibrarySource | null> {
  return async () => {
    if (!existsSync(join(ctx.home, 'index.db'))) return null
    const app = await ctx.app()
    return {
      find: async ref => {
        let id: string
        try {
          id = app.library.resolve(ref).id
        } catch (err) {
          if (err instanceof UnknownRevisionError) return null
          throw err
        }
        const info = app.library.get(id)
        const state = app.library.state(id)
        const { objectRefs, uniqueShas } = await import('../../../shared/state/index.js')
        const shas = uniqueShas(objectRefs(state))
        return {
          name: info?.name ?? id.slice(0, 12),
          raw: state.raw,
          objects: shas.map(sha => ({ sha, size: app.library.objectSize(sha), file: app.library.isPresent(sha) ? app.library.objects.path(sha) : null })),
        }
      },
    }
  }
}

function makePvtx(ctx: CommandContext<PvtxOpts>): { tx: Pvtx; queue: PvtxQueue; done: () => Promise<void> } {
  let ctrl: (PvtxCtrl & { close: () => Promise<void> }) | undefined
  const tx = new Pvtx(
    {
      ctrl: async () => (ctrl ??= socketCtrl(await findCtrlSocket(ctx.opts.socket))),
      library: library(ctx),
      stdin: () => process.stdin,
      warn: m => {
        process.stderr.write(`fieldsync pvtx: ${m}\n`)
      },
    },
    { dir: defaultPvtxDir(), signal: ctx.signal },
  )
  return {
    tx,
    queue: new PvtxQueue(tx, ctx.signal),
    done: async () => {
      await ctrl?.close()
    },
  }
}

/** One verb: its errors end with upstream's exit status and `fieldsync pvtx <verb>: <message>` on stderr. */
function verb(cli: Cli, name: string, fn: (p: { tx: Pvtx; queue: PvtxQueue; opts: PvtxOpts }, ...args: any[]) => Promise<VerbResult | undefined>) {
  return cli.action<PvtxOpts>(async (ctx, ...args: unknown[]) => {
    const p = makePvtx(ctx)
    try {
      const r = await fn({ ...p, opts: ctx.opts }, ...args)
      if (r?.raw !== undefined) process.stdout.write(Buffer.concat([r.raw, Buffer.from('\n')]))
      if (r?.line !== undefined && !ctx.json) process.stdout.write(r.line + '\n')
      return { json: r?.json ?? (r?.raw === undefined ? { ok: true } : undefined), exitCode: 0 }
    } catch (err) {
      const w = toWireError(err)
      if (w.code === 'E_INTERNAL') ctx.log.error('%s', (err as Error)?.stack ?? err)
      process.stderr.write(`fieldsync pvtx ${name}: ${w.message}\n`)
      return { json: { error: { code: w.code, message: w.message } }, exitCode: exitStatusOf(err) }
    } finally {
      await p.done()
    }
  })
}

export function register(program: Command, cli: Cli): void {
  const pvtx = program
    .command('pvtx')
    .description("Pantavisor revision transactions, as the device's own pvtx: begin, add, remove, show, abort, commit, deploy, queue")
    .option(
      '--socket <path>',
      `pv-ctrl socket for begin current / commit / queue process current (default: $${CTRL_SOCKET_ENV}, else the first of /run/pantavisor/pv/pv-ctrl, /pv/pv-ctrl, /pantavisor/pv-ctrl)`,
    )
    .addHelpText('after', "\nThe transaction lives in $PVTXDIR (default /var/cache/pvtx as root, ~/.local/share/pvtx otherwise), in upstream pvtx's layout.")

  pvtx
    .command('begin [base] [objects]')
    .description(
      'start a transaction from "current" (the device, over pv-ctrl; the default), "empty", a state JSON or revision folder, or a library revision; with an objects folder it is local (finish with deploy), without it remote (finish with commit)',
    )
    .action(
      verb(cli, 'begin', async ({ tx }, base?: string, objects?: string) => {
        const r = await tx.begin(base, objects)
        return { json: { local: r.isLocal, objects: r.obj || null } }
      }),
    )

  pvtx
    .command('add [package]')
    .description('add a package: a tar, tgz or tar.bz2 (json + objects/), a state JSON, - for stdin, or a library revision; it replaces the parts it carries')
    .action(
      verb(cli, 'add', async ({ tx }, what: string) => {
        const r = await tx.add(what)
        return { json: { package: r.label, objects: r.objects, parts: r.result.parts, keys: r.result.keys } }
      }),
    )

  pvtx
    .command('remove [part]')
    .description(
      'remove a part: a container (awconnect), its config (_config/awconnect) or its signature (_sigs/awconnect.json) names the whole part its signature signs',
    )
    .action(
      verb(cli, 'remove', async ({ tx }, part: string) => {
        const r = await tx.remove(part)
        return { json: { removed: r.keys.removed, parts: r.parts.removed } }
      }),
    )

  pvtx
    .command('show')
    .description('print the state being built')
    .action(verb(cli, 'show', async ({ tx }) => ({ raw: await tx.show() })))

  pvtx
    .command('abort')
    .description('discard the transaction')
    .action(verb(cli, 'abort', async ({ tx }) => ({ json: { aborted: await tx.abort() } })))

  pvtx
    .command('commit [name]')
    .description('send the state to the device as a new revision (locals/<name>; default locals/pvtx-<time>-<hash>-<n>) and print its name')
    .option('--run', 'then run it (POST /commands LOCAL_RUN), as `pvcontrol commands run <rev>` would')
    .action(
      verb(cli, 'commit', async ({ tx, opts }, name: string | undefined) => {
        const rev = await tx.commit(name, { run: opts.run === true })
        return { line: rev, json: { revision: rev, run: opts.run === true } }
      }),
    )

  pvtx
    .command('deploy [dir]')
    .description('write a local transaction out as a revision folder (.pvr/json, .pvr/config, objects hard-linked, .pv/ BSP links)')
    .action(
      verb(cli, 'deploy', async ({ tx }, dir: string) => {
        await tx.deploy(dir)
        return { json: { deployed: dir } }
      }),
    )

  const queue = pvtx.command('queue').description('record add/remove steps in a folder and replay them in one transaction')
  queue
    .command('new [queue] [objects]')
    .description("start a queue in <queue>, its packages' objects going to <objects>")
    .action(
      verb(cli, 'queue new', async ({ queue: q }, dir: string, objects: string) => {
        const r = await q.create(dir, objects)
        return { json: { queue: r.queue, objects: r.obj } }
      }),
    )
  queue
    .command('remove [part]')
    .description('queue the removal of a part')
    .action(verb(cli, 'queue remove', async ({ queue: q }, part: string) => ({ json: { step: await q.remove(part) } })))
  queue
    .command('unpack [package]')
    .description('queue a package (a file or - for stdin): its state into the queue, its objects into the objects folder')
    .action(verb(cli, 'queue unpack', async ({ queue: q }, what: string) => ({ json: { step: await q.unpack(what, () => process.stdin) } })))
  queue
    .command('process [base] [queue] [objects]')
    .description('replay the queue onto the transaction; with a base, begin it first; with a queue and objects folder, start that queue first')
    .action(
      verb(cli, 'queue process', async ({ queue: q }, base?: string, dir?: string, objects?: string) => {
        await q.process(base, dir, objects)
        return { json: { processed: true } }
      }),
    )
}
