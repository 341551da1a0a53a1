/**
 * PvrSdkDriver: the pvr remote protocol against the pvr-sdk container's
 * `http://<device>:12368/cgi-bin/pvr`, as pvr's own client speaks it
 * (pantacor/pvr libpvr/repolib.go, api/remote.go, cmdpost.go):
 *  - `.pvrremote` names json-get-url, json-key, objects-endpoint, post-url;
 *  - objects the device's current state (json-get-url) names are not
 *    offered; the others are POSTed to the objects-endpoint
 *    (`{"objectname","size","sha256sum"}`: 409 = the device has it, 200 =
 *    PUT the bytes to its `signed-puturl`);
 *  - one POST to post-url, the canonical JSON of
 *    `{"commit-msg", <json-key, default "post">: state, "rev": -1}`, stores
 *    the step and runs it; the answer's `revlocal` names the local step the
 *    device chose.
 *
 * pvr's descriptor has no progress or device-meta URL, and pvr-sdk's own
 * source is not public. Where a device names `step-get-url` or
 * `device-meta-url` anyway (this project's simulator does, behind a flag
 * named as an assumption), they are used. Otherwise the driver says that the
 * device does not tell, and concludes from the device's current state
 * (json-get-url): RUNNING once the device has run the revision for
 * `settleMs`, NOT_RUNNING when it did not switch to it within `switchMs` or
 * went back. Never a 15-minute wait for a progress nobody reports.
 *
 * Every URL the device hands out must stay on the device's own host and
 * port: a device cannot point the laptop's uploads at another service.
 */
import type { Readable } from 'node:stream'
import { AbortedError, BugError, ProtocolError, UsageError } from '../../../shared/errors.js'
import { isSha256Hex } from '../../../shared/ids.js'
import { canonicalJson, canonicalizeJsonText, parseState, revisionId } from '../../../shared/state/index.js'
import { answerError, retryAfterOf } from './answers.js'
import { HttpClient, type HttpAnswer } from './http.js'
import {
  emptyMeta,
  parseDeviceMeta,
  parseProgress,
  type DeviceDriver,
  type DeviceMeta,
  type ObjectNeed,
  type StepProgress,
  type UploadOptions,
} from './types.js'

export const PVR_SDK_PORT = 12368
export const PVR_SDK_PATH = '/cgi-bin/pvr'
/** pvr posts the state under this key when .pvrremote names none (repolib.go postRemoteJson). */
export const PVR_DEFAULT_JSON_KEY = 'post'
/** The largest state JSON read from json-get-url. */
const STATE_MAX = 16 * 1024 * 1024

export interface PvrRemote {
  'pvr-spec'?: string
  'json-get-url'?: string
  'json-key'?: string
  'objects-endpoint'?: string
  'post-url'?: string
  'post-fields'?: string[]
  'post-fields-opt'?: string[]
  /** Not pvr's: used only when a device names it. */
  'step-get-url'?: string
  /** Not pvr's: used only when a device names it. */
  'device-meta-url'?: string
}

export interface PvrSdkOptions {
  /** How long the device must run the revision before it counts as RUNNING (default 60 s: Pantavisor's TESTING is over by then). */
  settleMs?: number
  /** How long to wait for the device to switch to the revision before NOT_RUNNING (default 5 min). */
  switchMs?: number
  /** An upload the device stops taking, or does not answer, fails after this long without progress (default 30 s). */
  stallMs?: number
}

