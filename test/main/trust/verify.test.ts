/**
 * Signatures made here, as `pvr sig add` makes them, with keys from
 * node:crypto and certificates from openssl: every algorithm, chains that
 * break in the ways the device notices, broken headers, re-serialised
 * states, pinned keys, the OEM truststore and the policy modes.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { createPublicKey } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { certsFromPem, emptyAnchors, verifyStateSignatures, type PinnedKey, type SignatureReport, type TrustAnchors } from '../../../main/trust/index.js'
import { canonical, hasOpenssl, makeCert, makeKey, pvrSign, pvrSignature, sampleState, type Cert, type SignOptions } from './pki.js'

const skip = hasOpenssl() ? false : 'openssl CLI not installed (Debian package openssl)'

interface Pki {
  root: Cert
  inter: Cert
  rsa: Cert
  p256: Cert
  p384: Cert
  p521: Cert
  weak: Cert
  sha1: Cert | null
  fakeInter: Cert
  oemCa: Cert
  oemLeaf: Cert
  trust: TrustAnchors
}
let pki: Pki

before(() => {
  if (skip !== false) return
  const dir = mkdtempSync(join(tmpdir(), 'fieldsync-trust-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  const root = makeCert(dir, 'Test Root CA', makeKey('rsa2048'), { ca: true })
  const inter = makeCert(dir, 'Test Intermediate CA', makeKey('p384'), { ca: true, issuer: root })
  const fakeInter = makeCert(dir, 'Test Intermediate CA', makeKey('p384'), { ca: true, issuer: root })
  const oemCa = makeCert(dir, 'OEM CA', makeKey('p256'), { ca: true })
  let sha1: Cert | null = null
  try {
    sha1 = makeCert(dir, 'dev-sha1', makeKey('p256'), { issuer: root, md: 'sha1' })
  } catch {
    sha1 = null
  }
  pki = {
    root,
    inter,
    fakeInter,
    rsa: makeCert(dir, 'dev-rsa', makeKey('rsa2048'), { issuer: root }),
    p256: makeCert(dir, 'dev-p256', makeKey('p256'), { issuer: inter }),
    p384: makeCert(dir, 'dev-p384', makeKey('p384'), { issuer: root }),
    p521: makeCert(dir, 'dev-p521', makeKey('p521'), { issuer: root }),
    weak: makeCert(dir, 'dev-weak', makeKey('rsa1024'), { issuer: root }),
    sha1,
    oemCa,
    oemLeaf: makeCert(dir, 'acme', makeKey('p256'), { issuer: oemCa }),
    trust: { ...emptyAnchors(), cas: certsFromPem(root.pem, 'root') },
  }
})

function signed(part: string, o: SignOptions, state = sampleState(1)): Record<string, unknown> {
  return pvrSign(state, part, o)
}

function check(state: Record<string, unknown> | string, trust: TrustAnchors = pki.trust, policy: 'lenient' | 'strict' | 'audit' = 'lenient'): SignatureReport {
  return verifyStateSignatures(typeof state === 'string' ? state : canonical(state), { trust, policy })
}

function only(r: SignatureReport): SignatureReport['signatures'][number] {
  assert.equal(r.signatures.length, 1)
  return r.signatures[0]
}

describe('algorithms', { skip }, () => {
  it('RS256 with an RSA-2048 leaf under the root', () => {
    const s = only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa] })))
    assert.equal(s.ok, true, s.message ?? '')
    assert.equal(s.alg, 'RS256')
    assert.deepEqual(s.covers, [
      '_config/app0/etc/app.conf',
      'app0/lxc.container.conf',
      'app0/root.squashfs',
      'app0/root.squashfs.docker-digest',
      'app0/run.json',
    ])
  })
  it('ES256 with a P-256 leaf under an intermediate carried in x5c', () => {
    const r = check(signed('app0', { key: pki.p256.key, x5c: [pki.p256, pki.inter] }))
    const s = only(r)
    assert.equal(s.ok, true, s.message ?? '')
    assert.equal(s.alg, 'ES256')
    assert.deepEqual(
      s.signer?.chain.map(c => [c.role, c.cn]),
      [
        ['leaf', 'dev-p256'],
        ['intermediate', 'Test Intermediate CA'],
        ['anchor', 'Test Root CA'],
      ],
    )
    assert.equal(r.summary, 'signed by dev-p256 (Test Root CA), 4 keys not covered: #spec, bsp/pantavisor.fit, bsp/run.json, … (1 more)')
  })
  it('ES384 and ES512', () => {
    for (const [c, alg] of [
      [pki.p384, 'ES384'],
      [pki.p521, 'ES512'],
    ] as const) {
      const s = only(check(signed('app0', { key: c.key, x5c: [c] })))
      assert.equal(s.ok, true, `${alg}: ${s.message}`)
      assert.equal(s.alg, alg)
    }
  })
  it('ECDSA signatures in DER form verify too (the device patches mbedtls to take either)', () => {
    for (const c of [pki.p256, pki.p384, pki.p521]) {
      const x5c = c === pki.p256 ? [c, pki.inter] : [c]
      assert.equal(only(check(signed('app0', { key: c.key, x5c, der: true }))).ok, true, c.name)
    }
  })
  it('"alg" only picks the hash: an RSA key under "ES256" passes, with a note', () => {
    const s = only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], alg: 'ES256' })))
    assert.equal(s.ok, true)
    assert.ok(s.notes.some(n => n.includes('picks the verification from the key')))
  })
  it('an unknown alg fails', () => {
    const s = only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], header: { alg: 'PS256' } })))
    assert.equal(s.failure, 'UNKNOWN_ALG')
  })
  it('a signature by another key with the same certificate fails', () => {
    const s = only(check(signed('app0', { key: makeKey('rsa2048'), x5c: [pki.rsa] })))
    assert.equal(s.failure, 'BAD_SIGNATURE')
  })
})

describe('certificate chains', { skip }, () => {
  it('a missing intermediate fails, naming it', () => {
    const s = only(check(signed('app0', { key: pki.p256.key, x5c: [pki.p256] })))
    assert.equal(s.failure, 'UNKNOWN_CA')
    assert.match(s.message ?? '', /CN=dev-p256 is issued by CN=Test Intermediate CA, which is not in the trust store/)
  })
  it('an intermediate with the right name but the wrong key breaks the chain', () => {
    const s = only(check(signed('app0', { key: pki.p256.key, x5c: [pki.p256, pki.fakeInter] })))
    assert.equal(s.failure, 'BAD_CHAIN')
    assert.match(s.message ?? '', /signature of CN=dev-p256 by CN=Test Intermediate CA does not verify/)
  })
  it('an empty trust store fails and says what to do', () => {
    const s = only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa] }), emptyAnchors()))
    assert.equal(s.failure, 'UNKNOWN_CA')
    assert.match(s.message ?? '', /trust store is empty.*fieldsync trust add/)
  })
  it('an RSA key under 2048 bits is refused (mbedtls default profile)', () => {
    const s = only(check(signed('app0', { key: pki.weak.key, x5c: [pki.weak] })))
    assert.equal(s.failure, 'WEAK_CERT')
  })
  it('a SHA-1 signed certificate is refused', t => {
    if (pki.sha1 === null) return t.skip('this openssl refuses to sign with SHA-1')
    const s = only(check(signed('app0', { key: pki.sha1.key, x5c: [pki.sha1] })))
    assert.equal(s.failure, 'WEAK_CERT')
  })
  it('x5c must be a non-empty array of base64 DER', () => {
    assert.equal(only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], header: { x5c: [] } }))).failure, 'BAD_X5C')
    assert.equal(only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], header: { x5c: ['bm90IGEgY2VydA=='] } }))).failure, 'BAD_CERT')
  })
  it('OEM truststore: a leaf named PV_OEM_NAME that signs no bsp/ key is checked against the OEM CAs', () => {
    const trust: TrustAnchors = { ...pki.trust, oemCas: certsFromPem(pki.oemCa.pem, 'oem'), oemName: 'acme' }
    const app = only(check(signed('app0', { key: pki.oemLeaf.key, x5c: [pki.oemLeaf] }), trust))
    assert.equal(app.ok, true, app.message ?? '')
    assert.equal(app.signer?.store, 'oem')
    const bsp = only(check(signed('bsp', { key: pki.oemLeaf.key, x5c: [pki.oemLeaf] }), trust))
    assert.equal(bsp.signer?.store, 'default')
    assert.equal(bsp.failure, 'UNKNOWN_CA')
  })
})

describe('protected header', { skip }, () => {
  const cases: Array<[string, Partial<SignOptions>, string]> = [
    ['a wrong typ', { header: { typ: 'JWT' } }, 'BAD_TYP'],
    ['no typ', { drop: ['typ'] }, 'BAD_TYP'],
    ['no pvs', { drop: ['pvs'] }, 'NO_PVS'],
    ['no pvs.include', { dropPvs: ['include'] }, 'NO_INCLUDE'],
    ['no pvs.exclude', { dropPvs: ['exclude'] }, 'NO_EXCLUDE'],
    ['no alg', { drop: ['alg'] }, 'NO_ALG'],
  ]
  for (const [what, o, failure] of cases) {
    it(`${what} fails with ${failure}`, () => {
      const r = check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], ...o }))
      assert.equal(only(r).failure, failure)
      assert.equal(r.pass, false)
    })
  }
  it('a missing include says the device would crash rather than refuse', () => {
    const s = only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], dropPvs: ['include'] })))
    assert.match(s.message ?? '', /crashes/)
  })
  it('"**" as include matches nothing on the device: the signature never verifies', () => {
    const s = only(check(signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], include: ['**'], exclude: [] })))
    assert.equal(s.failure, 'BAD_SIGNATURE')
    assert.deepEqual(s.covers, [])
    assert.ok(s.notes.some(n => n.includes('"**" matches no key')))
  })
})

describe('re-serialised states', { skip }, () => {
  const state = (): Record<string, unknown> => signed('app0', { key: pki.rsa.key, x5c: [pki.rsa] })
  it('stored pretty-printed: fails, since a covered value is an inline JSON object whose whitespace changed', () => {
    const pretty = JSON.stringify(JSON.parse(canonical(state())), null, 2)
    const s = only(check(pretty))
    assert.equal(s.failure, 'BAD_SIGNATURE')
  })
  it('stored pretty-printed: passes when every covered value is a string (top-level whitespace is not signed)', () => {
    const st = signed('app0', { key: pki.rsa.key, x5c: [pki.rsa], include: ['app0/root.squashfs', 'app0/lxc.container.conf'], exclude: [] })
    assert.equal(only(check(JSON.stringify(JSON.parse(canonical(st)), null, 2))).ok, true)
  })
  it('same text, other key order: fails (the payload follows the stored order)', () => {
    const st = JSON.parse(canonical(state())) as Record<string, unknown>
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(st).reverse()))
    assert.equal(only(check(reordered)).failure, 'BAD_SIGNATURE')
  })
})

describe('pinned keys (jwk-only signatures)', { skip }, () => {
  const pin = (name: string, k: import('node:crypto').KeyObject): PinnedKey => ({ name, key: createPublicKey(k), fingerprint: name })
  it('verify against a pinned key, and only against one', () => {
    const key = makeKey('p256')
    const st = signed('app0', { key })
    const ok = only(check(st, { ...emptyAnchors(), pinnedKeys: [pin('other', makeKey('p256')), pin('field-key', key)] }))
    assert.equal(ok.ok, true, ok.message ?? '')
    assert.equal(ok.signer?.kind, 'pinned-key')
    assert.equal(ok.signer?.name, 'field-key')
    assert.equal(only(check(st, emptyAnchors())).failure, 'NO_PINNED_KEY')
    assert.equal(only(check(st, { ...emptyAnchors(), pinnedKeys: [pin('other', makeKey('p256'))] })).failure, 'BAD_SIGNATURE')
  })
  it('the embedded jwk is not trusted: a signature by another key still needs the pinned one', () => {
    const key = makeKey('rsa2048')
    const st = signed('app0', { key })
    assert.equal(only(check(st, { ...emptyAnchors(), pinnedKeys: [pin('x', makeKey('rsa2048'))] })).failure, 'BAD_SIGNATURE')
  })
})

describe('policy modes and coverage', { skip }, () => {
  function full(): Record<string, unknown> {
    const st = sampleState(2)
    pvrSign(st, 'bsp', { key: pki.rsa.key, x5c: [pki.rsa], include: ['bsp/**', '#spec', 'device.json'], exclude: ['bsp/src.json', '_sigs/bsp.json'] })
    pvrSign(st, 'app0', { key: pki.p384.key, x5c: [pki.p384] })
    pvrSign(st, 'app1', { key: pki.rsa.key, x5c: [pki.rsa] })
    return st
  }
  it('fully covered: strict passes and the summary names both signers', () => {
    const r = check(full(), pki.trust, 'strict')
    assert.equal(r.pass, true, r.reason ?? '')
    assert.deepEqual(r.uncovered, [])
    // signers in state order: _sigs/app0.json, _sigs/app1.json, _sigs/bsp.json
    assert.equal(r.summary, 'signed by dev-p384 (Test Root CA), dev-rsa (Test Root CA), all keys covered')
  })
  it('an added key: strict refuses, lenient passes, audit passes with a warning', () => {
    const st = { ...full(), 'extra/file': 'e'.repeat(64) }
    const strict = check(st, pki.trust, 'strict')
    assert.equal(strict.result, 'uncovered')
    assert.deepEqual(strict.uncovered, ['extra/file'])
    assert.equal(check(st, pki.trust, 'lenient').pass, true)
    const audit = check(st, pki.trust, 'audit')
    assert.equal(audit.pass, true)
    assert.equal(audit.warnings.length, 1)
  })
  it('audit does not forgive an invalid signature (upstream code, not its docs)', () => {
    const st = full()
    ;(st['app0/run.json'] as Record<string, unknown>).type = 'lxc2'
    const r = check(st, pki.trust, 'audit')
    assert.equal(r.result, 'invalid')
    assert.equal(r.pass, false)
    assert.match(r.reason ?? '', /^Signature validation failed: _sigs\/app0\.json/)
  })
  it('unsigned: lenient passes, strict refuses', () => {
    const st = sampleState(1)
    assert.equal(check(st).summary, 'unsigned')
    assert.equal(check(st).pass, true)
    assert.equal(check(st, pki.trust, 'strict').pass, false)
  })
  it('a _sigs entry that is not pvs@2 is skipped, not failed', () => {
    const st = sampleState(1)
    st['_sigs/app0.json'] = { '#spec': 'pvs@1', protected: 'x', signature: 'y' }
    const r = check(st)
    assert.equal(r.signed, false)
    assert.equal(r.pass, true)
    assert.deepEqual(
      r.ignored.map(i => i.key),
      ['_sigs/app0.json'],
    )
  })
  it('a pvs@2 value outside _sigs/ is a signature too', () => {
    const st = sampleState(1)
    st['app0/extra.json'] = pvrSignature(st, 'app0', { key: pki.rsa.key, x5c: [pki.rsa], exclude: ['app0/src.json', 'app0/extra.json'] })
    const r = check(st)
    assert.deepEqual(
      r.signatures.map(s => [s.key, s.ok]),
      [['app0/extra.json', true]],
    )
  })
})

describe('a large state', { skip }, () => {
  // Its speed is measured by npm run bench -- trust (test/bench/trust.bench.ts), not by a timed test.
  it('a 40-key state with 8 signatures (RSA and P-256 through an intermediate) verifies in strict mode, every time', () => {
    const st = sampleState(6)
    pvrSign(st, 'bsp', { key: pki.rsa.key, x5c: [pki.rsa], include: ['bsp/**', '#spec', 'device.json'], exclude: ['bsp/src.json', '_sigs/bsp.json'] })
    for (let i = 0; i < 6; i++) pvrSign(st, `app${i}`, { key: i % 2 === 0 ? pki.rsa.key : pki.p256.key, x5c: i % 2 === 0 ? [pki.rsa] : [pki.p256, pki.inter] })
    const text = canonical(st)
    assert.ok(Object.keys(st).length >= 40, String(Object.keys(st).length))
    for (let i = 0; i < 3; i++) {
      const r = check(text, pki.trust, 'strict')
      assert.equal(r.pass, true, r.reason ?? '')
    }
  })
})
