/** LAN peer commands: serve, pull, peers, peers block|unblock, team create|join|show. */
import type { Command } from 'commander'
import { ErrorCodes, isCode, NotInTeamError, UsageError } from '../../../shared/errors.js'
import type { App } from '../../app/index.js'
import {
  BlockList,
  checkPeerId,
  connectControl,
  controlRequest,
  createPeerServices,
  DEFAULT_LISTEN,
  TeamStore,
  type PeerInfo,
  type PeerServices,
  type PullEvent,
  type PullResult,
} from '../../peers/index.js'
import type { Cli, CommandContext } from '../cli.js'
import { formatBytes, table, terminalText } from '../output.js'
import { revisionSignatureSummary } from './trust.js'

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

interface NodeFlags {
  listen?: string[]
  mdns?: boolean
  peer?: string[]
  name?: string
}

/** Start the peer services inside the app; dial --peer addresses and report those that fail. */
async function startNode(
  ctx: CommandContext<NodeFlags>,
  app: App,
  opts: { listen: string[]; mirror?: boolean; control?: boolean },
): Promise<{ node: PeerServices['node']; puller: PeerServices['puller']; mirror: PeerServices['mirror']; dialErrors: Error[] }> {
  const s = createPeerServices(
    { library: app.library, log: ctx.log },
    {
      home: ctx.home,
      listen: opts.listen,
      mdns: ctx.opts.mdns !== false,
      name: ctx.opts.name,
      mirror: opts.mirror,
      control: opts.control,
    },
  )
  // Started in the order of main/peers/services.ts; stopped with the app.
  await app.add('peers', s)
  const dialErrors: Error[] = []
  await Promise.all(
    (ctx.opts.peer ?? []).map(async a => {
      try {
        await s.node.dial(a, ctx.signal)
      } catch (err) {
        dialErrors.push(err as Error)
        ctx.log.error('peer %s: %s', a, (err as Error).message)
      }
    }),
  )
  return { node: s.node, puller: s.puller, mirror: s.mirror, dialErrors }
}

function nodeOptions(cmd: Command): Command {
  return cmd
    .option('--no-mdns', 'no mDNS discovery or announcement (find peers only by --peer)')
    .option('--peer <multiaddr>', 'a peer to dial, e.g. /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW... (repeat for several)', collect)
    .option('--name <name>', 'the name peers see (default: the hostname)')
}

function peerJson(p: PeerInfo) {
  return {
    id: p.id,
    name: p.name,
    addrs: p.addrs,
    team: p.team,
    connected: p.connected,
    reconnecting: p.reconnecting,
    nextDialAt: p.nextDialAt === null ? null : new Date(p.nextDialAt).toISOString(),
    revisions: p.revisions,
    lastSeen: new Date(p.lastSeen).toISOString(),
  }
}

function pullText(r: PullResult, sayName: string): string {
  if (r.objects === 0 && r.bytes === 0) return `${sayName}: already complete here, nothing to pull`
  const shares = Object.entries(r.fromPeers)
    .map(([p, b]) => `${p.slice(-8)} ${formatBytes(b)}`)
    .join(', ')
  return `pulled ${sayName}: ${r.objects} objects, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s (${formatBytes(r.bytes / Math.max(r.seconds, 0.001))}/s) from ${shares || 'no peer'}`
}

