/**
 * trust.*: the library's trust store (main/trust/store.ts) as the Trust
 * screen drives it: list (with the revisions each entry verifies), add a PEM
 * file by path or upload, remove, and the signature policy. After a change,
 * every revision's signature verdict may differ: a 'trust' event and a
 * 'revision' event per revision tell the screens to read them again (the
 * same when another process changes the store on disk: trust/watch.ts).
 */
import type { TrustEntryView, TrustView } from '../../../shared/api/trust.js'
import type { TrustEntry, TrustStore } from '../../trust/store.js'
import type { HandlerDeps, HandlerMap } from './context.js'

type TrustHandlers = Pick<HandlerMap, 'trust.list' | 'trust.add' | 'trust.remove' | 'trust.setPolicy'>

export function trustHandlers(deps: HandlerDeps): TrustHandlers {
  // Read when called: the app's trust store loads at its start, after the handlers exist.
  const store = (): TrustStore => deps.app.trust
  const lib = deps.app.library

  /** Which library revisions each trust entry verifies, by fingerprint. */
  const verified = async (): Promise<Map<string, Array<{ id: string; name: string }>>> => {
    const out = new Map<string, Array<{ id: string; name: string }>>()
    for (const r of lib.list()) {
      for (const fp of await deps.signatureAnchors(r.id)) {
        let list = out.get(fp)
        if (list === undefined) {
          list = []
          out.set(fp, list)
        }
        list.push({ id: r.id, name: r.name })
      }
    }
    return out
  }
  const views = async (entries: TrustEntry[]): Promise<TrustEntryView[]> => {
    const by = entries.length > 0 ? await verified() : new Map<string, Array<{ id: string; name: string }>>()
    return entries.map(e => ({ ...e, verifies: by.get(e.fingerprint) ?? [] }))
  }
  const changed = (): void => {
    deps.trustChanged()
  }

  return {
    async 'trust.list'(): Promise<TrustView> {
      await deps.trustFresh()
      return { policy: store().policy(), oemName: store().oemName(), entries: await views(store().list()) }
    },

    async 'trust.add'(req, ctx) {
      const up = req.upload !== undefined ? deps.uploads.take(req.upload) : undefined
      try {
        const res = await store().add(up?.path ?? (req.path as string), { oem: req.oem === true, label: up?.filename, signal: ctx.signal })
        if (res.added.length > 0) changed()
        return { added: await views(res.added), existed: await views(res.existed), warnings: res.warnings }
      } finally {
        if (up !== undefined) await deps.uploads.discard(up)
      }
    },

    async 'trust.remove'({ fingerprint }, ctx) {
      const gone = await store().remove(fingerprint, { signal: ctx.signal })
      changed()
      return { removed: gone.map(e => ({ ...e, verifies: [] })) }
    },

    async 'trust.setPolicy'({ policy }, ctx) {
      const was = store().policy()
      await store().setPolicy(policy, { signal: ctx.signal })
      if (was !== policy) changed()
      return { policy: store().policy() }
    },
  }
}
