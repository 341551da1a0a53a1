/**
 * The signature worker thread (signatures.ts is its main side): verifies a
 * stored state against the trust store of the same home, so that signature
 * work, which a hostile state can make cost a second or more, never runs on
 * the thread that answers the API. It keeps its own TrustStore, read again
 * whenever the main side's version differs from its own.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { silentLogger } from '../../../shared/log.js'
import { TrustStore } from '../../trust/store.js'
import type { SignatureReport } from '../../trust/types.js'
import { signatureReportView, signatureStatus } from '../../trust/view.js'
import { checkPolicy } from '../../trust/policy.js'
import { compositionVerdict, type CompositionVerdict } from '../../trust/composition.js'
import { toWireError, type WireError } from '../../../shared/errors.js'
import type { SignatureReportView, SignatureStatus } from '../../../shared/api/types.js'

/** verdict: the report for the UI; policy: whether the policy lets the state through (checkPolicy), for an install or a USB write. */
export interface ToSignatureWorker {
  n: number
  /** composition: compositionVerdict of `raw` against `origins`, the states it was composed from. */
  op: 'verdict' | 'policy' | 'composition'
  raw: Uint8Array
  origins?: Uint8Array[]
  version: string
}
export type FromSignatureWorker =
  | { n: number; ok: true; version: string; status: SignatureStatus; view: SignatureReportView; anchors: string[] }
  | { n: number; ok: true; version: string; pass: true }
  | { n: number; ok: true; version: string; composition: CompositionVerdict }
  | { n: number; ok: false; message: string; error?: WireError }

const port = parentPort
if (port === null) throw new Error('signature-worker runs as a worker thread')
const store = new TrustStore({ log: silentLogger() }, { home: (workerData as { home: string }).home })
let loaded = false

/** Fingerprints of the trust entries that a valid signature of `r` rests on: its chain's anchor, or its pinned key. */
function anchorsOf(r: SignatureReport): string[] {
  const out = new Set<string>()
  for (const s of r.signatures) {
    if (!s.ok || s.signer === null) continue
    const signer = s.signer
    const fp =
      signer.kind === 'x5c'
        ? signer.chain.find(c => c.role === 'anchor')?.fingerprint
        : store.anchors().pinnedKeys.find(k => k.name === signer.name)?.fingerprint
    if (fp !== undefined) out.add(fp)
  }
  return [...out]
}

port.on('message', (m: ToSignatureWorker) => {
  void (async () => {
    try {
      if (!loaded || store.version() !== m.version) {
        await store.refresh()
        loaded = true
      }
      if (m.op === 'composition') {
        const composition = compositionVerdict(m.raw, m.origins ?? [], store)
        port.postMessage({ n: m.n, ok: true, version: store.version(), composition } satisfies FromSignatureWorker)
        return
      }
      if (m.op === 'policy') {
        try {
          checkPolicy(m.raw, store)
        } catch (err) {
          port.postMessage({ n: m.n, ok: false, message: (err as Error).message, error: toWireError(err) } satisfies FromSignatureWorker)
          return
        }
        port.postMessage({ n: m.n, ok: true, version: store.version(), pass: true } satisfies FromSignatureWorker)
        return
      }
      const r = store.verify(m.raw)
      port.postMessage({
        n: m.n,
        ok: true,
        version: store.version(),
        status: signatureStatus(r),
        view: signatureReportView(r),
        anchors: anchorsOf(r),
      } satisfies FromSignatureWorker)
    } catch (err) {
      port.postMessage({ n: m.n, ok: false, message: (err as Error).message } satisfies FromSignatureWorker)
    }
  })()
})
