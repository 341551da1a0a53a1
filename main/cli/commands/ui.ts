/** `fieldsync ui`: browser mode. The core runs in this process; the UI opens in the default browser. */
import type { Command } from 'commander'
import '../../polyfills.js'
import { UsageError } from '../../../shared/errors.js'
import type { Cli } from '../cli.js'

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v]
}

function port(v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`--port ${v}: give a port number 0-65535 (0 = any free port)`)
  return n
}

export function register(program: Command, cli: Cli): void {
  program
    .command('ui')
    .description('open the app in your web browser (browser mode): serves the UI and its API on 127.0.0.1 with a secret token')
    .option('--port <n>', 'port on 127.0.0.1 (default: any free port)', port)
    .option('--no-open', 'do not open a browser; just print the URL')
    .option('--no-mdns', 'no mDNS: peers only by --peer, devices only by the address you add')
    .option('--peer <multiaddr>', 'a peer to dial (repeat for several)', collect)
    .action(
      cli.action<{ port?: number; open: boolean; mdns: boolean; peer?: string[] }>(async ctx => {
        const { ApiCore } = await import('../../app/handlers/index.js')
        const { WebServer, openBrowser } = await import('../../web/index.js')
        const app = await ctx.app()
        const core = new ApiCore({ app, log: ctx.log }, { mode: 'browser' })
        await core.start()
        const lan = await core.enableLan({ mdns: ctx.opts.mdns, peers: ctx.opts.peer })
        await core.enableDevices({ mdns: ctx.opts.mdns })
        const web = new WebServer({ core, log: ctx.log }, { port: ctx.opts.port ?? 0 })
        try {
          await web.start()
          if (lan.state === 'no-team')
            process.stderr.write('fieldsync: this laptop is in no team yet: the LAN node starts once you create or join one (Peers screen)\n')
          else if (lan.state === 'failed') process.stderr.write(`fieldsync: the LAN node did not start: ${lan.error?.message ?? 'unknown error'}\n`)
          process.stdout.write(`Fieldsync is running at ${web.url}\n`)
          const opened = ctx.opts.open && (await openBrowser(web.url))
          process.stderr.write(
            opened
              ? 'opened it in your browser; keep this running, press Ctrl+C to stop\n'
              : 'open that URL in a browser on this computer; press Ctrl+C to stop\n',
          )
          await new Promise<void>(resolve => {
            if (ctx.signal.aborted) resolve()
            else
              ctx.signal.addEventListener(
                'abort',
                () => {
                  resolve()
                },
                { once: true },
              )
          })
          process.stderr.write('stopping\n')
          // If something in the LAN stack keeps the event loop alive after stop, do not hang the terminal.
          setTimeout(() => {
            process.exit(process.exitCode ?? 0)
          }, 10_000).unref()
        } finally {
          await web.stop()
          await core.stop()
        }
      }),
    )
}
