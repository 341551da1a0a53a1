/**
 * The logger implementation: namespaced, switched on by DEBUG (e.g.
 * DEBUG=fieldsync:* or DEBUG=fieldsync:peers:*), written to stderr.
 */
import { format } from 'node:util'
import type { Logger } from '../shared/log.js'

function matcher(spec: string | undefined): (ns: string) => boolean {
  if (spec === undefined || spec.trim() === '') return () => false
  const parts = spec.split(/[\s,]+/).filter(Boolean)
  const pos: RegExp[] = []
  const neg: RegExp[] = []
  for (const p of parts) {
    const re = new RegExp(
      '^' +
        p
          .replace(/^-/, '')
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*?') +
        '$',
    )
    ;(p.startsWith('-') ? neg : pos).push(re)
  }
  return ns => !neg.some(r => r.test(ns)) && pos.some(r => r.test(ns))
}

export interface LoggerOptions {
  debug?: string
  write?: (line: string) => void
}

export function createLogger(namespace = 'fieldsync', opts: LoggerOptions = {}): Logger {
  const enabledFor = matcher(opts.debug ?? process.env.DEBUG)
  const write =
    opts.write ??
    ((line: string) => {
      process.stderr.write(line)
    })
  const make = (ns: string): Logger => {
    const on = enabledFor(ns)
    const onTrace = enabledFor(ns + ':trace')
    const emit = (suffix: string, f: string, args: unknown[]) => {
      write(`${new Date().toISOString()} ${ns}${suffix} ${format(f, ...args)}\n`)
    }
    const l = ((f: string, ...args: unknown[]) => {
      if (on) emit('', f, args)
    }) as Logger
    l.error = (f: string, ...args: unknown[]) => {
      if (on || enabledFor(ns + ':error')) emit(':error', f, args)
    }
    l.trace = (f: string, ...args: unknown[]) => {
      if (onTrace) emit(':trace', f, args)
    }
    l.enabled = on
    l.child = (name: string) => make(`${ns}:${name}`)
    return l
  }
  return make(namespace)
}
