/** library.composePreview / library.composeSave: the revision page's "Add package…" and "Remove part…" (main/pvtx/library.ts). */
import type { ComposeOpRequest, ComposePreview, DiffEntry } from '../../../shared/api/types.js'
import { NotFoundError } from '../../../shared/errors.js'
import { isSha, partsOfState } from '../../../shared/state/index.js'
import { LibraryComposer, type CompositionPlan, type LibraryOp } from '../../pvtx/library.js'
import type { HandlerDeps, HandlerMap } from './context.js'
import { summary } from './library.js'

type ComposeHandlers = Pick<HandlerMap, 'library.composePreview' | 'library.composeSave'>

function toOps(ops: ComposeOpRequest[]): LibraryOp[] {
  return ops.map(o => ('add' in o && o.add !== undefined ? { add: o.add } : { remove: (o as { remove: string }).remove }))
}

export function composeHandlers(deps: HandlerDeps): ComposeHandlers {
  const lib = deps.app.library
  const composer = (): LibraryComposer => new LibraryComposer({ library: lib, trust: deps.app.trust, log: deps.log, judge: deps.judge })
  const preview = (p: CompositionPlan): ComposePreview => {
    const entry =
      (json: Record<string, unknown>) =>
      (key: string): DiffEntry => {
        const v = json[key]
        return { key, bytes: isSha(v) ? lib.objectSize(v) : null }
      }
    const before = lib.state(p.base.id).json
    const after = p.result.state.json
    const s = p.signature
    return {
      base: { id: p.base.id, name: p.base.name },
      packages: p.packages.map(x => ({ id: x.id, name: x.name })),
      id: p.id,
      existing: p.existing === null ? null : { id: p.existing.id, name: p.existing.name },
      parts: p.result.parts,
      keys: {
        added: p.result.keys.added.map(entry(after)),
        replaced: p.result.keys.replaced.map(entry(after)),
        removed: p.result.keys.removed.map(entry(before)),
      },
      steps: p.result.steps.map(x => ({ op: x.op, label: x.label, addedKeys: x.addedKeys.length, removedKeys: x.removedKeys.length })),
      warnings: p.result.warnings,
      issues: p.issues.map(i => ({ key: i.key, message: i.message, severity: i.severity === 'warning' ? 'warning' : 'error' })),
      objects: { count: p.objects.count, missing: p.objects.missing.length, bytes: p.objects.bytes },
      transfer: p.transfer,
      stateBytes: p.result.raw.byteLength,
      signature: { policy: s.policy, pass: s.pass, summary: s.summary, reason: s.reason, device: s.device, broken: s.broken },
      resultParts: partsOfState(p.result.raw),
    }
  }
  return {
    async 'library.composePreview'({ base, ops }) {
      return preview(await composer().plan(base, toOps(ops)))
    },

    async 'library.composeSave'({ base, ops, name }) {
      const c = composer()
      const plan = await c.plan(base, toOps(ops))
      const res = c.save(plan, name)
      const info = lib.get(res.id)
      if (info === undefined) throw new NotFoundError(`revision ${res.id}: removed meanwhile`)
      deps.events.emit('revision', { id: info.id, complete: info.complete })
      return { revision: await summary(deps, info), existed: res.existed }
    },
  }
}
