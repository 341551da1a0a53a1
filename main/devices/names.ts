/** Step names on a device: `locals/<name>`, name at most 64 characters, no `/` (state rule 7, docs/architecture.md). */
import { UsageError } from '../../shared/errors.js'
import { localRevisionNameProblem } from '../../shared/state/index.js'

export const LOCALS = 'locals/'
export const STEP_NAME_MAX = 64

/** `locals/<name>` from `name` or `locals/name`; UsageError when the device would refuse it. */
export function stepFromName(name: string): string {
  const problem = localRevisionNameProblem(name)
  if (problem !== null) throw new UsageError(`--name ${name}: ${problem}`)
  return name.startsWith(LOCALS) ? name : LOCALS + name
}

/**
 * The default step for a revision: its name made safe, then the first 8
 * characters of its id, e.g. `locals/pvwificonnect-3f2a9c1d`; at most 64.
 */
export function defaultStep(revName: string, revId: string): string {
  const short = revId.slice(0, 8)
  let base = revName
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
  if (base === '' || revId.startsWith(base)) base = 'rev'
  base = base.slice(0, STEP_NAME_MAX - short.length - 1).replace(/[-.]+$/, '')
  return `${LOCALS}${base}-${short}`
}
