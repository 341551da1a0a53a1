/**
 * verifyStateSignatures: the device's pv_signature_verify on the stored bytes
 * of a state, with a report of who signed what. Pure (no I/O): the trust
 * anchors and the policy come in, a SignatureReport goes out.
 *
 * As on the device: every top-level value whose `#spec` is `pvs@2` is a
 * signature (wherever it sits; not only under `_sigs/`), every signature is
 * checked (no early exit), coverage accumulates over the signatures, and
 * `strict`/`audit` then require every key outside `_sigs/` to be matched by
 * some include or exclude glob. `audit` forgives uncovered keys only: an
 * invalid signature still fails (upstream code; its documentation says
 * otherwise).
 */
import { InvalidStateError } from '../../shared/errors.js'
import { tokenize, topLevelPairs } from './jsmn.js'
import { KeyIndex, stateEntries, TooCostlyError, type Selection } from './payload.js'
import { checkSignature, parsePvs } from './signature.js'
import { DEFAULT_POLICY, type DeviceResult, type PolicyMode, type SignatureCheck, type SignatureReport, type VerifyOptions } from './types.js'

/** The device's messages (pv_signature_sign_state_str), used as the start of `reason`. */
export const DEVICE_MESSAGES = {
  invalid: 'Signature validation failed',
  uncovered: 'State not fully covered by signatures',
} as const

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Limits of one verification (README, "Security and reliability"): a real
 * state carries a handful of signatures over a few hundred keys. Past these,
 * the state is reported INVALID ("too costly to check") instead of being
 * checked for minutes: signatures beyond MAX_SIGNATURES, or more glob tests
 * than MAX_GLOB_TESTS (each signature tests only the keys its globs could
 * match: see KeyIndex).
 */
export const SignatureLimits = { signatures: 1000, globTests: 2_000_000 } as const

function listSome(keys: string[], max = 3): string {
  return keys.slice(0, max).join(', ') + (keys.length > max ? `, … (${keys.length - max} more)` : '')
}

export function signerLabel(s: SignatureCheck): string {
  const sg = s.signer
  if (sg === null) return s.key
  if (sg.kind === 'pinned-key') return `key ${sg.name}`
  return sg.anchor !== null && sg.anchor !== sg.name ? `${sg.name} (${sg.anchor})` : sg.name
}

/**
 * What is wrong with one signature, in a technician's words: an untrusted
 * signer ("signed by CN=…, not trusted here: trust its CA") is not a changed
 * state ("changed after signing: …").
 */
export function verdictText(s: SignatureCheck): string {
  const why = s.message ?? s.failure ?? 'does not verify'
  if (s.verdict === 'untrusted') {
    const who = s.signer === null ? 'an unknown key' : s.signer.kind === 'x5c' ? `CN=${s.signer.name}` : `key ${s.signer.name}`
    return `signed by ${who}, not trusted here: trust its ${s.failure === 'NO_PINNED_KEY' ? 'public key' : 'CA'} (${why})`
  }
  return s.failure === 'BAD_SIGNATURE' ? `changed after signing: ${why}` : why
}

/** The one-line summary for `show`/`ls`: INVALID before UNTRUSTED, each naming its first signature. */
export function summarize(r: Pick<SignatureReport, 'signatures' | 'uncovered'>): string {
  const invalid = r.signatures.filter(s => s.verdict === 'invalid')
  if (invalid.length > 0) {
    return `INVALID: ${invalid[0].key}: ${verdictText(invalid[0])}` + (invalid.length > 1 ? ` (and ${invalid.length - 1} more invalid)` : '')
  }
  const untrusted = r.signatures.filter(s => s.verdict === 'untrusted')
  if (untrusted.length > 0) {
    return `UNTRUSTED: ${untrusted[0].key}: ${verdictText(untrusted[0])}` + (untrusted.length > 1 ? ` (and ${untrusted.length - 1} more untrusted)` : '')
  }
  if (r.signatures.length === 0) return 'unsigned'
  const signers = [...new Set(r.signatures.map(signerLabel))]
  const cover =
    r.uncovered.length === 0 ? 'all keys covered' : `${r.uncovered.length} key${r.uncovered.length === 1 ? '' : 's'} not covered: ${listSome(r.uncovered)}`
  return `signed by ${signers.join(', ')}, ${cover}`
}

