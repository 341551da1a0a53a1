/**
 * One pvs@2 signature, checked in the order and with the outcome of
 * signature.c's pv_signature_verify_pvs.
 */
import { createPublicKey } from 'node:crypto'
import { certFromDer, unsupportedKey, validityAt, keyDescription, type TrustCert } from './certs.js'
import { verifyChain } from './chain.js'
import { arrayStrings, getValue, tokenize } from './jsmn.js'
import { b64Device, b64urlDevice, hashForAlg, verifyWithKey } from './jws.js'
import { globNotes, oemSignable, selectPayload, type GlobBudget, type KeyIndex, type Selection, type StateEntry } from './payload.js'
import { UNTRUSTED_FAILURES, type CertCheck, type SignatureCheck, type SignatureFailure, type SignerInfo, type TrustAnchors } from './types.js'

/** The raw `protected` and `signature` texts of a value the device takes for a pvs@2 signature. */
export interface PvsValue {
  protected: string
  signature: string
}

/**
 * pv_signature_parse_pvs on a member's raw value: `#spec` must be `pvs@2`
 * (else the device does not treat it as a signature at all), and `protected`
 * and `signature` must exist (else the device silently skips it).
 */
export function parsePvs(raw: string): { pvs: PvsValue } | { skip: string } | null {
  const toks = tokenize(raw)
  if (toks === null) return null
  const spec = getValue(raw, toks, '#spec')
  if (spec === null || spec.raw !== 'pvs@2') return null
  const prot = getValue(raw, toks, 'protected')
  if (prot === null) return { skip: 'has #spec pvs@2 but no "protected": the device skips it (it does not count as a signature)' }
  const sig = getValue(raw, toks, 'signature')
  if (sig === null) return { skip: 'has #spec pvs@2 but no "signature": the device skips it (it does not count as a signature)' }
  return { pvs: { protected: prot.raw, signature: sig.raw } }
}

const DATES_NOTE = 'the device does not check certificate dates (its mbedtls is built without MBEDTLS_HAVE_TIME_DATE), so it accepts it'

function certChecks(chain: TrustCert[], anchor: TrustCert | null, now: Date): CertCheck[] {
  return chain.map((c, i) => ({
    ...c.info,
    role: i === 0 ? 'leaf' : c === anchor ? 'anchor' : 'intermediate',
    validity: validityAt(c.info, now),
  }))
}

function dateNotes(checks: CertCheck[]): string[] {
  return checks
    .filter(c => c.validity !== 'valid')
    .map(c => {
      const who = c.cn !== null ? `CN=${c.cn}` : c.subject
      return c.validity === 'expired'
        ? `certificate ${who} expired on ${c.notAfter.slice(0, 10)}; ${DATES_NOTE}`
        : `certificate ${who} is not valid before ${c.notBefore.slice(0, 10)}; ${DATES_NOTE}`
    })
}

export interface CheckContext {
  entries: StateEntry[]
  trust: TrustAnchors
  now: Date
  /**
   * Selections already made over `entries`, by include and exclude globs:
   * signatures with the same globs select the same keys, so a state of
   * thousands of them costs one pass over its keys per distinct glob set,
   * not one per signature.
   */
  selections?: Map<string, Selection>
  /** The state's keys sorted, so each signature tests only the keys its globs could match. */
  index?: KeyIndex
  /** Glob tests left for this verification. */
  budget?: GlobBudget
}

