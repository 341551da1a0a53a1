/**
 * TrustStore on disk (add/list/remove/policy, what it refuses) and the real
 * `fieldsync trust ...` / `fieldsync verify-sig` commands on a library that
 * holds the upstream signed revision.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { silentLogger } from '../../../shared/log.js'
import { signatureSummary, TrustStore } from '../../../main/trust/index.js'
import { runCli } from '../../helpers/cli.js'
import { vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'
import { hasOpenssl, makeCert, makeKey } from './pki.js'

const devCa = join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt')
const devFp = 'b25226a11cfda558b7fcc9da7ff9f24faa867667f7fe0f5f03c500a3ad8cfeff'

async function store(home: string): Promise<TrustStore> {
  const s = new TrustStore({ log: silentLogger() }, { home })
  await s.start()
  return s
}

describe('TrustStore', () => {
  it('starts empty, lenient, and adds a CA bundle once', async t => {
    const home = await tempDir(t)
    const s = await store(home)
    assert.deepEqual(s.list(), [])
    assert.equal(s.policy(), 'lenient')
    const res = await s.add(devCa)
    assert.equal(res.added.length, 1)
    assert.deepEqual(
      { ...res.added[0] },
      {
        kind: 'ca',
        file: 'ca/pantavisor-dev-ca.pem',
        subject: 'CN=Pantavisor Dev CA',
        issuer: 'CN=Pantavisor Dev CA',
        notBefore: '2022-06-11T23:37:15.000Z',
        notAfter: '2032-06-08T23:37:15.000Z',
        validity: res.added[0].validity,
        fingerprint: devFp,
        key: 'RSA 2048 bits',
        ca: true,
      },
    )
    const again = await s.add(devCa)
    assert.equal(again.added.length, 0)
    assert.equal(again.existed.length, 1)
    assert.deepEqual(await readdir(join(home, 'trust', 'ca')), ['pantavisor-dev-ca.pem'])
    // a new instance reads it back
    const s2 = await store(home)
    assert.equal(s2.anchors().cas.length, 1)
    assert.equal(s2.list()[0].fingerprint, devFp)
  })

  it('refuses private keys, non-PEM files and unsupported keys, naming the file', async t => {
    const home = await tempDir(t)
    const s = await store(home)
    const priv = join(home, 'signing.key')
    await writeFile(priv, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    await assert.rejects(s.add(priv), (e: { code?: string; message?: string }) => e.code === ErrorCodes.BadInput && e.message?.includes('signing.key') === true)
    const junk = join(home, 'junk.pem')
    await writeFile(junk, 'hello\n')
    await assert.rejects(s.add(junk), (e: { code?: string }) => e.code === ErrorCodes.BadInput)
    const broken = join(home, 'broken.pem')
    await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    await assert.rejects(s.add(broken), (e: { code?: string }) => e.code === ErrorCodes.BadInput)
    const ed = join(home, 'ed.pem')
    await writeFile(ed, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string)
    await assert.rejects(s.add(ed), (e: { code?: string; message?: string }) => e.code === ErrorCodes.BadInput && /not supported/.test(e.message ?? ''))
    await assert.rejects(s.add(join(home, 'nope.pem')), (e: { code?: string }) => e.code === ErrorCodes.NotFound)
    assert.deepEqual(s.list(), [])
  })

  it('pins public keys from PEM and JWK, and removes by fingerprint prefix', async t => {
    const home = await tempDir(t)
    const s = await store(home)
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
    const b = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey
    await writeFile(join(home, 'field.pem'), a.export({ type: 'spki', format: 'pem' }) as string)
    await writeFile(join(home, 'other.jwk'), JSON.stringify(b.export({ format: 'jwk' })))
    await s.add(join(home, 'field.pem'))
    await s.add(join(home, 'other.jwk'))
    assert.deepEqual(
      s.list().map(e => [e.kind, e.subject, e.key]),
      [
        ['key', 'field', 'RSA 2048 bits'],
        ['key', 'other', 'EC secp384r1'],
      ],
    )
    assert.equal(s.anchors().pinnedKeys.length, 2)
    const fp = s.list()[0].fingerprint
    await s.remove(fp.slice(0, 10))
    assert.deepEqual(
      s.list().map(e => e.subject),
      ['other'],
    )
    await assert.rejects(s.remove('ffffffffffff'), (e: { code?: string }) => e.code === ErrorCodes.NotFound)
  })

  it('removes one certificate from a bundle of two, keeping the other', async t => {
    if (!hasOpenssl()) return t.skip('openssl CLI not installed (Debian package openssl)')
    const home = await tempDir(t)
    const a = makeCert(home, 'CA One', makeKey('p256'), { ca: true })
    const b = makeCert(home, 'CA Two', makeKey('p256'), { ca: true })
    const bundle = join(home, 'bundle.crt')
    await writeFile(bundle, a.pem + b.pem)
    const s = await store(home)
    const res = await s.add(bundle)
    assert.deepEqual(
      res.added.map(e => e.subject),
      ['CN=CA One', 'CN=CA Two'],
    )
    await s.remove(res.added[0].fingerprint)
    assert.deepEqual(
      s.list().map(e => e.subject),
      ['CN=CA Two'],
    )
    assert.match(await readFile(join(home, 'trust', 'ca', 'bundle.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/)
  })

  it('check() applies the library policy and throws PolicyRefusedError; signatureSummary never throws', async t => {
    const home = await tempDir(t)
    const s = await store(home)
    const raw = execFileSync('tar', ['-xzOf', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), 'json'])
    assert.match(signatureSummary(raw, s), /^UNTRUSTED: .*not trusted here: trust its CA .*trust store is empty/)
    await s.add(devCa)
    assert.equal(s.check(raw).pass, true)
    assert.equal(signatureSummary(raw, s), 'signed by pv-developer-01 (Pantavisor Dev CA), 1 key not covered: #spec')
    assert.equal(signatureSummary('not json', s), 'INVALID: state JSON: not a JSON object; cannot check its signatures')
    await s.setPolicy('strict')
    assert.throws(
      () => s.check(raw),
      (e: { code?: string; details?: { result?: string } }) => e.code === ErrorCodes.PolicyRefused && e.details?.result === 'uncovered',
    )
    assert.equal(s.check(raw, 'lenient').pass, true)
  })

  it('keeps the policy in <home>/trust/config.json and refuses unknown modes', async t => {
    const home = await tempDir(t)
    const s = await store(home)
    await s.setPolicy('strict')
    await assert.rejects(s.setPolicy('paranoid'), (e: { code?: string }) => e.code === ErrorCodes.BadInput)
    assert.equal((await store(home)).policy(), 'strict')
    assert.equal(JSON.parse(await readFile(join(home, 'trust', 'config.json'), 'utf8')).policy, 'strict')
  })
})

describe('fieldsync trust / verify-sig', () => {
  it('verify-sig fails with an empty store, passes after `trust add`, and follows --policy', async t => {
    const home = await tempDir(t)
    const imp = await runCli(['import', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), '--name', 'wifi'], { home })
    assert.equal(imp.code, 0, imp.stderr)

    const before = await runCli(['--json', 'verify-sig', 'wifi'], { home })
    assert.equal(before.code, 1)
    const rb = before.json()
    assert.equal(rb.pass, false)
    assert.equal(rb.signatures[0].failure, 'UNKNOWN_CA')
    assert.equal(rb.signatures[0].verdict, 'untrusted')
    assert.match(rb.summary, /^UNTRUSTED: .*signed by CN=pv-developer-01, not trusted here: trust its CA/)
    // The text form says the same: UNTRUSTED, never INVALID, for a signer whose CA is not in the store.
    const plain = await runCli(['verify-sig', 'wifi'], { home })
    assert.match(plain.stdout, /_sigs\/pvwificonnect\.json: UNTRUSTED \(UNKNOWN_CA\)/)
    assert.doesNotMatch(plain.stdout, /INVALID/)

    const add = await runCli(['--json', 'trust', 'add', devCa], { home })
    assert.equal(add.code, 0, add.stderr)
    assert.equal(add.json().added[0].fingerprint, devFp)

    const ls = await runCli(['--json', 'trust', 'ls'], { home })
    assert.equal(ls.code, 0)
    assert.deepEqual(
      ls.json().entries.map((e: { subject: string }) => e.subject),
      ['CN=Pantavisor Dev CA'],
    )
    assert.equal(ls.json().policy, 'lenient')

    const ok = await runCli(['--json', 'verify-sig', 'wifi'], { home })
    assert.equal(ok.code, 0, ok.stdout)
    const r = ok.json()
    assert.equal(r.name, 'wifi')
    assert.equal(r.summary, 'signed by pv-developer-01 (Pantavisor Dev CA), 1 key not covered: #spec')
    assert.equal(r.signatures[0].signer.chain[0].validity, 'expired')

    const text = await runCli(['verify-sig', 'wifi'], { home })
    assert.equal(text.code, 0)
    assert.match(text.stdout, /PASS under policy "lenient"/)
    assert.match(text.stdout, /EXPIRED 2024-09-14/)

    const strict = await runCli(['--json', 'verify-sig', 'wifi', '--policy', 'strict'], { home })
    assert.equal(strict.code, 1)
    assert.equal(strict.json().result, 'uncovered')

    const bad = await runCli(['verify-sig', 'wifi', '--policy', 'paranoid'], { home })
    assert.equal(bad.code, 2)

    const setp = await runCli(['trust', 'policy', 'strict'], { home })
    assert.equal(setp.code, 0)
    assert.equal((await runCli(['verify-sig', 'wifi'], { home })).code, 1)
  })
})