/** Verify every pvs@2 signature of a stored state (raw bytes as imported) and apply the policy. */
export function verifyStateSignatures(raw: Uint8Array | string, opts: VerifyOptions): SignatureReport {
  const policy = opts.policy ?? DEFAULT_POLICY
  const now = opts.now ?? new Date()
  let text: string
  try {
    text = typeof raw === 'string' ? raw : decoder.decode(raw)
  } catch {
    throw new InvalidStateError('state JSON: not UTF-8 text; cannot check its signatures')
  }
  const toks = tokenize(text)
  const pairs = toks === null ? null : topLevelPairs(text, toks)
  if (pairs === null) throw new InvalidStateError('state JSON: not a JSON object; cannot check its signatures')
  const entries = stateEntries(pairs)
  const signatures: SignatureCheck[] = []
  const selections = new Map<string, Selection>()
  const index = new KeyIndex(entries)
  const budget = { left: SignatureLimits.globTests }
  const ignored: SignatureReport['ignored'] = []
  const count = entries.filter(e => (e.type === 'object' || e.type === 'array') && e.raw.includes('pvs@2')).length
  if (count > SignatureLimits.signatures)
    return tooCostly(policy, now, `${count} signatures: more than the ${SignatureLimits.signatures} Fieldsync checks in one state`)
  try {
    for (const e of entries) {
      const isSig = e.key.startsWith('_sigs/')
      if (e.type !== 'object' && e.type !== 'array') {
        if (isSig) ignored.push({ key: e.key, reason: 'not a JSON object: the device does not read it as a signature' })
        continue
      }
      const p = parsePvs(e.raw)
      if (p === null) {
        if (isSig) ignored.push({ key: e.key, reason: '#spec is not "pvs@2": the device does not read it as a signature' })
        continue
      }
      if ('skip' in p) {
        ignored.push({ key: e.key, reason: p.skip })
        continue
      }
      signatures.push(checkSignature(e.key, p.pvs, { entries, trust: opts.trust, now, selections, index, budget }))
    }
  } catch (err) {
    if (!(err instanceof TooCostlyError)) throw err
    return tooCostly(policy, now, `${count} signatures over ${entries.length} keys: more than ${SignatureLimits.globTests} glob tests to check them`)
  }
  const inAny = new Set(signatures.flatMap(s => s.covers))
  const exAny = new Set(signatures.flatMap(s => s.excludes))
  const covered = entries.filter(e => inAny.has(e.key)).map(e => e.key)
  const excluded = entries.filter(e => exAny.has(e.key) && !inAny.has(e.key)).map(e => e.key)
  const uncovered = entries.filter(e => !e.rawKey.startsWith('_sigs/') && !e.covered).map(e => e.key)
  const invalid = signatures.filter(s => !s.ok)

  let result: DeviceResult = 'ok'
  let reason: string | null = null
  const warnings: string[] = ignored.map(i => `${i.key}: ${i.reason}`)
  if (policy === 'disabled') {
    warnings.push('policy "disabled": the device does not check signatures; the report shows what it would find otherwise')
  } else if (invalid.length > 0) {
    result = 'invalid'
    reason = `${DEVICE_MESSAGES.invalid}: ${invalid.map(s => `${s.key}: ${s.message ?? s.failure}`).join('; ')}`
  } else if ((policy === 'strict' || policy === 'audit') && uncovered.length > 0) {
    if (policy === 'strict') {
      result = 'uncovered'
      reason = `${DEVICE_MESSAGES.uncovered}: ${uncovered.length} key(s) no signature covers: ${listSome(uncovered, 5)}`
    } else {
      warnings.push(`audit: ${uncovered.length} key(s) no signature covers (${listSome(uncovered, 5)}); the device logs this and accepts the state`)
    }
  }
  const partial = { signatures, uncovered }
  return {
    policy,
    result,
    pass: result === 'ok',
    reason,
    signed: signatures.length > 0,
    signatures,
    ignored,
    covered,
    excluded,
    uncovered,
    warnings,
    summary: summarize(partial),
    checkedAt: now.toISOString(),
  }
}

/** The report of a state too costly to check: INVALID to every policy that checks (a real state is never near the limits). */
function tooCostly(policy: PolicyMode, now: Date, why: string): SignatureReport {
  const reason = `${DEVICE_MESSAGES.invalid}: not checked: ${why} (a real state carries a few signatures)`
  const disabled = policy === 'disabled'
  return {
    policy,
    result: disabled ? 'ok' : 'invalid',
    pass: disabled,
    reason: disabled ? null : reason,
    signed: true,
    signatures: [],
    ignored: [],
    covered: [],
    excluded: [],
    uncovered: [],
    warnings: [reason],
    summary: `INVALID: too costly to check: ${why}`,
    checkedAt: now.toISOString(),
  }
}
