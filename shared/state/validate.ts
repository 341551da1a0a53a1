/**
 * Every state rule of docs/architecture.md that can be checked on the state alone
 * (rule 6, object presence, is the store's job), checked against what
 * Pantavisor's parser really does. See issues.ts for the issue shape.
 */
import { InvalidStateError } from '../errors.js'
import { sortKeys } from './canonical.js'
import { IssueList, describeValue, q, type ValidationIssue } from './issues.js'
import { SPEC_SYSTEM1, specProblem } from './parse.js'
import { isPlainObject, isSha, stateJson, type ParsedState, type StateInput } from './types.js'
import { validateBsp } from './validate-bsp.js'
import { validateContainers } from './validate-containers.js'
import { base64UrlToText } from './b64.js'

export type { ValidationIssue }

export interface ValidateOptions {
  /** also report what the device tolerates with a log line (default false: errors only) */
  warnings?: boolean
}

export const SIG_ALGS: readonly string[] = Object.freeze(['RS256', 'ES256', 'ES384', 'ES512'])
const B64URL = /^[A-Za-z0-9_-]*$/

/** Problem of a state key as a relative file path, or null. */
export function keyPathProblem(key: string): string | null {
  if (key === '') return 'an empty key'
  if (key.startsWith('/')) return 'an absolute path'
  if (key.endsWith('/')) return 'ends with "/"'
  if (key.includes('\0')) return 'contains a NUL character'
  if (key.split('/').some(s => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." path segment'
  return null
}

export { base64UrlToText } from './b64.js'

function signature(il: IssueList, key: string): void {
  const sig = il.json[key]
  if (!isPlainObject(sig)) {
    il.error(key, 'sigs', `a signature must be an inline JSON object, got ${describeValue(sig)}`)
    return
  }
  if (sig['#spec'] !== 'pvs@2') il.error(key, 'sigs', `"#spec" must be "pvs@2", got ${describeValue(sig['#spec'])}`)
  if (typeof sig.signature !== 'string' || sig.signature === '' || !B64URL.test(sig.signature))
    il.error(key, 'sigs', `"signature" must be a base64url string, got ${describeValue(sig.signature)}`)
  if (typeof sig.protected !== 'string' || sig.protected === '') {
    il.error(key, 'sigs', `"protected" must be a base64url string, got ${describeValue(sig.protected)}`)
    return
  }
  const text = base64UrlToText(sig.protected)
  let header: unknown
  try {
    header = text === null ? undefined : JSON.parse(text)
  } catch {
    header = undefined
  }
  if (!isPlainObject(header)) {
    il.error(key, 'sigs', '"protected" is not a base64url-encoded JSON object')
    return
  }
  if (typeof header.alg !== 'string' || !SIG_ALGS.includes(header.alg))
    il.error(key, 'sigs', `protected header "alg" must be one of ${SIG_ALGS.join(', ')}, got ${describeValue(header.alg)}`)
  if (header.typ !== 'PVS') il.error(key, 'sigs', `protected header "typ" must be "PVS", got ${describeValue(header.typ)}`)
  const pvs = header.pvs
  if (!isPlainObject(pvs)) {
    il.error(key, 'sigs', 'protected header needs a "pvs" object with "include" and "exclude"')
    return
  }
  for (const f of ['include', 'exclude']) {
    const v = pvs[f]
    if (!Array.isArray(v) || !v.every(x => typeof x === 'string'))
      il.error(key, 'sigs', `protected header pvs.${f} must be an array of glob strings, got ${describeValue(v)}`)
  }
}

/** All issues of a state (errors only unless `warnings`), in canonical key order of the key they name. */
export function validateState(state: StateInput, opts: ValidateOptions = {}): ValidationIssue[] {
  const json = stateJson(state)
  const sorted = sortKeys(Object.keys(json))
  const il = new IssueList(new Set(sorted), json)
  const specIssue = specProblem(json['#spec'])
  if (specIssue !== null) il.error('#spec', '1', specIssue.replace(/^"#spec" /, ''))
  for (const key of sorted) {
    if (key === '#spec') continue
    const bad = keyPathProblem(key)
    if (bad !== null) il.error(key, 'path', `key is not a safe relative file path: ${bad}`)
    const v = json[key]
    if (!key.endsWith('.json')) {
      if (!isSha(v)) il.error(key, '2', `a key not ending in .json must hold an object sha256 (64 lowercase hex characters), got ${describeValue(v)}`)
    } else if (typeof v === 'string') {
      if (!isSha(v)) il.error(key, '3', `a .json key holds inline JSON (an object or array) or an object sha256, got ${describeValue(v)}`)
    } else if (v === null || typeof v !== 'object') {
      il.error(key, '3', `a .json key holds inline JSON (an object or array) or an object sha256, got ${describeValue(v)}`)
    }
    if (key.startsWith('_sigs/') && key.endsWith('.json')) signature(il, key)
  }
  if (json['#spec'] === SPEC_SYSTEM1) {
    validateBsp(il)
    // every <dir>/run.json is a manifest to the device, inline or not (a sha there is an error)
    const dirs = sorted.flatMap(k => {
      const m = /^([^/]+)\/run\.json$/.exec(k)
      return m !== null && m[1] !== 'bsp' ? [m[1]] : []
    })
    validateContainers(il, dirs)
  }
  const issues = opts.warnings === true ? il.list : il.list.filter(i => i.severity !== 'warning')
  const order = new Map(sorted.map((k, i) => [k, i]))
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (order.get(a.issue.key) ?? -1) - (order.get(b.issue.key) ?? -1) || a.i - b.i)
    .map(x => x.issue)
}

/** Throws InvalidStateError listing every error (details: {issues}); warnings do not fail. */
export function assertValidState(state: ParsedState | Record<string, unknown>, source: string): void {
  const issues = validateState(state)
  if (issues.length === 0) return
  const lines = issues.map(i => `  ${i.message} (rule ${i.rule})`)
  const head = `${source}: invalid state: ${issues.length} problem${issues.length === 1 ? '' : 's'}`
  throw new InvalidStateError(issues.length === 1 ? `${source}: ${issues[0].message} (rule ${issues[0].rule})` : `${head}\n${lines.join('\n')}`, { issues })
}

/**
 * Rule 7: a local revision name on a device is `locals/<name>`, `<name>` at
 * most 64 characters, without `/`. Accepts `name` or `locals/name`; returns
 * the problem, or null when the name is fine.
 */
export function localRevisionNameProblem(name: string): string | null {
  const n = name.startsWith('locals/') ? name.slice('locals/'.length) : name
  if (n === '') return 'a local revision name cannot be empty'
  if (n.length > 64) return `local revision name ${q(n)} is ${n.length} characters, over 64`
  if (n.includes('/')) return `local revision name ${q(n)} contains "/"`
  if (n === '.' || n === '..') return `local revision name ${q(n)} is not a usable directory name`
  if (/[\u0000-\u0020\u007f?#%\\]/.test(n)) return `local revision name ${q(n)} contains a space, control character or one of ? # % \\` // eslint-disable-line no-control-regex
  return null
}

/** Rule 7 as an issue list (empty when fine). */
export function validateLocalRevisionName(name: string): ValidationIssue[] {
  const p = localRevisionNameProblem(name)
  return p === null ? [] : [{ key: name, rule: '7', message: p, severity: 'error' }]
}