export function register(program: Command, cli: Cli): void {
  nodeOptions(program.command('serve'))
    .description('run the LAN node in the foreground: share this library with the team (Ctrl-C stops it)')
    .option('--listen <multiaddr>', `listen address (repeat for several; default ${DEFAULT_LISTEN.join(' ')})`, collect)
    .option('--mirror', 'pull every revision a team peer has and this library lacks')
    .action(
      cli.action<NodeFlags & { mirror?: boolean }>(async ctx => {
        const app = await ctx.app()
        const s = await startNode(ctx, app, { listen: ctx.opts.listen ?? [...DEFAULT_LISTEN], mirror: ctx.opts.mirror === true, control: true })
        const info = { peerId: s.node.peerId, name: s.node.name, addrs: s.node.addrs(), team: s.node.teamInfo?.name ?? s.node.teamInfo?.id ?? null }
        if (ctx.json) process.stdout.write(JSON.stringify(info) + '\n')
        else process.stdout.write(`peer id: ${info.peerId}\nname: ${info.name}\nteam: ${info.team}\n${info.addrs.map(a => `listening on: ${a}`).join('\n')}\n`)
        await new Promise<void>(resolve => {
          if (ctx.signal.aborted) resolve()
          ctx.signal.addEventListener(
            'abort',
            () => {
              resolve()
            },
            { once: true },
          )
        })
        process.stderr.write('fieldsync: stopping the node\n')
        // If something in the stack keeps the event loop alive after stop, do not hang the terminal.
        setTimeout(() => {
          process.exit(process.exitCode ?? 0)
        }, 10_000).unref()
        return undefined
      }),
    )

  nodeOptions(program.command('pull <rev>'))
    .description('get a revision (id, id prefix or name) from team peers: only the objects missing here, from all peers that have them')
    .option('--from <peer>', 'only from this peer (id, id suffix or name; repeat for several)', collect)
    .action(
      cli.action<NodeFlags & { from?: string[] }>(async (ctx, rev: string) => {
        const bar = ctx.progress('pull', 'bytes')
        // The state arrives first: say at once whether its signatures hold, before any object is fetched.
        const signatureOf = async (id: string) => revisionSignatureSummary(await ctx.app(), id)
        let before: Promise<string> | undefined
        const onProgress = (e: PullEvent) => {
          if (e.type === 'resolved') {
            before = signatureOf(e.id)
            before.then(
              s => {
                if (!ctx.json) ctx.note(`${terminalText(e.name ?? e.id.slice(0, 12))}: ${s}`)
              },
              () => {},
            )
          }
          if (e.type === 'progress') bar.update(e.bytes, e.totalBytes, `${Object.keys(e.peers).length} peer(s)`)
          else if (e.type === 'liar') ctx.log.error('peer %s sent corrupt bytes of %s: no longer used', e.peer, e.sha)
        }
        let result: PullResult
        const sock = await connectControl(ctx.home)
        if (sock !== undefined) {
          // A `serve` runs on this library: it does the work.
          const dialErrors: Error[] = []
          for (const a of ctx.opts.peer ?? []) {
            const s2 = await connectControl(ctx.home)
            if (s2 !== undefined)
              await controlRequest(s2, { op: 'dial', addr: a }, ctx.signal).catch(err => {
                dialErrors.push(err as Error)
              })
          }
          // Every peer asked for is unreachable: say why now rather than after a discovery wait.
          if (dialErrors.length > 0 && dialErrors.length === (ctx.opts.peer ?? []).length) {
            sock.destroy()
            throw dialErrors[0]
          }
          result = (await controlRequest(sock, { op: 'pull', rev, from: ctx.opts.from }, ctx.signal, e => {
            onProgress(e as PullEvent)
          })) as PullResult
        } else {
          const app = await ctx.app()
          const s = await startNode(ctx, app, { listen: [] })
          const given = ctx.opts.peer ?? []
          if (given.length > 0 && s.dialErrors.length === given.length) throw s.dialErrors[0]
          try {
            result = await s.puller.pull(rev, { from: ctx.opts.from, signal: ctx.signal, onProgress })
          } catch (err) {
            // Name the real cause when every dial failed (e.g. another team).
            if (isCode(err, ErrorCodes.UnknownRevision) && s.dialErrors.length > 0 && s.node.teamPeers().length === 0) throw s.dialErrors[0]
            throw err
          }
        }
        bar.stop()
        if (ctx.json) return { json: result }
        await before?.catch(() => {})
        return { text: `${pullText(result, rev)}\nsignatures: ${await signatureOf(result.id)}` }
      }),
    )

  const peers = nodeOptions(program.command('peers'))
    .description('list the peers seen on the LAN (from the running `serve`, or by listening for a moment)')
    .option('--wait <seconds>', 'without a running serve: how long to listen', '2.5')
    .action(
      cli.action<NodeFlags & { wait: string }>(async ctx => {
        let list: PeerInfo[]
        const sock = await connectControl(ctx.home)
        if (sock !== undefined) {
          list = ((await controlRequest(sock, { op: 'peers' }, ctx.signal)) as { peers: PeerInfo[] }).peers
        } else {
          const secs = Number(ctx.opts.wait)
          if (!Number.isFinite(secs) || secs < 0 || secs > 600) throw new UsageError(`--wait ${ctx.opts.wait}: give seconds between 0 and 600`)
          const app = await ctx.app()
          const s = await startNode(ctx, app, { listen: [] })
          await new Promise(resolve => {
            const t = setTimeout(resolve, secs * 1000)
            ctx.signal.addEventListener(
              'abort',
              () => {
                clearTimeout(t)
                resolve(undefined)
              },
              { once: true },
            )
          })
          list = s.node.peers()
        }
        const text =
          list.length === 0
            ? 'no peers seen (is a colleague running `fieldsync serve` on this network? where multicast is blocked, use --peer)'
            : table(
                list.map(p => [
                  p.id,
                  p.name,
                  p.team ? (p.connected ? 'team' : p.reconnecting ? 'team (reconnecting)' : 'team (gone)') : 'NOT IN TEAM',
                  String(p.revisions),
                  new Date(p.lastSeen).toISOString().slice(11, 19),
                  p.addrs[0] ?? '',
                ]),
                ['ID', 'NAME', 'STATUS', 'REVISIONS', 'SEEN', 'ADDRESS'],
              )
        return { json: list.map(peerJson), text }
      }),
    )

  peers
    .command('block <peer>')
    .description('never talk to this peer again (its id, from `fieldsync peers`)')
    .action(
      cli.action(async (ctx, peer: string) => {
        checkPeerId(peer)
        const app = await ctx.app()
        new BlockList(app.library).add(peer)
        const sock = await connectControl(ctx.home)
        if (sock !== undefined) await controlRequest(sock, { op: 'block', peer }, ctx.signal)
        return { json: { blocked: peer }, text: `blocked ${peer}${sock !== undefined ? ' (the running node hung up on it)' : ''}` }
      }),
    )

  peers
    .command('unblock <peer>')
    .description('talk to a blocked peer again (takes effect when the node next dials or is dialed)')
    .action(
      cli.action(async (ctx, peer: string) => {
        checkPeerId(peer)
        const app = await ctx.app()
        const was = new BlockList(app.library).remove(peer)
        return { json: { unblocked: peer, wasBlocked: was }, text: was ? `unblocked ${peer}` : `${peer} was not blocked` }
      }),
    )

  const team = program.command('team').description('the team: only laptops with the same team secret talk to each other')

  team
    .command('create')
    .description('make a new team secret and print its join code (give it to colleagues: `fieldsync team join <code>`)')
    .option('--name <name>', 'a name for the team')
    .option('--force', 'replace the team this laptop is in')
    .action(
      cli.action<{ name?: string; force?: boolean }>(async ctx => {
        const { team: t, code } = await new TeamStore(ctx.home).create({ name: ctx.opts.name, force: ctx.opts.force === true })
        return {
          json: { code, team: t.id, name: t.name },
          text: `created team ${t.name ?? t.id}\njoin code (keep it among the team): ${code}\non each colleague's laptop: fieldsync team join ${code}\nrestart a running \`fieldsync serve\` to use it`,
        }
      }),
    )

  team
    .command('join <code>')
    .description('join the team whose join code you were given')
    .action(
      cli.action(async (ctx, code: string) => {
        const t = await new TeamStore(ctx.home).join(code)
        return { json: { team: t.id, name: t.name, joined: true }, text: `joined team ${t.name ?? t.id}; restart a running \`fieldsync serve\` to use it` }
      }),
    )

  team
    .command('show')
    .description('the team this laptop is in, and its join code')
    .action(
      cli.action(async ctx => {
        const store = new TeamStore(ctx.home)
        const t = await store.load()
        if (t === null) throw new NotInTeamError('this laptop is in no team: `fieldsync team create` or `fieldsync team join <code>`')
        return { json: { team: t.id, name: t.name, code: store.code(t) }, text: `team ${t.name ?? t.id}\njoin code: ${store.code(t)}` }
      }),
    )
}
