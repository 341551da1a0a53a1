/**
 * Signature verification time: the upstream pvwificonnect state (1 RS256
 * signature) and a generated 47-key state with 7 signatures (RS256 and ES256,
 * one chain with an intermediate), beside, in the same run, a bare
 * node:crypto RSA-2048 verify and a bare ECDSA P-256 verify (the floor: every
 * signature costs at least one public-key verify for the JWS and one or two
 * for the certificate chain). Goal: well under 50 ms for a 40-key state.
 */
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { certsFromPem, emptyAnchors, verifyStateSignatures, type TrustAnchors } from '../../main/trust/index.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { canonical, hasOpenssl, makeCert, makeKey, pvrSign, sampleState } from '../main/trust/pki.js'
import { median, report, verdict } from './lib.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 200)

function perCall(fn: () => void, runs = RUNS): number {
  for (let i = 0; i < Math.min(20, runs); i++) fn()
  const xs: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    fn()
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return median(xs)
}

function main(): void {
  const devCa = certsFromPem(readFileSync(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'), 'utf8'), 'dev CA')
  const wifi = execFileSync('tar', ['-xzOf', join(vendoredUpstreamDir, 'pvwificonnect.tgz'), 'json'])
  const wifiTrust: TrustAnchors = { ...emptyAnchors(), cas: devCa }
  if (!verifyStateSignatures(wifi, { trust: wifiTrust }).pass) throw new Error('pvwificonnect does not verify')

  // bare crypto, same run
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const msg = Buffer.alloc(1500, 7)
  const rsaSig = sign('sha256', msg, rsa.privateKey)
  const ecSig = sign('sha256', msg, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' })
  const bareRsa = perCall(() => {
    verify('sha256', msg, rsa.publicKey, rsaSig)
  })
  const bareEc = perCall(() => {
    verify('sha256', msg, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSig)
  })
  const wifiMs = perCall(() => {
    verifyStateSignatures(wifi, { trust: wifiTrust })
  })
  const rows: Array<[string, string]> = [
    ['bare RSA-2048 verify (node:crypto)', `${bareRsa.toFixed(3)} ms`],
    ['bare ECDSA P-256 verify (node:crypto)', `${bareEc.toFixed(3)} ms`],
    [
      'pvwificonnect (7 keys, 1 RS256 sig, 2 RSA verifies)',
      `${wifiMs.toFixed(3)} ms = ${(wifiMs / bareRsa).toFixed(1)}x one bare RSA verify, ${(wifiMs / (2 * bareRsa)).toFixed(1)}x its 2 verifies`,
    ],
  ]

  if (hasOpenssl()) {
    const dir = mkdtempSync(join(tmpdir(), 'fieldsync-bench-trust-'))
    try {
      const root = makeCert(dir, 'Bench Root CA', makeKey('rsa2048'), { ca: true })
      const inter = makeCert(dir, 'Bench Intermediate CA', makeKey('p256'), { ca: true, issuer: root })
      const leafRsa = makeCert(dir, 'bench-rsa', makeKey('rsa2048'), { issuer: root })
      const leafEc = makeCert(dir, 'bench-p256', makeKey('p256'), { issuer: inter })
      const st = sampleState(6)
      pvrSign(st, 'bsp', { key: leafRsa.key, x5c: [leafRsa], include: ['bsp/**', '#spec', 'device.json'], exclude: ['bsp/src.json', '_sigs/bsp.json'] })
      let verifies = 0
      for (let i = 0; i < 6; i++) {
        const useRsa = i % 2 === 0
        pvrSign(st, `app${i}`, { key: useRsa ? leafRsa.key : leafEc.key, x5c: useRsa ? [leafRsa] : [leafEc, inter] })
        verifies += useRsa ? 2 : 3
      }
      verifies += 2 // bsp
      const text = canonical(st)
      const keys = Object.keys(st).length
      const trust: TrustAnchors = { ...emptyAnchors(), cas: certsFromPem(root.pem, 'root') }
      const r = verifyStateSignatures(text, { trust, policy: 'strict' })
      if (!r.pass) throw new Error(`generated state does not verify: ${r.reason}`)
      const ms = perCall(() => {
        verifyStateSignatures(text, { trust, policy: 'strict' })
      })
      rows.push([
        `generated (${keys} keys, ${r.signatures.length} sigs, ${verifies} public-key verifies)`,
        `${ms.toFixed(3)} ms = ${(ms / bareRsa).toFixed(1)}x one bare RSA verify`,
      ])
      rows.push(['goal: a 40-key state well under 50 ms', verdict(ms < 50)])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  } else {
    rows.push(['generated 40-key state', 'skipped: openssl CLI not installed'])
  }
  report(`trust: signature verification (median of ${RUNS} runs)`, rows)
}

main()
