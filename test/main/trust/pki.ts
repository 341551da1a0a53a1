/**
 * Test PKI and a pvr-faithful signer. Keys come from node:crypto, X.509
 * certificates from the `openssl` CLI (Debian's openssl) in a temp dir.
 *
 * `pvrSign` signs as `pvr sig add` does (libpvr/pvslib.go JwsSign): the
 * payload is the canonical JSON of the members selected with doublestar
 * globs, the protected header is go-jose's (sorted keys: alg, jwk, pvs, typ,
 * x5c), ES signatures are raw r||s, and the signature object is written
 * canonically as {"#spec":"pvs@2","protected","signature"}.
 */
import { execFileSync } from 'node:child_process'
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export type KeySpec = 'rsa2048' | 'rsa1024' | 'p256' | 'p384' | 'p521'

export function makeKey(spec: KeySpec): KeyObject {
  if (spec === 'rsa2048' || spec === 'rsa1024') return generateKeyPairSync('rsa', { modulusLength: spec === 'rsa2048' ? 2048 : 1024 }).privateKey
  const curve = { p256: 'prime256v1', p384: 'secp384r1', p521: 'secp521r1' }[spec]
  return generateKeyPairSync('ec', { namedCurve: curve }).privateKey
}

export interface Cert {
  name: string
  key: KeyObject
  certFile: string
  keyFile: string
  pem: string
  /** base64 DER, as in x5c. */
  b64: string
}

function pemToB64(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')
}

let serial = 1000

/**
 * A certificate for `cn` with `key`, self-signed (no issuer) or signed by
 * `issuer`. `ca` sets basicConstraints CA:TRUE; `md` the signature hash.
 */