/** Check the signature held by `key`. Marks the entries it covers (as the device does, even when it then fails). */
export function checkSignature(key: string, pvs: PvsValue, ctx: CheckContext): SignatureCheck {
  const check: SignatureCheck = {
    key,
    ok: false,
    verdict: 'invalid',
    failure: null,
    message: null,
    alg: null,
    include: null,
    exclude: null,
    signer: null,
    covers: [],
    excludes: [],
    notes: [],
  }
  const refuse = (failure: SignatureFailure, message: string): SignatureCheck => {
    check.failure = failure
    check.verdict = UNTRUSTED_FAILURES.includes(failure) ? 'untrusted' : 'invalid'
    check.message = message
    return check
  }
  const headerBytes = b64urlDevice(pvs.protected)
  if (headerBytes === null) return refuse('BAD_PROTECTED', '"protected" is not base64url')
  const nul = headerBytes.indexOf(0)
  const header = headerBytes.subarray(0, nul === -1 ? headerBytes.length : nul).toString('utf8')
  const htoks = tokenize(header)
  if (htoks === null) return refuse('BAD_PROTECTED', 'the protected header is not JSON')
  const typ = getValue(header, htoks, 'typ')
  if (typ === null) return refuse('BAD_TYP', 'the protected header has no "typ" (must be "PVS")')
  if (typ.raw !== 'PVS') return refuse('BAD_TYP', `"typ" is "${typ.raw}", must be "PVS"`)
  const pvsHdr = getValue(header, htoks, 'pvs')
  if (pvsHdr === null) return refuse('NO_PVS', 'the protected header has no "pvs" (include/exclude globs)')
  const ptoks = tokenize(pvsHdr.raw)
  const include = ptoks !== null ? getValue(pvsHdr.raw, ptoks, 'include') : null
  const exclude = ptoks !== null ? getValue(pvsHdr.raw, ptoks, 'exclude') : null
  const x5c = getValue(header, htoks, 'x5c')
  const alg = getValue(header, htoks, 'alg')
  if (alg === null) return refuse('NO_ALG', 'the protected header has no "alg"')
  check.alg = alg.raw
  let x5cItems: string[] | null = null
  if (x5c !== null) {
    x5cItems = arrayStrings(x5c.raw)
    if (x5cItems === null || x5cItems.length === 0) return refuse('BAD_X5C', '"x5c" is not a non-empty array of certificates')
  }
  const crash = 'Pantavisor dereferences a null pointer here and crashes instead of refusing the revision'
  if (include === null) return refuse('NO_INCLUDE', `"pvs" has no "include" list: ${crash}`)
  if (exclude === null) return refuse('NO_EXCLUDE', `"pvs" has no "exclude" list: ${crash}`)
  const incGlobs = arrayStrings(include.raw)
  const excGlobs = arrayStrings(exclude.raw)
  if (incGlobs === null) check.notes.push('"pvs.include" is not an array: the device matches nothing with it')
  if (excGlobs === null) check.notes.push('"pvs.exclude" is not an array: the device excludes nothing with it')
  check.include = incGlobs ?? []
  check.exclude = excGlobs ?? []
  check.notes.push(...globNotes(check.include, 'include'), ...globNotes(check.exclude, 'exclude'))
  const globsKey = JSON.stringify([check.include, check.exclude])
  let sel = ctx.selections?.get(globsKey)
  if (sel === undefined) {
    sel = selectPayload(ctx.entries, check.include, check.exclude, ctx.index, ctx.budget)
    ctx.selections?.set(globsKey, sel)
  }
  check.covers = sel.included.map(e => e.key)
  check.excludes = sel.excluded.map(e => e.key)
  const hash = hashForAlg(alg.raw)
  if (hash === null) return refuse('UNKNOWN_ALG', `"alg" is "${alg.raw}"; the device knows RS256, ES256, ES384 and ES512`)

  let keys: Array<{ key: import('node:crypto').KeyObject; signer: SignerInfo }>
  if (x5cItems !== null) {
    const certs: TrustCert[] = []
    for (let i = 0; i < x5cItems.length; i++) {
      const der = b64Device(x5cItems[i])
      if (der === null) return refuse('BAD_CERT', `x5c[${i}] is not base64`)
      try {
        certs.push(certFromDer(der))
      } catch (err) {
        return refuse('BAD_CERT', `x5c[${i}] is not an X.509 certificate the device can parse: ${(err as Error).message}`)
      }
    }
    const leaf = certs[0]
    const oem = ctx.trust.oemName !== null && leaf.info.cn === ctx.trust.oemName && oemSignable(sel.included, ctx.trust.oemName)
    const res = verifyChain(certs, oem ? ctx.trust.oemCas : ctx.trust.cas)
    const chain = certChecks(res.chain, res.anchor, ctx.now)
    check.signer = {
      kind: 'x5c',
      name: leaf.info.cn ?? leaf.info.subject,
      anchor: res.anchor === null ? null : (res.anchor.info.cn ?? res.anchor.info.subject),
      store: oem ? 'oem' : 'default',
      chain,
      key: leaf.info.key,
    }
    check.notes.push(...dateNotes(chain))
    if (!res.ok) return refuse(res.failure === 'BAD_CERT' ? 'BAD_CERT' : (res.failure ?? 'BAD_CHAIN'), res.message ?? 'the certificate chain does not verify')
    keys = [{ key: leaf.x509.publicKey, signer: check.signer }]
  } else {
    if (ctx.trust.pinnedKeys.length === 0) {
      return refuse(
        'NO_PINNED_KEY',
        'no "x5c" certificate chain, and no pinned key: the device checks such a signature with its pvs/trust/pub.pem; pin that public key with `fieldsync trust add <key.pem>`',
      )
    }
    keys = ctx.trust.pinnedKeys.map(k => ({
      key: k.key,
      signer: { kind: 'pinned-key', name: k.name, anchor: null, store: null, chain: [], key: keyDescription(k.key) },
    }))
  }
  const usable = keys.filter(k => unsupportedKey(k.key) === null)
  if (usable.length === 0) return refuse('UNSUPPORTED_KEY', unsupportedKey(keys[0].key) ?? 'unsupported key')
  const sig = b64urlDevice(pvs.signature)
  if (sig === null) return refuse('BAD_SIGNATURE', '"signature" is not base64url')
  const input = Buffer.from(pvs.protected + '.' + Buffer.from(sel.payload, 'utf8').toString('base64url'), 'utf8')
  const good = usable.find(k => verifyWithKey(k.key, hash, input, sig))
  if (good === undefined) {
    const what = sel.included.length === 0 ? 'no key of the state matches its include globs' : `${sel.included.length} covered key(s)`
    return refuse(
      'BAD_SIGNATURE',
      `the signature does not match the payload rebuilt from the stored state (${what}): a covered key was changed, the state was re-serialised after signing${x5cItems === null ? ', or no pinned key is the signing key' : ''}`,
    )
  }
  check.signer = good.signer
  const kt = good.key.asymmetricKeyType
  if ((alg.raw.startsWith('RS') && kt !== 'rsa') || (alg.raw.startsWith('ES') && kt !== 'ec')) {
    check.notes.push(`"alg" is ${alg.raw} but the key is ${keyDescription(good.key)}: the device picks the verification from the key and accepts it`)
  }
  const jwk = getValue(header, htoks, 'jwk')
  if (jwk !== null && jwk.tok.type === 'object') {
    try {
      const embedded = createPublicKey({ key: JSON.parse(jwk.raw), format: 'jwk' })
      if (!embedded.equals(good.key)) check.notes.push('the embedded "jwk" is not the signing key; the device ignores "jwk"')
    } catch {
      check.notes.push('the embedded "jwk" is not a usable key; the device ignores "jwk"')
    }
  }
  check.ok = true
  check.verdict = 'valid'
  return check
}
