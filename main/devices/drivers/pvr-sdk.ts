/**
 * PvrSdkDriver: the pvr remote protocol against the pvr-sdk container's
 * `http://<device>:12368/cgi-bin/pvr`, as pvr's client speaks it
 * (libpvr/repolib.go): `.pvrremote`; objects the device's current state
 * already names are not offered; the others are POSTed to the
 * objects-endpoint (`{"objectname","size","sha256sum"}`: 409 = the device
 * has it, 200 = PUT the bytes to its `signed-puturl`); then one POST to
 * post-url with the state, the commit message and `"rev": "locals/<name>"`,
 * which stores the step and runs it. Progress and device metadata come from
 * `step-get-url` / `device-meta-url` when the device names them.
 */
import type { Readable } from 'node:stream'
import { ProtocolError, UsageError } from '../../../shared/errors.js'
import { isSha256Hex } from '../../../shared/ids.js'
import { answerError, retryAfterOf } from './answers.js'
import { HttpClient, type HttpAnswer } from './http.js'
import { emptyMeta, parseDeviceMeta, parseProgress, type DeviceDriver, type DeviceMeta, type ObjectNeed, type StepProgress, type UploadOptions } from './types.js'

export const PVR_SDK_PORT = 12368
export const PVR_SDK_PATH = '/cgi-bin/pvr'

export interface PvrRemote {
  'pvr-spec'?: string
  'json-get-url'?: string
  'json-key'?: string
  'objects-endpoint'?: string
  'post-url'?: string
  'step-get-url'?: string
  'device-meta-url'?: string
}