export function pvrBaseUrl(host: string, port = PVR_SDK_PORT): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${h}:${port}${PVR_SDK_PATH}`
}

interface Posted {
  step: string
  id: string
  at: number
  seenRunning: number | null
}

export class PvrSdkDriver implements DeviceDriver {
  readonly via = 'pvr-sdk' as const
  readonly target: string
  private readonly http: HttpClient
  private readonly origin: string
  private remote: PvrRemote | null = null
  private readonly putUrls = new Map<string, string>()
  private pending: { step: string; raw: Uint8Array; msg: string | null } | null = null
  private posted: Posted | null = null

  constructor(
    private readonly base: string,
    private readonly o: PvrSdkOptions = {},
  ) {
    const u = new URL(base)
    this.target = u.host
    this.origin = u.origin
    this.http = new HttpClient(`pvr-sdk at ${this.target}`)
  }

  /** A URL the device gave, resolved against the base; refused unless it is on the device itself. */
  private url(u: string, what: string): string {
    let r: URL
    try {
      r = new URL(u, this.base + '/')
    } catch {
      throw new ProtocolError(`${this.target}: ${what} ${JSON.stringify(u.slice(0, 200))} is not a URL`)
    }
    if (r.origin !== this.origin) {
      throw new ProtocolError(
        `${this.target}: ${what} points to ${r.origin}, not to the device (${this.origin}): refused; Fieldsync sends a device's objects only to that device`,
        { url: r.toString() },
      )
    }
    return r.toString()
  }

  private async get(url: string, signal: AbortSignal, timeoutMs = 10_000, maxBody?: number): Promise<HttpAnswer> {
    return await this.http.call({ method: 'GET', url, signal, timeoutMs, maxBody })
  }

  async open(signal: AbortSignal): Promise<void> {
    const a = await this.get(`${this.base}/.pvrremote`, signal)
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'other', 'GET .pvrremote', this.target)
    let r: PvrRemote
    try {
      r = JSON.parse(a.body.toString('utf8')) as PvrRemote
    } catch {
      throw new ProtocolError(`${this.target}: .pvrremote is not JSON; is this a pvr-sdk endpoint?`)
    }
    if (r === null || typeof r !== 'object' || typeof r['objects-endpoint'] !== 'string' || typeof r['post-url'] !== 'string') {
      throw new ProtocolError(`${this.target}: .pvrremote lacks objects-endpoint or post-url`)
    }
    for (const k of ['json-get-url', 'objects-endpoint', 'post-url', 'step-get-url', 'device-meta-url'] as const) {
      const v = r[k]
      if (v !== undefined) {
        if (typeof v !== 'string') throw new ProtocolError(`${this.target}: .pvrremote ${k} is not a string`)
        this.url(v, `.pvrremote ${k}`)
      }
    }
    this.remote = r
  }

  async close(): Promise<void> {
    this.http.close()
  }

  private need(): PvrRemote {
    if (this.remote === null) throw new BugError('PvrSdkDriver: open() first')
    return this.remote
  }

  /** Whether this device reports its steps' progress (only with a step-get-url, which pvr's protocol does not have). */
  get tellsProgress(): boolean {
    return this.need()['step-get-url'] !== undefined
  }

  async meta(signal: AbortSignal): Promise<DeviceMeta> {
    const u = this.need()['device-meta-url']
    if (u === undefined) return emptyMeta()
    const a = await this.get(this.url(u, 'device-meta-url'), signal)
    if (a.status !== 200) return emptyMeta()
    return parseDeviceMeta(a.body.toString('utf8'), this.target)
  }

  /** The device's current state (json-get-url), raw; null when it names none or does not answer it. */
  private async current(signal: AbortSignal): Promise<Buffer | null> {
    const u = this.need()['json-get-url']
    if (u === undefined) return null
    const a = await this.get(this.url(u, 'json-get-url'), signal, 30_000, STATE_MAX)
    return a.status === 200 ? a.body : null
  }

  async stepState(step: string, signal: AbortSignal): Promise<Uint8Array> {
    if (step !== 'current') throw new UsageError(`${this.target}: pvr-sdk serves only the state the device runs, not ${step}`)
    const b = await this.current(signal)
    if (b === null) throw new ProtocolError(`${this.target}: pvr-sdk did not give the device's current state (json-get-url)`)
    return b
  }

  /** Shas the device's current state names (pvr skips those: the device has them). */
  private async baseline(signal: AbortSignal): Promise<Set<string>> {
    const b = await this.current(signal)
    if (b === null) return new Set()
    try {
      const o = JSON.parse(b.toString('utf8')) as Record<string, unknown>
      return new Set(Object.values(o).filter(isSha256Hex))
    } catch {
      return new Set()
    }
  }

  /** POST the object info: true when the device has it (409); remembers the put URL otherwise. */
  private async offer(o: ObjectNeed, signal: AbortSignal): Promise<boolean> {
    const body = Buffer.from(JSON.stringify({ objectname: o.key ?? o.sha, size: String(o.size), sha256sum: o.sha, 'mime-type': 'application/octet-stream' }))
    const a = await this.http.call({
      method: 'POST',
      url: this.url(this.need()['objects-endpoint'] as string, 'objects-endpoint'),
      headers: { 'Content-Type': 'application/json' },
      body,
      signal,
    })
    if (a.status === 409) return true
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'object', `object ${o.sha}`, this.target, retryAfterOf(a.headers['retry-after']))
    let r: { 'signed-puturl'?: unknown }
    try {
      r = JSON.parse(a.body.toString('utf8')) as typeof r
    } catch {
      throw new ProtocolError(`${this.target}: object POST answer is not JSON`)
    }
    if (typeof r?.['signed-puturl'] !== 'string') throw new ProtocolError(`${this.target}: object POST answer has no signed-puturl`)
    this.putUrls.set(o.sha, this.url(r['signed-puturl'], `signed-puturl of object ${o.sha}`))
    return false
  }

  async lacking(want: ObjectNeed[], signal: AbortSignal): Promise<Map<string, number | null>> {
    const have = await this.baseline(signal)
    const out = new Map<string, number | null>()
    for (const o of want) {
      if (have.has(o.sha)) continue
      if (!(await this.offer(o, signal))) out.set(o.sha, null)
    }
    return out
  }

  async putObject(o: ObjectNeed, source: () => Readable, opts: UploadOptions): Promise<void> {
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
      stallMs: this.o.stallMs,
    })
    if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'object', `object ${o.sha}`, this.target, retryAfterOf(a.headers['retry-after']))
    this.putUrls.delete(o.sha)
  }

  async putStep(step: string, raw: Uint8Array, commitMsg: string | null): Promise<void> {
    // pvr-sdk stores and runs a step in one post: keep it for run().
    this.pending = { step, raw, msg: commitMsg }
  }

  /** pvr post: returns the local step the device made of it (its answer's revlocal). */
  async run(step: string, commit: boolean, signal: AbortSignal): Promise<string> {
    if (commit) throw new UsageError('--commit (LOCAL_RUN_COMMIT) is not possible through pvr-sdk, which runs what it is sent; use --via ssh')
    const p = this.pending
    if (p === null || p.step !== step) throw new BugError('PvrSdkDriver: putStep() before run()')
    const r = this.need()
    const key = typeof r['json-key'] === 'string' && r['json-key'] !== '' ? r['json-key'] : PVR_DEFAULT_JSON_KEY
    // pvr writes the envelope as canonical JSON; the state goes in as its
    // canonical form, which is what pvr sends and what signatures cover.
    const state = canonicalizeJsonText(Buffer.from(p.raw).toString('utf8'))
    const members: Array<[string, string]> = [
      ['rev', '-1'],
      [key, state],
    ]
    if (p.msg !== null && p.msg !== '') members.push(['commit-msg', canonicalJson(p.msg)])
    members.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const body = Buffer.from(`{${members.map(([k, v]) => `${canonicalJson(k)}:${v}`).join(',')}}`)
    // Once sent, the post is answered before a stop takes effect: the device tells the step it
    // named only in its answer, and a stop that dropped the answer would leave this install under a
    // name the device does not know. A device that never answers still ends it: the 60 s deadline.
    if (signal.aborted) throw new AbortedError('cancelled')
    const a = await this.http.call({
      method: 'POST',
      url: this.url(r['post-url'] as string, 'post-url'),
      headers: { 'Content-Type': 'application/json' },
      body,
      signal: new AbortController().signal,
      timeoutMs: 60_000,
    })
    if (a.status !== 200)
      throw answerError(a.status, a.body.toString(), a.status === 503 ? 'command' : 'step', `step ${step}`, this.target, retryAfterOf(a.headers['retry-after']))
    let ans: { revlocal?: unknown; rev?: unknown }
    try {
      ans = JSON.parse(a.body.toString('utf8')) as typeof ans
    } catch {
      throw new ProtocolError(`${this.target}: the answer to the post is not JSON: ${a.body.toString('utf8').slice(0, 120)}`)
    }
    const local = typeof ans?.revlocal === 'string' && ans.revlocal !== '' ? ans.revlocal : typeof ans?.rev === 'string' ? ans.rev : step
    this.posted = { step: local, id: revisionId(parseState(p.raw, 'the posted state')), at: Date.now(), seenRunning: null }
    return local
  }

  async progress(step: string, signal: AbortSignal): Promise<StepProgress | null> {
    const u = this.need()['step-get-url']
    if (u !== undefined) {
      const a = await this.get(`${this.url(u, 'step-get-url').replace(/\/$/, '')}/${step}/progress`, signal)
      if (a.status === 404) return null
      if (a.status !== 200) throw answerError(a.status, a.body.toString(), 'other', `progress of ${step}`, this.target)
      return parseProgress(a.body.toString('utf8'), this.target)
    }
    return await this.concluded(signal)
  }

  /** What the device's current state says of the posted revision (pvr-sdk tells no progress). */
  private async concluded(signal: AbortSignal): Promise<StepProgress | null> {
    const p = this.posted
    if (p === null) return null
    const settle = this.o.settleMs ?? 60_000
    const switchMs = this.o.switchMs ?? 300_000
    const cur = await this.current(signal)
    let runs = false
    if (cur !== null) {
      try {
        runs = revisionId(parseState(cur, 'the device state')) === p.id
      } catch {
        runs = false
      }
    }
    const now = Date.now()
    const quiet = "pvr-sdk does not tell the device's own progress"
    const mk = (status: string, statusMsg: string): StepProgress => ({ status, statusMsg, progress: null, retries: null, logs: null })
    if (runs) {
      p.seenRunning ??= now
      if (now - p.seenRunning >= settle)
        return mk(
          'RUNNING',
          `the device runs ${p.step} (for ${Math.round((now - p.seenRunning) / 1000)} s); ${quiet}, so whether it is DONE or UPDATED is not known: look with --via ssh`,
        )
      return mk('INPROGRESS', `the device switched to ${p.step}; watching it for ${Math.round(settle / 1000)} s (${quiet})`)
    }
    if (p.seenRunning !== null)
      return mk('NOT_RUNNING', `the device ran ${p.step}, then went back to its previous revision (a rollback; ${quiet}: look with --via ssh)`)
    if (now - p.at >= switchMs)
      return mk(
        'NOT_RUNNING',
        `the device did not switch to ${p.step} within ${Math.round(switchMs / 1000)} s: it refused it or rolled it back (${quiet}: look with --via ssh)`,
      )
    return mk('NEW', `waiting for the device to switch to ${p.step} (${quiet})`)
  }
}
