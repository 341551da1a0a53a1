/**
 * The real signed revision from Pantavisor's repository (pvwificonnect.tgz,
 * RS256, x5c leaf pv-developer-01 expired 2024-09-14, issued by the
 * Pantavisor Dev CA) and the upstream initial_state.json (five pvr
 * signatures, stored pretty-printed).
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { certsFromPem, checkPolicy, emptyAnchors, verifyStateSignatures, type TrustAnchors } from '../../../main/trust/index.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { canonical, hasOpenssl, makeCert, makeKey } from './pki.js'
import { tempDir } from '../../helpers/tmp.js'

const raw = execFileSync('tar', ['-xzOf', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), 'json'])
const devCa = certsFromPem(readFileSync(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'), 'utf8'), 'dev CA')
const trust: TrustAnchors = { ...emptyAnchors(), cas: devCa }
const text = raw.toString('utf8')

/** Change one letter or digit inside the raw value of `key` (the state is canonical: `"key":value`). */
function mutate(key: string, at = 10): string {
  const start = text.indexOf(JSON.stringify(key) + ':') + JSON.stringify(key).length + 1
  let i = start + at
  while (!/[0-9a-y]/.test(text[i])) i++
  const c = text[i]
  const repl = /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : String.fromCharCode(c.charCodeAt(0) + 1)
  return text.slice(0, i) + repl + text.slice(i + 1)
}