export function makeCert(dir: string, cn: string, key: KeyObject, opts: { issuer?: Cert; ca?: boolean; md?: string; days?: number } = {}): Cert {
  const base = join(dir, cn.replace(/[^A-Za-z0-9]+/g, '_') + '-' + serial++)
  const keyFile = `${base}.key`
  const certFile = `${base}.crt`
  writeFileSync(keyFile, key.export({ type: 'pkcs8', format: 'pem' }) as string)
  const ext =
    opts.ca === true
      ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n'
      : 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n'
  writeFileSync(`${base}.ext`, ext)
  const md = `-${opts.md ?? 'sha256'}`
  const days = String(opts.days ?? 365)
  if (opts.issuer === undefined) {
    writeFileSync(`${base}.cnf`, `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${ext}`)
    execFileSync(
      'openssl',
      ['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-subj', `/CN=${cn}`, md, '-days', days, '-extensions', 'v3', '-config', `${base}.cnf`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
  } else {
    const csr = `${base}.csr`
    execFileSync('openssl', ['req', '-new', '-key', keyFile, '-out', csr, '-subj', `/CN=${cn}`], { stdio: ['ignore', 'ignore', 'pipe'] })
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        opts.issuer.certFile,
        '-CAkey',
        opts.issuer.keyFile,
        '-set_serial',
        String(serial++),
        '-out',
        certFile,
        md,
        '-days',
        days,
        '-extfile',
        `${base}.ext`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
  }
  const pem = readFileSync(certFile, 'utf8')
  return { name: cn, key, certFile, keyFile, pem, b64: pemToB64(pem) }
}

/** Canonical JSON as pvr writes it (sorted keys, no whitespace) for the plain ASCII values tests use. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']'
  if (v !== null && typeof v === 'object') {
    return (
      '{' +
      Object.keys(v)
        .sort()
        .map(k => JSON.stringify(k) + ':' + canonical((v as Record<string, unknown>)[k]))
        .join(',') +
      '}'
    )
  }
  return JSON.stringify(v)
}

/** bmatcuk/doublestar Match, enough for the globs pvr writes. */
export function doublestar(glob: string, key: string): boolean {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?'
      i += 2
    } else if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      re += '(?:/.*)?'
      i += 2
    } else if (glob.startsWith('**', i)) {
      re += '.*'
      i += 1
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`).test(key)
}

export type Alg = 'RS256' | 'ES256' | 'ES384' | 'ES512'

export interface SignOptions {
  key: KeyObject
  /** Certificates for x5c, leaf first; omit for a jwk-only signature. */
  x5c?: Cert[]
  alg?: Alg
  include?: string[]
  exclude?: string[]
  /** Extra or replacement header members (tests break headers with these). */
  header?: Record<string, unknown>
  /** Drop these header members. */
  drop?: string[]
  /** Drop these pvs members. */
  dropPvs?: string[]
  /** ES signatures as DER instead of JWS raw r||s. */
  der?: boolean
}

function defaultAlg(key: KeyObject): Alg {
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  const c = key.asymmetricKeyDetails?.namedCurve
  return c === 'secp384r1' ? 'ES384' : c === 'secp521r1' ? 'ES512' : 'ES256'
}

const HASH: Record<Alg, string> = { RS256: 'sha256', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' }

/** The signature object `pvr sig add --part <part>` would write as `_sigs/<part>.json` for `state`. */
export function pvrSignature(state: Record<string, unknown>, part: string, o: SignOptions): Record<string, string> {
  const include = o.include ?? [`${part}/**`, `_config/${part}/**`]
  const exclude = o.exclude ?? [`${part}/src.json`, `_sigs/${part}.json`]
  const selected: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(state)) {
    if (include.some(g => doublestar(g, k)) && !exclude.some(g => doublestar(g, k))) selected[k] = v
  }
  const alg = o.alg ?? defaultAlg(o.key)
  const pvs: Record<string, unknown> = { include, exclude }
  for (const d of o.dropPvs ?? []) delete pvs[d]
  const jwk = createPublicKey(o.key).export({ format: 'jwk' })
  const header: Record<string, unknown> = { alg, jwk, pvs, typ: 'PVS', ...(o.x5c !== undefined ? { x5c: o.x5c.map(c => c.b64) } : {}), ...o.header }
  for (const d of o.drop ?? []) delete header[d]
  const headerJson =
    '{' +
    Object.keys(header)
      .sort()
      .map(k => JSON.stringify(k) + ':' + JSON.stringify(header[k]))
      .join(',') +
    '}'
  const protectedB64 = Buffer.from(headerJson).toString('base64url')
  const input = Buffer.from(protectedB64 + '.' + Buffer.from(canonical(selected)).toString('base64url'))
  const sig =
    o.key.asymmetricKeyType === 'rsa'
      ? sign(HASH[alg], input, o.key)
      : sign(HASH[alg], input, { key: o.key, dsaEncoding: o.der === true ? 'der' : 'ieee-p1363' })
  return { '#spec': 'pvs@2', protected: protectedB64, signature: sig.toString('base64url') }
}

/** Sign `part` of `state` in place (adds `_sigs/<part>.json`). */
export function pvrSign(state: Record<string, unknown>, part: string, o: SignOptions): Record<string, unknown> {
  state[`_sigs/${part}.json`] = pvrSignature(state, part, o)
  return state
}

const hex = (seed: string): string => Buffer.from(seed.padEnd(32, '.')).toString('hex').slice(0, 64)

/** A small state: one BSP-ish part and `containers` containers of 5 keys each (+ _config). */
export function sampleState(containers = 1): Record<string, unknown> {
  const s: Record<string, unknown> = {
    '#spec': 'pantavisor-service-system@1',
    'bsp/run.json': { addons: [], fit: 'pantavisor.fit', initrd_config: '' },
    'bsp/pantavisor.fit': hex('fit'),
    'device.json': { groups: [{ name: 'platform' }] },
  }
  for (let i = 0; i < containers; i++) {
    const c = `app${i}`
    s[`${c}/lxc.container.conf`] = hex(`${c}-lxc`)
    s[`${c}/root.squashfs`] = hex(`${c}-root`)
    s[`${c}/root.squashfs.docker-digest`] = hex(`${c}-dd`)
    s[`${c}/run.json`] = {
      '#spec': 'service-manifest-run@1',
      config: 'lxc.container.conf',
      name: c,
      'root-volume': 'root.squashfs',
      storage: { 'lxc-overlay': { persistence: 'boot' } },
      type: 'lxc',
      volumes: [],
    }
    s[`${c}/src.json`] = { '#spec': 'service-manifest-src@1', docker_name: `example/${c}`, docker_tag: 'latest' }
    s[`_config/${c}/etc/app.conf`] = hex(`${c}-conf`)
  }
  return s
}
