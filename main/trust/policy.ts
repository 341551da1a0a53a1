/**
 * The refusal hook for `install` and `usb export`: check a state's
 * signatures under a policy and throw PolicyRefusedError (with the reason)
 * when the device would refuse it.
 */
import { PolicyRefusedError, SignatureInvalidError } from '../../shared/errors.js'
import { verifyStateSignatures } from './verify.js'
import type { PolicyMode, SignatureReport, TrustAnchors } from './types.js'

/** Anything that knows the trust anchors and the library policy (TrustStore does). */
export interface TrustSource {
  anchors: () => TrustAnchors
  policy: () => PolicyMode
}

function isSource(t: TrustSource | TrustAnchors): t is TrustSource {
  return typeof (t as TrustSource).anchors === 'function'
}

/**
 * Verify `raw` (the stored state bytes) and return the report when the policy
 * passes it; throw PolicyRefusedError otherwise. `policy` defaults to the
 * store's policy (or lenient with bare anchors).
 */
export function checkPolicy(raw: Uint8Array | string, trust: TrustSource | TrustAnchors, policy?: PolicyMode, now?: Date): SignatureReport {
  const anchors = isSource(trust) ? trust.anchors() : trust
  const mode = policy ?? (isSource(trust) ? trust.policy() : undefined)
  const report = verifyStateSignatures(raw, { trust: anchors, policy: mode, now })
  if (report.pass) return report
  const details = { policy: report.policy, result: report.result, summary: report.summary }
  const cause = report.result === 'invalid' ? new SignatureInvalidError(report.reason ?? report.summary, details) : undefined
  throw new PolicyRefusedError(
    `refused by the signature policy "${report.policy}" (a device in that mode would answer WONTGO): ${report.reason ?? report.summary}`,
    details,
    { cause },
  )
}

/** A check of the signature policy that may run elsewhere (the app's signature worker); rejects as checkPolicy throws. */
export type PolicyCheck = (raw: Uint8Array) => Promise<void>

/**
 * The signature policy applied to a state about to leave this laptop: the
 * given check (the app runs it off its API thread), else checkPolicy against
 * `trust` here (the CLI), else none (no trust store: nothing to judge with).
 */
export async function applyPolicy(raw: Uint8Array, o: { policy?: PolicyCheck; trust?: TrustSource }): Promise<void> {
  if (o.policy !== undefined) return await o.policy(raw)
  if (o.trust !== undefined) checkPolicy(raw, o.trust)
}

/**
 * The one-line signature summary for `fieldsync show`/`ls`:
 * `signed by pv-developer-01 (Pantavisor Dev CA), all keys covered`, `unsigned`
 * or `INVALID: ...`. Never throws: a state it cannot read gives `INVALID: ...`.
 */
export function signatureSummary(raw: Uint8Array | string, trust: TrustSource | TrustAnchors): string {
  try {
    const anchors = isSource(trust) ? trust.anchors() : trust
    return verifyStateSignatures(raw, { trust: anchors, policy: 'lenient' }).summary
  } catch (err) {
    return `INVALID: ${(err as Error).message}`
  }
}