export function pvrBaseUrl (host: string, port = PVR_SDK_PORT): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${h}:${port}${PVR_SDK_PATH}`
}

export class PvrSdkDriver implements DeviceDriver {
  readonly via = 'pvr-sdk' as const
  readonly target: string
  private readonly http: HttpClient
  private remote: PvrRemote | null = null
  private readonly putUrls = new Map<string, string>()
  private pending: { step: string, raw: Uint8Array, msg: string | null } | null = null

  constructor (private readonly base: string) {
    this.target = new URL(base).host
    this.http = new HttpClient(`pvr-sdk at ${this.target}`)
  }

  private url (u: string): string { return new URL(u, this.base + '/').toString() }

  private async get (url: string, signal: AbortSignal, timeoutMs = 10_000): Promise<HttpAnswer> {
    return await this.http.call({ method: 'GET', url, signal, timeoutMs })
  }

  async open (signal: AbortSignal): Promise<void> {
    const a = await this.get(`${this.base}/.pvrremote`, signal)
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'other', 'GET .pvrremote', this.target)
    let r: PvrRemote
    try { r = JSON.parse(a.body.toString('utf8')) as PvrRemote } catch { throw new ProtocolError(`${this.target}: .pvrremote is not JSON; is this a pvr-sdk endpoint?`) }
    if (typeof r?.['objects-endpoint'] !== 'string' || typeof r['post-url'] !== 'string') {
      throw new ProtocolError(`${this.target}: .pvrremote lacks objects-endpoint or post-url`)
    }
    this.remote = r
  }

  async close (): Promise<void> { this.http.close() }

  private need (): PvrRemote {
    if (this.remote === null) throw new Error('PvrSdkDriver: open() first')
    return this.remote
  }

  async meta (signal: AbortSignal): Promise<DeviceMeta> {
    const u = this.need()['device-meta-url']
    if (u === undefined) return emptyMeta()
    const a = await this.get(this.url(u), signal)
    if (a.status !== 200) return emptyMeta()
    return parseDeviceMeta(a.body.toString('utf8'), this.target)
  }

  /** Shas the device's current state names (pvr skips those: the device has them). */
  private async baseline (signal: AbortSignal): Promise<Set<string>> {
    const u = this.need()['json-get-url']
    if (u === undefined) return new Set()
    const a = await this.get(this.url(u), signal, 30_000)
    if (a.status !== 200) return new Set()
    try {
      const o = JSON.parse(a.body.toString('utf8')) as Record<string, unknown>
      return new Set(Object.values(o).filter(isSha256Hex))
    } catch { return new Set() }
  }

  /** POST the object info: true when the device has it (409); remembers the put URL otherwise. */
  private async offer (o: ObjectNeed, signal: AbortSignal): Promise<boolean> {
    const body = Buffer.from(JSON.stringify({ objectname: o.key ?? o.sha, size: String(o.size), sha256sum: o.sha, 'mime-type': 'application/octet-stream' }))
    const a = await this.http.call({ method: 'POST', url: this.url(this.need()['objects-endpoint'] as string), headers: { 'Content-Type': 'application/json' }, body, signal })
    if (a.status === 409) return true
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'object', `object ${o.sha}`, this.target, retryAfterOf(a.headers['retry-after']))
    let r: { 'signed-puturl'?: unknown }
    try { r = JSON.parse(a.body.toString('utf8')) as typeof r } catch { throw new ProtocolError(`${this.target}: object POST answer is not JSON`) }
    if (typeof r['signed-puturl'] !== 'string') throw new ProtocolError(`${this.target}: object POST answer has no signed-puturl`)
    this.putUrls.set(o.sha, this.url(r['signed-puturl']))
    return false
  }

  async lacking (want: ObjectNeed[], signal: AbortSignal): Promise<Map<string, number | null>> {
    const have = await this.baseline(signal)
    const out = new Map<string, number | null>()
    for (const o of want) {
      if (have.has(o.sha)) continue
      if (!await this.offer(o, signal)) out.set(o.sha, null)
    }
    return out
  }

  async putObject (o: ObjectNeed, source: () => Readable, opts: UploadOptions): Promise<void> {
    let url = this.putUrls.get(o.sha)
    if (url === undefined) {
      if (await this.offer(o, opts.signal)) return
      url = this.putUrls.get(o.sha) as string
    }
    const a = await this.http.call({
      method: 'PUT',
      url,
      headers: { 'Content-Type': 'application/octet-stream' },
      stream: { source: source(), length: o.size, onBytes: opts.onBytes },
      signal: opts.signal,
    })
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'object', `object ${o.sha}`, this.target, retryAfterOf(a.headers['retry-after']))
    this.putUrls.delete(o.sha)
  }

  async putStep (step: string, raw: Uint8Array, commitMsg: string | null): Promise<void> {
    // pvr-sdk stores and runs a step in one post: keep it for run().
    this.pending = { step, raw, msg: commitMsg }
  }

  async run (step: string, commit: boolean, signal: AbortSignal): Promise<void> {
    if (commit) throw new UsageError('--commit (LOCAL_RUN_COMMIT) is not possible through pvr-sdk, which runs what it is sent; use --via ssh')
    const p = this.pending
    if (p === null || p.step !== step) throw new Error('PvrSdkDriver: putStep() before run()')
    const r = this.need()
    // The state goes in as its original bytes: signatures are checked against them.
    const head = `{"commit-msg":${JSON.stringify(p.msg ?? '')},"rev":${JSON.stringify(step)},${JSON.stringify(r['json-key'] ?? 'state')}:`
    const body = Buffer.concat([Buffer.from(head), Buffer.from(p.raw), Buffer.from('}')])
    const a = await this.http.call({ method: 'POST', url: this.url(r['post-url'] as string), headers: { 'Content-Type': 'application/json' }, body, signal, timeoutMs: 60_000 })
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), a.status === 503 ? 'command' : 'step', `step ${step}`, this.target, retryAfterOf(a.headers['retry-after']))
  }

  async progress (step: string, signal: AbortSignal): Promise<StepProgress | null> {
    const u = this.need()['step-get-url']
    if (u === undefined) return null
    const a = await this.get(`${this.url(u).replace(/\/$/, '')}/${step}/progress`, signal)
    if (a.status === 404) return null
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'other', `progress of ${step}`, this.target)
    return parseProgress(a.body.toString('utf8'), this.target)
  }
}
