/**
 * The signature verdict on a state composed from others (a package added onto
 * a library revision, or onto what a device runs), as the device would give
 * it: pass or not, what it answers the step with, and which signatures the
 * composition broke.
 */
import { readStateDoc } from '../../shared/state/index.js'
import { DEVICE_MESSAGES, verifyStateSignatures } from './verify.js'
import type { TrustSource } from './policy.js'
import type { DeviceResult, PolicyMode, SignatureReport } from './types.js'

export interface CompositionVerdict {
  policy: PolicyMode
  pass: boolean
  result: DeviceResult
  /** One line: `signed by ..., all keys covered` / `unsigned` / `INVALID: ...`. */
  summary: string
  reason: string | null
  /** What the device answers the step with when it refuses it, e.g. `422 "Secureboot: Signature validation failed"` (the step ends WONTGO). */
  device: string | null
  /** Signatures that verified where they came from (the base or a package) and do not in the result. */
  broken: Array<{ key: string; message: string }>
  report: SignatureReport
}

/** compositionVerdict where it may run elsewhere (the app's signature worker): `raw` judged against the states it was composed from. */
export type CompositionJudge = (raw: Uint8Array, origins: Uint8Array[]) => Promise<CompositionVerdict>

/**
 * The signature verdict on a composed state as the device gives it, under the
 * trust source's anchors and policy: pass or not, what the device answers the
 * step, and which signatures the composition broke (those that verified in
 * one of `origins`, the states it was composed from, with the same bytes,
 * and fail in the result). For installs of a package onto what a device runs
 * too: origins = [the device's current state, the package's state].
 */
export function compositionVerdict(raw: Uint8Array, origins: Uint8Array[], trust: TrustSource): CompositionVerdict {
  const verify = (r: Uint8Array): SignatureReport | null => {
    try {
      return verifyStateSignatures(r, { trust: trust.anchors(), policy: trust.policy() })
    } catch {
      return null
    }
  }
  const report = verifyStateSignatures(raw, { trust: trust.anchors(), policy: trust.policy() })
  const wasOk = new Set<string>()
  for (const o of origins) {
    const values = rawValues(o)
    for (const s of verify(o)?.signatures ?? []) if (s.ok) wasOk.add(`${s.key}\n${values.get(s.key) ?? ''}`)
  }
  const now = rawValues(raw)
  const broken = report.signatures
    .filter(s => !s.ok && wasOk.has(`${s.key}\n${now.get(s.key) ?? ''}`))
    .map(s => ({ key: s.key, message: s.message ?? s.failure ?? 'invalid' }))
  return {
    policy: report.policy,
    pass: report.pass,
    result: report.result,
    summary: report.summary,
    reason: report.reason,
    device: deviceAnswer(report),
    broken,
    report,
  }
}

function deviceAnswer(r: SignatureReport): string | null {
  if (r.pass) return null
  const msg = r.result === 'uncovered' ? DEVICE_MESSAGES.uncovered : DEVICE_MESSAGES.invalid
  return `422 "Secureboot: ${msg}" to PUT /steps (the step ends WONTGO)`
}

function rawValues(raw: Uint8Array | string): Map<string, string> {
  try {
    return new Map(readStateDoc(raw, 'state').members.map(m => [m.key, m.raw]))
  } catch {
    return new Map()
  }
}
