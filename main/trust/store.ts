/**
 * TrustStore: what this library trusts, kept as files under `<home>/trust/`:
 *
 *   ca/*.pem      PEM bundles of CA certificates (the device's ca-certificates.crt)
 *   oem/*.pem     PEM bundles for the OEM truststore (ca-oem-certificates.crt)
 *   keys/*.pem    pinned public keys for signatures without x5c (the device's pub.pem)
 *   config.json   {"policy": "lenient", "oemName": null}
 *
 * Empty by default: a technician adds the CA their devices trust.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { BadInputError, NotFoundError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { certsFromPem, pemBlocks, sha256hex, unsupportedKey, keyDescription, validityAt, type TrustCert } from './certs.js'
import { checkPolicy, type TrustSource } from './policy.js'
import { DEFAULT_POLICY, emptyAnchors, isPolicyMode, type PinnedKey, type PolicyMode, type SignatureReport, type TrustAnchors } from './types.js'
import { verifyStateSignatures } from './verify.js'

export type TrustKind = 'ca' | 'oem-ca' | 'key'

export interface TrustEntry {
  kind: TrustKind
  /** File under <home>/trust/, e.g. `ca/pantavisor-dev-ca.pem`. */
  file: string
  subject: string
  issuer: string | null
  notBefore: string | null
  notAfter: string | null
  validity: 'valid' | 'expired' | 'not-yet-valid' | null
  /** sha256 of the certificate DER, or of the key's SubjectPublicKeyInfo. */
  fingerprint: string
  key: string
  /** The device accepts it as an issuer (basicConstraints CA, or a v1 root). */
  ca: boolean
}

export interface AddResult {
  added: TrustEntry[]
  existed: TrustEntry[]
  warnings: string[]
}

interface Config {
  policy: PolicyMode
  oemName: string | null
}

const DIRS: Record<TrustKind, string> = { ca: 'ca', 'oem-ca': 'oem', key: 'keys' }
const MAX_FILE = 1024 * 1024

async function writeAtomic(file: string, data: string, signal?: AbortSignal): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, data, { signal, mode: 0o644 })
  await rename(tmp, file)
}

function spkiFingerprint(k: KeyObject): string {
  return sha256hex(k.export({ type: 'spki', format: 'der' }))
}

export class TrustStore implements TrustSource {
  readonly dir: string
  private readonly log: Logger
  private cfg: Config = { policy: DEFAULT_POLICY, oemName: null }
  private loaded: TrustAnchors = emptyAnchors()
  private entries: TrustEntry[] = []
  /** diskStamp() as it was when the store was last read. */
  private stamp = ''

  constructor(components: { log: Logger }, options: { home: string }) {
    this.log = components.log.child('trust')
    this.dir = join(options.home, 'trust')
  }

  async start(signal?: AbortSignal): Promise<void> {
    await this.reload(signal)
  }

  async stop(): Promise<void> {}

  anchors(): TrustAnchors {
    return this.loaded
  }
  policy(): PolicyMode {
    return this.cfg.policy
  }
  oemName(): string | null {
    return this.cfg.oemName
  }
  list(): TrustEntry[] {
    return [...this.entries]
  }

  /** Verify a stored state with this store's anchors (policy: the library's unless given). */
  verify(raw: Uint8Array | string, opts: { policy?: PolicyMode; now?: Date } = {}): SignatureReport {
    return verifyStateSignatures(raw, { trust: this.loaded, policy: opts.policy ?? this.cfg.policy, now: opts.now })
  }

  /** checkPolicy with this store: the report, or PolicyRefusedError. */
  check(raw: Uint8Array | string, policy?: PolicyMode): SignatureReport {
    return checkPolicy(raw, this, policy)
  }

  async setPolicy(mode: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (!isPolicyMode(mode)) throw new BadInputError(`unknown signature policy "${mode}": use disabled, lenient, strict or audit`)
    await this.saveConfig({ ...this.cfg, policy: mode }, opts.signal)
  }

