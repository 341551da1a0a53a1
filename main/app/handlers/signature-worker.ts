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
import type { SignatureReportView, SignatureStatus } from '../../../shared/api/types.js'

export interface ToSignatureWorker {
  n: number
  raw: Uint8Array
  version: string
}
export type FromSignatureWorker =
  { n: number; ok: true; version: string; status: SignatureStatus; view: SignatureReportView; anchors: string[] } | { n: number; ok: false; message: string }

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
