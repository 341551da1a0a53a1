/**
 * The CLI's contract with every command: one JSON document on stdout with
 * --json, one clear line on stderr for errors (`{"error":{code,message}}` on
 * stdout too with --json), exit codes 0 ok / 1 failure / 2 usage.
 */
import type { Command } from 'commander'
import { adviceFor } from '../../shared/advice.js'
import { AbortedError, FieldsyncError, toWireError, UsageError, ErrorCodes } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { App } from '../app/index.js'
import { defaultHome } from '../app/paths.js'
import { createLogger } from '../log.js'
import { progressBar, terminalLines, type ProgressSink } from './output.js'

export interface GlobalOptions {
  home?: string
  json?: boolean
}

export interface CommandContext<O = Record<string, unknown>> {
  /** Opens the library on first use. */
  app: () => Promise<App>
  home: string
  opts: O & GlobalOptions
  json: boolean
  log: Logger
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal
  progress: (label: string, unit: 'bytes' | 'items') => ProgressSink
  /** Write a line of human output to stdout (not with --json). */
  say: (text: string) => void
  /** Write a line of messages to stderr (in every mode: with --json, stdout holds only the result). */
  note: (text: string) => void
}

export interface CommandResult {
  /** The one JSON document printed with --json. */
  json?: unknown
  /** Human output (printed without --json). */
  text?: string
  exitCode?: number
}

export type Action<O> = (ctx: CommandContext<O>, ...args: any[]) => Promise<CommandResult | undefined | void>

export class Cli {
  readonly log: Logger
  exitCode = 0

  constructor(log?: Logger) {
    this.log = log ?? createLogger('fieldsync')
  }

  /** Wrap a command's action with the contract above. */
  action<O = Record<string, unknown>>(fn: Action<O>): (...all: unknown[]) => Promise<void> {
    return async (...all: unknown[]) => {
      const cmd = all[all.length - 1] as Command
      const args = all.slice(0, -2)
      const opts = cmd.optsWithGlobals() as O & GlobalOptions
      const json = opts.json === true
      const home = opts.home !== undefined ? opts.home : defaultHome()
      const ac = new AbortController()
      const onSignal = () => {
        ac.abort(new AbortedError('interrupted'))
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      let app: App | undefined
      const ctx: CommandContext<O> = {
        app: async () => {
          if (app === undefined) {
            // loaded on first use: a command that needs no library (pvtx, most of the time) starts faster;
            // the trust store too, at a command's first `await app.trustStore()`
            const { App } = await import('../app/index.js')
            app = new App({ home, log: this.log, trust: 'on-demand' })
            await app.start()
          }
          return app
        },
        home,
        opts,
        json,
        log: this.log,
        signal: ac.signal,
        progress: (label, unit) => progressBar(label, { unit, enabled: !json }),
        say: text => {
          if (!json) process.stdout.write(terminalLines(text) + '\n')
        },
        note: text => {
          process.stderr.write(terminalLines(text) + '\n')
        },
      }
      try {
        const res = await fn(ctx, ...args)
        if (res !== undefined && res !== null) {
          if (json && res.json !== undefined) process.stdout.write(JSON.stringify(res.json, null, 2) + '\n')
          // Human text carries what others wrote (device messages, state keys, file names): never a control sequence.
          else if (!json && res.text !== undefined && res.text !== '') process.stdout.write(terminalLines(res.text) + '\n')
          this.exitCode = res.exitCode ?? 0
        }
      } catch (err) {
        this.fail(err, json)
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        if (app !== undefined) await app.stop()
      }
    }
  }

  fail(err: unknown, json: boolean): void {
    const w = toWireError(err)
    if (w.code === ErrorCodes.Internal) this.log.error('%s', (err as Error)?.stack ?? err)
    if (json) process.stdout.write(JSON.stringify({ error: { code: w.code, message: w.message } }) + '\n')
    process.stderr.write(`fieldsync: ${terminalLines(w.message)}\n`)
    const advice = adviceFor(w, 'cli')
    if (advice !== null) process.stderr.write(`fieldsync: what to do: ${advice}\n`)
    this.exitCode = err instanceof UsageError || w.code === ErrorCodes.Usage ? 2 : 1
  }
}

export { FieldsyncError }