  async setOemName(name: string | null, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.saveConfig({ ...this.cfg, oemName: name === '' ? null : name }, opts.signal)
  }

  private async saveConfig(cfg: Config, signal?: AbortSignal): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await writeAtomic(join(this.dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n', signal)
    this.cfg = cfg
    this.loaded = { ...this.loaded, oemName: cfg.oemName }
  }

  /**
   * Validate a PEM file (certificates and/or public keys) or a public JWK and
   * copy it in. Certificates go to the default truststore, or the OEM one
   * with `oem`; public keys are pinned. Private keys are refused. `label`
   * names the file in messages and in the store (an upload's original name).
   */
  async add(file: string, opts: { oem?: boolean; label?: string; signal?: AbortSignal } = {}): Promise<AddResult> {
    // Messages and the stored name follow the user's file (`label`), not a temporary copy's.
    const path = opts.label ?? file
    const st = await stat(file).catch(() => null)
    if (st === null || !st.isFile()) throw new NotFoundError(`${path}: no such file`)
    if (st.size > MAX_FILE) throw new BadInputError(`${path}: ${st.size} bytes is too large for a certificate or key file`)
    const text = await readFile(file, { encoding: 'utf8', signal: opts.signal })
    const base =
      basename(path, extname(path))
        .replace(/[^A-Za-z0-9._-]+/g, '_')
        .replace(/^\.+/, '') || 'trust'
    const known = new Set(this.entries.map(e => `${e.kind}:${e.fingerprint}`))
    const res: AddResult = { added: [], existed: [], warnings: [] }
    const certKind: TrustKind = opts.oem === true ? 'oem-ca' : 'ca'
    const certs: TrustCert[] = []
    const keys: KeyObject[] = []
    if (text.trimStart().startsWith('{')) {
      let jwk: Record<string, unknown>
      try {
        jwk = JSON.parse(text) as Record<string, unknown>
      } catch {
        throw new BadInputError(`${path}: neither PEM nor a JSON Web Key`)
      }
      if ('d' in jwk) throw new BadInputError(`${path}: is a private key; add the public key or the certificate (signing keys do not belong on a field laptop)`)
      try {
        keys.push(createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }))
      } catch (err) {
        throw new BadInputError(`${path}: not a usable public JWK: ${(err as Error).message}`)
      }
    } else {
      const blocks = pemBlocks(text)
      if (blocks.some(b => b.type.includes('PRIVATE KEY')))
        throw new BadInputError(`${path}: contains a private key; add the public key or the certificate (signing keys do not belong on a field laptop)`)
      try {
        certs.push(...certsFromPem(text, path))
      } catch (err) {
        throw new BadInputError((err as Error).message)
      }
      for (const b of blocks.filter(b => b.type === 'PUBLIC KEY' || b.type === 'RSA PUBLIC KEY')) {
        try {
          keys.push(createPublicKey(b.text))
        } catch (err) {
          throw new BadInputError(`${path}: a ${b.type} block does not parse: ${(err as Error).message}`)
        }
      }
      if (certs.length === 0 && keys.length === 0) throw new BadInputError(`${path}: no certificate or public key found (expected PEM blocks)`)
    }
    for (const k of keys) {
      const why = unsupportedKey(k)
      if (why !== null) throw new BadInputError(`${path}: ${why}`)
    }
    await mkdir(join(this.dir, DIRS[certKind]), { recursive: true })
    await mkdir(join(this.dir, DIRS.key), { recursive: true })
    const newCerts = certs.filter(c => !known.has(`${certKind}:${c.info.fingerprint}`))
    for (const c of certs) {
      if (!newCerts.includes(c)) res.existed.push(this.entries.find(e => e.kind === certKind && e.fingerprint === c.info.fingerprint) as TrustEntry)
      else if (!c.fields.ca && c.fields.version >= 3) res.warnings.push(`${c.info.subject} is not a CA certificate: the device does not accept it as an issuer`)
    }
    if (newCerts.length > 0) {
      const file = await this.freeName(DIRS[certKind], base)
      await writeAtomic(join(this.dir, file), newCerts.map(c => c.x509.toString().trim()).join('\n') + '\n', opts.signal)
    }
    for (const k of keys) {
      const fp = spkiFingerprint(k)
      if (known.has(`key:${fp}`)) {
        res.existed.push(this.entries.find(e => e.kind === 'key' && e.fingerprint === fp) as TrustEntry)
        continue
      }
      const file = await this.freeName(DIRS.key, base)
      await writeAtomic(join(this.dir, file), String(k.export({ type: 'spki', format: 'pem' })), opts.signal)
    }
    const before = new Set(this.entries.map(e => `${e.kind}:${e.fingerprint}`))
    await this.reload(opts.signal)
    res.added = this.entries.filter(e => !before.has(`${e.kind}:${e.fingerprint}`))
    this.log('added %d trust entries from %s', res.added.length, path)
    return res
  }

  /** Remove entries by fingerprint (unique prefix of 8+ hex) or by file name. */
  async remove(ref: string, opts: { signal?: AbortSignal } = {}): Promise<TrustEntry[]> {
    const r = ref.toLowerCase().replace(/:/g, '')
    const byFile = this.entries.filter(e => e.file === ref || basename(e.file) === ref)
    const byFp = /^[0-9a-f]{8,64}$/.test(r) ? this.entries.filter(e => e.fingerprint.startsWith(r)) : []
    const hit = byFile.length > 0 ? byFile : byFp
    if (hit.length === 0) throw new NotFoundError(`no trust entry matches "${ref}" (see \`fieldsync trust ls\`)`)
    if (byFile.length === 0 && new Set(hit.map(e => e.fingerprint)).size > 1)
      throw new BadInputError(`"${ref}" matches ${hit.length} trust entries: give more of the fingerprint`)
    const gone = new Set(hit.map(e => `${e.file}:${e.fingerprint}`))
    for (const file of new Set(hit.map(e => e.file))) {
      const keep = this.entries.filter(e => e.file === file && !gone.has(`${e.file}:${e.fingerprint}`))
      const full = join(this.dir, file)
      if (keep.length === 0 || file.startsWith('keys/')) {
        await rm(full, { force: true })
        continue
      }
      const certs = certsFromPem(await readFile(full, { encoding: 'utf8', signal: opts.signal }), full)
      await writeAtomic(
        full,
        certs
          .filter(c => keep.some(k => k.fingerprint === c.info.fingerprint))
          .map(c => c.x509.toString().trim())
          .join('\n') + '\n',
        opts.signal,
      )
    }
    await this.reload(opts.signal)
    return hit
  }

  private async freeName(sub: string, base: string): Promise<string> {
    const names = new Set(await readdir(join(this.dir, sub)).catch(() => [] as string[]))
    for (let i = 1; ; i++) {
      const n = i === 1 ? `${base}.pem` : `${base}-${i}.pem`
      if (!names.has(n)) return `${sub}/${n}`
    }
  }

  private async readDir(sub: string, signal?: AbortSignal): Promise<Array<{ file: string; text: string }>> {
    const names = await readdir(join(this.dir, sub)).catch(() => [] as string[])
    const out: Array<{ file: string; text: string }> = []
    for (const n of names.filter(n => n.endsWith('.pem')).sort())
      out.push({ file: `${sub}/${n}`, text: await readFile(join(this.dir, sub, n), { encoding: 'utf8', signal }) })
    return out
  }

  private async reload(signal?: AbortSignal): Promise<void> {
    // Taken before reading: a change made while reading shows as a new stamp next time.
    const stamp = await this.diskStamp()
    const cfgText = await readFile(join(this.dir, 'config.json'), { encoding: 'utf8', signal }).catch(() => null)
    const cfg: Config = { policy: DEFAULT_POLICY, oemName: null }
    if (cfgText !== null) {
      try {
        const j = JSON.parse(cfgText) as Partial<Config>
        if (isPolicyMode(j.policy)) cfg.policy = j.policy
        else this.log.error('%s: unknown policy %o, using %s', join(this.dir, 'config.json'), j.policy, DEFAULT_POLICY)
        if (typeof j.oemName === 'string' && j.oemName !== '') cfg.oemName = j.oemName
      } catch (err) {
        this.log.error('%s is not JSON (%s): using the defaults', join(this.dir, 'config.json'), (err as Error).message)
      }
    }
    const now = new Date()
    const entries: TrustEntry[] = []
    const load = async (kind: 'ca' | 'oem-ca'): Promise<TrustCert[]> => {
      const all: TrustCert[] = []
      for (const f of await this.readDir(DIRS[kind], signal)) {
        try {
          for (const c of certsFromPem(f.text, f.file)) {
            all.push(c)
            entries.push({
              kind,
              file: f.file,
              subject: c.info.subject,
              issuer: c.info.issuer,
              notBefore: c.info.notBefore,
              notAfter: c.info.notAfter,
              validity: validityAt(c.info, now),
              fingerprint: c.info.fingerprint,
              key: c.info.key,
              ca: c.fields.ca || c.fields.version < 3,
            })
          }
        } catch (err) {
          this.log.error('skipping %s: %s', f.file, (err as Error).message)
        }
      }
      return all
    }
    const cas = await load('ca')
    const oemCas = await load('oem-ca')
    const pinnedKeys: PinnedKey[] = []
    for (const f of await this.readDir(DIRS.key, signal)) {
      try {
        const key = createPublicKey(f.text)
        const name = basename(f.file, '.pem')
        const fingerprint = spkiFingerprint(key)
        pinnedKeys.push({ name, key, fingerprint })
        entries.push({
          kind: 'key',
          file: f.file,
          subject: name,
          issuer: null,
          notBefore: null,
          notAfter: null,
          validity: null,
          fingerprint,
          key: keyDescription(key),
          ca: false,
        })
      } catch (err) {
        this.log.error('skipping %s: %s', f.file, (err as Error).message)
      }
    }
    this.cfg = cfg
    this.loaded = { cas, oemCas, oemName: cfg.oemName, pinnedKeys }
    this.entries = entries
    this.stamp = stamp
  }

  /**
   * The folder as it is on disk, cheaply: the name, size, inode and mtime of
   * config.json and of every PEM file (a few readdir and stat calls, no
   * reads). Another process's change (`fieldsync trust add`) changes it.
   */
  async diskStamp(): Promise<string> {
    const one = async (rel: string): Promise<string> => {
      const st = await stat(join(this.dir, rel), { bigint: true }).catch(() => null)
      return st === null ? `${rel}:-` : `${rel}:${st.size}:${st.ino}:${st.mtimeNs}`
    }
    const parts = [await one('config.json')]
    for (const sub of Object.values(DIRS)) {
      const names = await readdir(join(this.dir, sub)).catch(() => [] as string[])
      for (const n of names.filter(n => n.endsWith('.pem')).sort()) parts.push(await one(`${sub}/${n}`))
    }
    return parts.join('\n')
  }

  /**
   * What the verdicts depend on, as one string: the policy, the OEM name and
   * every anchor (by file and fingerprint, in load order). Equal versions give
   * equal verdicts for the same state: a cache of verdicts is keyed by it.
   */
  version(): string {
    return sha256hex(JSON.stringify([this.cfg, this.entries.map(e => [e.kind, e.file, e.fingerprint])]))
  }

  /** Read the store again from its folder (another process may have changed it). */
  async refresh(signal?: AbortSignal): Promise<void> {
    await this.reload(signal)
  }

  /** Read the store again only if its folder changed on disk since it was last read (diskStamp); true if it did. */
  async refreshIfChanged(signal?: AbortSignal): Promise<boolean> {
    if ((await this.diskStamp()) === this.stamp) return false
    await this.reload(signal)
    return true
  }
}
