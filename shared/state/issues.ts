/** Validation issues and the small helpers the rule modules share. */
import { describeValue } from './parse.js'
import { isPlainObject } from './types.js'

/**
 * One problem of a state. `rule` is the number of the state rule in docs/architecture.md
 * ('1'...'5', '7'), or 'path' (unsafe key), 'sigs' (_sigs/*.json shape), 'dm'
 * (_dm/*.json shape). `severity` is 'error' (the device or pvr would refuse
 * it) or 'warning' (the device logs it and carries on, e.g. an unknown role).
 */
export interface ValidationIssue {
  key: string
  rule: string
  message: string
  severity?: 'error' | 'warning'
}

export class IssueList {
  readonly list: ValidationIssue[] = []
  constructor(
    readonly keys: ReadonlySet<string>,
    readonly json: Record<string, unknown>,
  ) {}

  error(key: string, rule: string, problem: string): void {
    this.list.push({ key, rule, message: `${key}: ${problem}`, severity: 'error' })
  }

  warn(key: string, rule: string, problem: string): void {
    this.list.push({ key, rule, message: `${key}: ${problem}`, severity: 'warning' })
  }
}

export { describeValue }

export const q = (s: string): string => JSON.stringify(s)

/** An inline JSON object at `key`, or an issue (and undefined). */
export function inlineObject(il: IssueList, key: string, rule: string): Record<string, unknown> | undefined {
  const v = il.json[key]
  if (isPlainObject(v)) return v
  il.error(key, rule, `must be an inline JSON object, got ${describeValue(v)}`)
  return undefined
}

/** Split `handler:path` (Pantavisor cuts at the first ':'). */
export function splitHandler(ref: string): { handler: string | null; path: string } {
  const i = ref.indexOf(':')
  return i === -1 ? { handler: null, path: ref } : { handler: ref.slice(0, i), path: ref.slice(i + 1) }
}

/** Problem of a relative path used inside a part (`bsp/<path>`, `<c>/<path>`), or null. */
export function relPathProblem(p: string): string | null {
  if (p === '') return 'is empty'
  if (p.startsWith('/')) return 'is an absolute path'
  if (p.split('/').some(s => s === '..' || s === '.' || s === '')) return 'has an empty, "." or ".." segment'
  return null
}
