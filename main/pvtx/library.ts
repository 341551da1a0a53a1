/**
 * Composition in the library: a new revision from a library revision,
 * packages (library revisions) added onto it and parts removed, with the
 * engine pvtx uses (shared/state/compose). A plan says what the result would
 * be before anything is saved: the parts and keys added, replaced and
 * removed, the bytes a device running the base needs, the state's problems,
 * and the signature verdict as the device would give it (main/trust, which
 * follows signature.c), including which signatures the composition broke.
 */
import { InvalidStateError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import {
  compose,
  diffStates,
  objectRefs,
  revisionId,
  uniqueShas,
  validateState,
  type ComposeOp,
  type ComposeResult,
  type ValidationIssue,
} from '../../shared/state/index.js'
import type { AddRevisionResult, Library, RevisionInfo } from '../store/library.js'
import { compositionVerdict, type CompositionJudge, type CompositionVerdict, type TrustSource } from '../trust/index.js'

export { compositionVerdict, type CompositionVerdict }

export type LibraryOp = { add: string } | { remove: string }

export interface CompositionPlan {
  base: RevisionInfo
  packages: RevisionInfo[]
  ops: LibraryOp[]
  result: ComposeResult
  /** The id the composed revision has (canonical JSON), and the revision holding it already, if any. */
  id: string
  existing: RevisionInfo | null
  /** Unique objects the result references, those the library lacks, and the bytes of those it has. */
  objects: { count: number; missing: string[]; bytes: number }
  /** What a device running the base needs to move to the result. */
  transfer: { bytes: number; objects: number }
  /** The result's problems as a device's parser sees them (errors refuse the save). */
  issues: ValidationIssue[]
  signature: CompositionVerdict
}

export class LibraryComposer {
  private readonly log: Logger
  /** `judge`: where the signature verdict runs off this thread (the app's signature worker); else here, against `trust`. */
  constructor(private readonly components: { library: Library; trust: TrustSource; log: Logger; judge?: CompositionJudge }) {
    this.log = components.log.child('compose')
  }

  async plan(baseRef: string, ops: LibraryOp[]): Promise<CompositionPlan> {
    const lib = this.components.library
    const base = lib.resolve(baseRef)
    const baseState = lib.state(base.id)
    const packages: RevisionInfo[] = []
    const engineOps: ComposeOp[] = ops.map(op => {
      if ('remove' in op) return { remove: op.remove }
      const p = lib.resolve(op.add)
      packages.push(p)
      return { add: lib.state(p.id), label: p.name }
    })
    const result = compose(baseState, engineOps, { baseLabel: base.name })
    const id = revisionId(result.state)
    const refs = objectRefs(result.state)
    const shas = uniqueShas(refs)
    const missing = shas.filter(s => !lib.isPresent(s))
    const bytes = shas.reduce((n, s) => n + (lib.objectSize(s) ?? 0), 0)
    const diff = diffStates(baseState, result.state, sha => lib.objectSize(sha))
    return {
      base,
      packages,
      ops,
      result,
      id,
      existing: lib.get(id) ?? null,
      objects: { count: shas.length, missing, bytes },
      transfer: { bytes: diff.transferBytes, objects: diff.transferObjects.length },
      issues: validateState(result.state),
      signature: await this.verdict(result.raw, [baseState.raw, ...packages.map(p => lib.state(p.id).raw)]),
    }
  }

  private async verdict(raw: Uint8Array, origins: Uint8Array[]): Promise<CompositionVerdict> {
    const { judge, trust } = this.components
    return judge !== undefined ? await judge(raw, origins) : compositionVerdict(raw, origins, trust)
  }

  /** Save a plan as a library revision named `name`. Refuses a result the device's parser would refuse. */
  save(plan: CompositionPlan, name: string): AddRevisionResult {
    const errors = plan.issues.filter(i => i.severity !== 'warning')
    if (errors.length > 0) {
      throw new InvalidStateError(
        `the composed state is not valid: ${errors
          .slice(0, 3)
          .map(i => `${i.key}: ${i.message}`)
          .join('; ')}${errors.length > 3 ? '; …' : ''}`,
        { issues: errors },
      )
    }
    const lib = this.components.library
    const source = `composed: ${plan.base.name}${plan.ops.map(o => ('add' in o ? ` + ${o.add}` : ` - ${o.remove}`)).join('')}`
    const res = lib.addRevision({ raw: plan.result.raw, parsed: plan.result.state, name, source })
    this.log('saved %s as %s (%s)', res.id, name, source)
    return res
  }
}

/** The raw text of each top-level value, to tell a signature from another one under the same key. */
