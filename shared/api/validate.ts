/**
 * Small hand-written validators for API request arguments (house rule 5:
 * validate at every trust boundary). A validator takes an unknown value and
 * returns it typed, or throws a BadInputError naming the argument and the
 * problem. Objects are closed: unknown properties are refused.
 */
import { BadInputError } from '../errors.js'

export type Check<T> = (value: unknown, path: string) => T

function fail(path: string, problem: string): never {
  throw new BadInputError(`${path}: ${problem}`, { path })
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return v.length > 40 ? `a ${v.length}-character string` : `the string ${JSON.stringify(v)}`
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`
}

export interface StringOptions {
  min?: number
  max?: number
  pattern?: RegExp
  /** What the pattern means, for the message. */
  what?: string
}

export function str(opts: StringOptions = {}): Check<string> {
  const min = opts.min ?? 1
  const max = opts.max ?? 4096
  return (v, path) => {
    if (typeof v !== 'string') fail(path, `expected a string, got ${describe(v)}`)
    if (v.length < min) fail(path, min === 1 ? 'must not be empty' : `must be at least ${min} characters`)
    if (v.length > max) fail(path, `must be at most ${max} characters (got ${v.length})`)
    if (v.includes('\0')) fail(path, 'must not contain NUL characters')
    if (opts.pattern !== undefined && !opts.pattern.test(v)) fail(path, `must be ${opts.what ?? `of the form ${String(opts.pattern)}`}, got ${describe(v)}`)
    return v
  }
}

export function int(opts: { min?: number; max?: number } = {}): Check<number> {
  const min = opts.min ?? 0
  const max = opts.max ?? Number.MAX_SAFE_INTEGER
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, `expected an integer, got ${describe(v)}`)
    if (v < min || v > max) fail(path, `must be between ${min} and ${max}, got ${v}`)
    return v
  }
}

export const bool: Check<boolean> = (v, path) => {
  if (typeof v !== 'boolean') fail(path, `expected true or false, got ${describe(v)}`)
  return v
}

export function oneOf<const T extends string>(values: readonly T[]): Check<T> {
  return (v, path) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(path, `must be one of ${values.join(', ')}, got ${describe(v)}`)
    return v as T
  }
}

export function arrayOf<T>(item: Check<T>, opts: { min?: number; max?: number } = {}): Check<T[]> {
  const min = opts.min ?? 0
  const max = opts.max ?? 1000
  return (v, path) => {
    if (!Array.isArray(v)) fail(path, `expected a list, got ${describe(v)}`)
    if (v.length < min) fail(path, `needs at least ${min} item(s)`)
    if (v.length > max) fail(path, `takes at most ${max} items (got ${v.length})`)
    return v.map((x, i) => item(x, `${path}[${i}]`))
  }
}

/** Marks a property optional: absent or undefined passes as undefined. */
export interface Optional<T> {
  optional: true
  check: Check<T>
}
export function optional<T>(check: Check<T>): Optional<T> {
  return { optional: true, check }
}

type Shape = Record<string, Check<unknown> | Optional<unknown>>
type Out<S extends Shape> = { [K in keyof S as S[K] extends Optional<unknown> ? never : K]: S[K] extends Check<infer T> ? T : never } & {
  [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: S[K] extends Optional<infer T> ? T : never
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

export function object<S extends Shape>(shape: S): Check<Out<S>> {
  return (v, path) => {
    if (v === undefined) v = {}
    if (!isPlain(v)) fail(path, `expected an object, got ${describe(v)}`)
    for (const k of Object.keys(v)) {
      if (!Object.hasOwn(shape, k)) fail(`${path}.${k}`, `unknown argument (expected ${Object.keys(shape).join(', ') || 'none'})`)
    }
    const out: Record<string, unknown> = {}
    for (const [k, c] of Object.entries(shape)) {
      const val = v[k]
      if (typeof c === 'function') out[k] = c(val, `${path}.${k}`)
      else if (val !== undefined) out[k] = c.check(val, `${path}.${k}`)
    }
    return out as Out<S>
  }
}

/** Exactly one of the listed properties must be present. */
export function exactlyOne<T extends Record<string, unknown>>(check: Check<T>, keys: ReadonlyArray<keyof T & string>): Check<T> {
  return (v, path) => {
    const out = check(v, path)
    const given = keys.filter(k => out[k] !== undefined)
    if (given.length !== 1) fail(path, `give exactly one of ${keys.join(', ')}${given.length > 1 ? ` (got ${given.join(' and ')})` : ''}`)
    return out
  }
}

// Common argument shapes.
export const HEX_ID = /^[0-9a-f]{8,64}$/
export const SHA256 = /^[0-9a-f]{64}$/
/** A revision: a name, a full id or an id prefix (resolved by the library). */
export const revRef = str({ max: 128, pattern: /^[A-Za-z0-9][A-Za-z0-9._@+:/-]{0,127}$/, what: 'a revision name or id' })
export const revisionName = str({
  max: 128,
  pattern: /^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,127}$/,
  what: 'a name of letters, digits and . _ @ + : - starting with a letter or digit',
})
/** An absolute path on the machine that runs the core. */
export const absPath = str({ max: 4096, pattern: /^(\/|[A-Za-z]:[\\/]|\\\\)/, what: 'an absolute path' })
export const opaqueId = str({ max: 128, pattern: /^[A-Za-z0-9._:@+=/-]+$/, what: 'an id of letters, digits and . _ : @ + = / -' })