describe('upstream pvwificonnect.tgz', () => {
  it('verifies against the Pantavisor Dev CA and reports the expired leaf', () => {
    const r = verifyStateSignatures(raw, { trust, now: new Date('2026-01-01T00:00:00Z') })
    assert.equal(r.pass, true)
    assert.equal(r.result, 'ok')
    assert.equal(r.signatures.length, 1)
    const s = r.signatures[0]
    assert.equal(s.ok, true)
    assert.equal(s.alg, 'RS256')
    assert.equal(s.signer?.name, 'pv-developer-01')
    assert.equal(s.signer?.anchor, 'Pantavisor Dev CA')
    assert.deepEqual(
      s.signer?.chain.map(c => [c.role, c.cn, c.validity]),
      [
        ['leaf', 'pv-developer-01', 'expired'],
        ['anchor', 'Pantavisor Dev CA', 'valid'],
      ],
    )
    assert.equal(s.signer?.chain[0].notAfter.slice(0, 10), '2024-09-14')
    assert.ok(
      s.notes.some(n => n.includes('expired on 2024-09-14') && n.includes('accepts it')),
      s.notes.join('\n'),
    )
    assert.deepEqual(s.covers, [
      'pvwificonnect/lxc.container.conf',
      'pvwificonnect/root.squashfs',
      'pvwificonnect/root.squashfs.docker-digest',
      'pvwificonnect/run.json',
    ])
    assert.deepEqual(r.excluded, ['_sigs/pvwificonnect.json', 'pvwificonnect/src.json'])
    assert.deepEqual(r.uncovered, ['#spec'])
    assert.equal(r.summary, 'signed by pv-developer-01 (Pantavisor Dev CA), 1 key not covered: #spec')
  })

  it('a one-byte change in any covered key fails', () => {
    for (const key of [
      'pvwificonnect/lxc.container.conf',
      'pvwificonnect/root.squashfs',
      'pvwificonnect/root.squashfs.docker-digest',
      'pvwificonnect/run.json',
    ]) {
      const changed = mutate(key)
      assert.notEqual(changed, text)
      const r = verifyStateSignatures(changed, { trust })
      assert.equal(r.pass, false, key)
      assert.equal(r.result, 'invalid', key)
      assert.equal(r.signatures[0].failure, 'BAD_SIGNATURE', key)
      assert.equal(r.signatures[0].verdict, 'invalid', key)
      assert.match(r.summary, /^INVALID: _sigs\/pvwificonnect\.json: changed after signing: /)
    }
  })

  it('a change in an excluded key does not', () => {
    const changed = mutate('pvwificonnect/src.json', 40)
    assert.notEqual(changed, text)
    const r = verifyStateSignatures(changed, { trust })
    assert.equal(r.pass, true)
    assert.equal(r.signatures[0].ok, true)
  })

  it('strict fails on the keys no signature covers; lenient and audit pass', () => {
    const strict = verifyStateSignatures(raw, { trust, policy: 'strict' })
    assert.equal(strict.pass, false)
    assert.equal(strict.result, 'uncovered')
    assert.match(strict.reason ?? '', /^State not fully covered by signatures: .*#spec/)
    const added = text.slice(0, -1) + ',"extra/file.conf":"' + 'a'.repeat(64) + '"}'
    const strict2 = verifyStateSignatures(added, { trust, policy: 'strict' })
    assert.deepEqual(strict2.uncovered, ['#spec', 'extra/file.conf'])
    assert.equal(strict2.pass, false)
    assert.equal(verifyStateSignatures(added, { trust, policy: 'lenient' }).pass, true)
    const audit = verifyStateSignatures(added, { trust, policy: 'audit' })
    assert.equal(audit.pass, true)
    assert.ok(audit.warnings.some(w => w.includes('extra/file.conf')))
    assert.throws(
      () => checkPolicy(added, trust, 'strict'),
      (e: { code?: string }) => e.code === ErrorCodes.PolicyRefused,
    )
  })

  it('an unknown CA fails, naming the issuer', async t => {
    const empty = verifyStateSignatures(raw, { trust: emptyAnchors() })
    assert.equal(empty.pass, false)
    assert.equal(empty.signatures[0].failure, 'UNKNOWN_CA')
    assert.match(empty.signatures[0].message ?? '', /Pantavisor Dev CA/)
    // An unknown signer is not a changed state (issue #17 item 5): its own verdict and words.
    assert.equal(empty.signatures[0].verdict, 'untrusted')
    assert.match(empty.summary, /^UNTRUSTED: _sigs\/pvwificonnect\.json: signed by CN=pv-developer-01, not trusted here: trust its CA \(.*Pantavisor Dev CA/)
    if (!hasOpenssl()) return t.skip('openssl CLI not installed (Debian package openssl)')
    const dir = await tempDir(t)
    const other = makeCert(dir, 'Some Other CA', makeKey('rsa2048'), { ca: true })
    const r = verifyStateSignatures(raw, { trust: { ...emptyAnchors(), cas: certsFromPem(other.pem, 'other') } })
    assert.equal(r.signatures[0].failure, 'UNKNOWN_CA')
    assert.match(r.signatures[0].message ?? '', /issued by CN=Pantavisor Dev CA, which is not in the trust store/)
    assert.throws(
      () => checkPolicy(raw, { ...emptyAnchors(), cas: certsFromPem(other.pem, 'other') }),
      (e: { code?: string; cause?: { code?: string } }) => e.code === ErrorCodes.PolicyRefused && e.cause?.code === ErrorCodes.SignatureInvalid,
    )
  })

  it('policy "disabled" passes whatever the signatures say', () => {
    const r = verifyStateSignatures(mutate('pvwificonnect/run.json'), { trust, policy: 'disabled' })
    assert.equal(r.pass, true)
    assert.equal(r.signatures[0].ok, false)
  })
})

describe('upstream initial_state.json (pvr-signed, stored pretty-printed)', () => {
  const pretty = readFileSync(join(vendoredUpstreamDir, 'initial_state.json'), 'utf8')
  it('the device rebuilds payloads from the raw text: the pretty-printed copy fails', () => {
    const r = verifyStateSignatures(pretty, { trust })
    assert.equal(r.pass, false)
    for (const k of ['_sigs/awconnect.json', '_sigs/bsp.json', '_sigs/pv-avahi.json', '_sigs/pvr-sdk.json']) {
      assert.equal(r.signatures.find(s => s.key === k)?.failure, 'BAD_SIGNATURE', k)
    }
  })
  it('the same state written canonically (as pvr stores it) verifies, except a signature whose keys are gone', () => {
    const r = verifyStateSignatures(canonical(JSON.parse(pretty)), { trust })
    const ok = Object.fromEntries(r.signatures.map(s => [s.key, s.ok]))
    assert.deepEqual(ok, {
      '_sigs/_hostconfig.json': false,
      '_sigs/awconnect.json': true,
      '_sigs/bsp.json': true,
      '_sigs/pv-avahi.json': true,
      '_sigs/pvr-sdk.json': true,
    })
    // its include "_hostconfig/**" matches nothing left in this state
    assert.deepEqual(r.signatures.find(s => s.key === '_sigs/_hostconfig.json')?.covers, [])
    // bsp.json includes "#spec" and device.json: with the other four every key but
    // _hostconfig's would be covered; strict still refuses because of the bad signature
    assert.equal(verifyStateSignatures(canonical(JSON.parse(pretty)), { trust, policy: 'strict' }).result, 'invalid')
  })
})
