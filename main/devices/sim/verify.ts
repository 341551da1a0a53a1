/**
 * What the simulated device checks on a state, in Pantavisor's order
 * (storage.c pv_storage_verify_state_json, update.c pv_update_run): the
 * signatures under the secureboot mode (main/trust, which follows
 * signature.c), then the parser (parser.ts, which follows parser/). Nothing
 * else: the device runs no validator beyond its parser.
 */
import { readFile } from 'node:fs/promises'
import { certsFromPem, DEVICE_MESSAGES, emptyAnchors, verifyStateSignatures, type PolicyMode, type TrustAnchors } from '../../trust/index.js'
import { PANTAVISOR_DEV_CA_PEM } from './dev-ca.js'
import { parseOnDevice, type DeviceState } from './parser.js'

export type VerifyVerdict = { ok: true; state: DeviceState } | { ok: false; stage: 'signature' | 'parser'; message: string; detail: string }

export interface DeviceTrust {
  anchors: TrustAnchors
  mode: PolicyMode
}

/** `--trust-ca none`: a device whose trust store holds no certificate (every x5c chain fails). */
export const NO_TRUST = 'none'

/**
 * The device's trust store (PV_SECUREBOOT_TRUSTSTORE): by default the stock
 * `ca-certificates`, which holds the Pantavisor Dev CA (dev-ca.ts); a PEM
 * bundle in its place; or NO_TRUST for an empty one.
 */
export async function loadDeviceTrust(caFile: string | undefined, mode: PolicyMode): Promise<DeviceTrust> {
  if (caFile === NO_TRUST) return { anchors: emptyAnchors(), mode }
  const cas = caFile === undefined ? certsFromPem(PANTAVISOR_DEV_CA_PEM, 'the Pantavisor Dev CA') : certsFromPem(await readFile(caFile, 'utf8'), caFile)
  return { anchors: { ...emptyAnchors(), cas }, mode }
}

const BAD_FORMAT = 'State JSON has bad format'

export function verifyOnDevice(raw: Uint8Array, trust: DeviceTrust): VerifyVerdict {
  try {
    const report = verifyStateSignatures(raw, { trust: trust.anchors, policy: trust.mode })
    if (!report.pass) {
      const message = report.result === 'uncovered' ? DEVICE_MESSAGES.uncovered : DEVICE_MESSAGES.invalid
      return { ok: false, stage: 'signature', message, detail: report.reason ?? message }
    }
  } catch (err) {
    return { ok: false, stage: 'parser', message: BAD_FORMAT, detail: (err as Error).message }
  }
  const parsed = parseOnDevice(raw)
  if (!parsed.ok) return { ok: false, stage: 'parser', message: BAD_FORMAT, detail: parsed.reason }
  return { ok: true, state: parsed.state }
}

/** The 422 text of PUT /steps (storage.c): "Secureboot: ..." or "Parser: ...". */
export function stepRefusal(v: Exclude<VerifyVerdict, { ok: true }>): string {
  return v.stage === 'signature' ? `Secureboot: ${v.message}` : `Parser: ${BAD_FORMAT}`
}
