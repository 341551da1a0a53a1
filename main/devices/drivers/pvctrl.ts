/**
 * PvCtrlDriver: Pantavisor's pv-ctrl API (ctrl/ in the pantavisor
 * repository), the requests `pvcontrol` makes, over any transport that
 * carries one HTTP exchange to the device's control socket:
 *  - a Unix socket this process can open (`unix:<path>`: a device's
 *    `/pantavisor/pv-ctrl` seen from a management container, a socket
 *    forwarded over SSH, the test kit's relay), PvCtrlSocketTransport;
 *  - curl inside a management container reached by SSH (ssh.ts).
 * The driver maps answers to typed errors (answers.ts) and never trusts
 * an object's presence by its name alone: GET /objects sizes are compared,
 * because a full device answers an upload 200 and keeps a partial file
 * (ctrl/ctrl_objects_ep.c, ctrl/ctrl_upload.c).
 */
import type { Readable } from 'node:stream'
import { answerError, type RequestKind } from './answers.js'
import { HttpClient } from './http.js'
import {
  parseDeviceMeta,
  parseObjectList,
  parseProgress,
  type DeviceDriver,
  type DeviceMeta,
  type ObjectNeed,
  type StepProgress,
  type UploadOptions,
  type Via,
} from './types.js'

export interface PvCtrlRequest {
  method: 'GET' | 'PUT' | 'POST'
  path: string
  /** Bytes sent with this Content-Length (object and step PUTs). */
  uploadLength?: number
  /** A small body (commands, commit messages). */
  data?: boolean
  contentType?: string
  /** Deadline of the whole exchange, seconds (uploads: long). */
  maxTimeS?: number
  /** Largest answer body accepted, bytes. */
  maxBody?: number
}

export interface PvCtrlAnswer {
  status: number
  body: string
  /** Retry-After of a 503, seconds, when the transport sees headers. */
  retryAfter: number | null
}

/** One HTTP exchange with pv-ctrl; transport failures are typed (DeviceUnreachable, Timeout, Aborted). */
export interface PvCtrlTransport {
  readonly target: string
  open: (signal: AbortSignal) => Promise<void>
  close: () => Promise<void>
  exchange: (r: PvCtrlRequest, what: string, input: Buffer | Readable | null, signal: AbortSignal, onBytes?: (n: number) => void) => Promise<PvCtrlAnswer>
}

/** Uploads may be large and the device slow to re-hash them: 4 h. */
const UPLOAD_MAX_S = 14_400
/** A state JSON (GET /steps/<rev>) is small; a device that sends more is broken. */
const STATE_MAX = 16 * 1024 * 1024

export class PvCtrlDriver implements DeviceDriver {
  readonly target: string

  constructor(
    readonly via: Via,
    protected readonly t: PvCtrlTransport,
  ) {
    this.target = t.target
  }

  async open(signal: AbortSignal): Promise<void> {
    await this.t.open(signal)
  }
  async close(): Promise<void> {
    await this.t.close()
  }

  private async call(
    r: PvCtrlRequest,
    kind: RequestKind,
    what: string,
    signal: AbortSignal,
    input: Buffer | Readable | null = null,
    onBytes?: (n: number) => void,
  ): Promise<PvCtrlAnswer> {
    return await this.t.exchange(r, what, input, signal, onBytes)
  }

  private async ok(
    r: PvCtrlRequest,
    kind: RequestKind,
    what: string,
    signal: AbortSignal,
    input: Buffer | Readable | null = null,
    onBytes?: (n: number) => void,
  ): Promise<string> {
    const a = await this.call(r, kind, what, signal, input, onBytes)
    if (a.status !== 200) throw answerError(a.status, a.body, kind, what, this.target, a.retryAfter)
    return a.body
  }

  async meta(signal: AbortSignal): Promise<DeviceMeta> {
    return parseDeviceMeta(await this.ok({ method: 'GET', path: '/device-meta' }, 'other', 'device-meta', signal), this.target)
  }

  /** The device's objects and their sizes (GET /objects). */
  async objects(signal: AbortSignal): Promise<Map<string, number>> {
    return parseObjectList(await this.ok({ method: 'GET', path: '/objects' }, 'other', 'object list', signal), this.target)
  }

  async lacking(want: ObjectNeed[], signal: AbortSignal): Promise<Map<string, number | null>> {
    const have = await this.objects(signal)
    return new Map(want.filter(o => have.get(o.sha) !== o.size).map(o => [o.sha, have.get(o.sha) ?? null]))
  }

  async putObject(o: ObjectNeed, source: () => Readable, opts: UploadOptions): Promise<void> {
    await this.ok(
      { method: 'PUT', path: `/objects/${o.sha}`, uploadLength: o.size, maxTimeS: UPLOAD_MAX_S },
      'object',
      `object ${o.sha}`,
      opts.signal,
      source(),
      opts.onBytes,
    )
  }

  async putStep(step: string, raw: Uint8Array, commitMsg: string | null, signal: AbortSignal): Promise<void> {
    await this.ok(
      { method: 'PUT', path: `/steps/${step}`, uploadLength: raw.byteLength, contentType: 'application/json' },
      'step',
      `step ${step}`,
      signal,
      Buffer.from(raw),
    )
    if (commitMsg === null || commitMsg === '') return
    await this.ok(
      { method: 'PUT', path: `/steps/${step}/commitmsg`, data: true, contentType: 'text/plain' },
      'other',
      `commit message of ${step}`,
      signal,
      Buffer.from(commitMsg),
    )
  }

  async run(step: string, commit: boolean, signal: AbortSignal): Promise<undefined> {
    const body = Buffer.from(JSON.stringify({ op: commit ? 'LOCAL_RUN_COMMIT' : 'LOCAL_RUN', payload: step }))
    await this.ok({ method: 'POST', path: '/commands', data: true }, 'command', `run ${step}`, signal, body)
    return undefined
  }

  async progress(step: string, signal: AbortSignal): Promise<StepProgress | null> {
    const a = await this.call({ method: 'GET', path: `/steps/${step}/progress` }, 'other', `progress of ${step}`, signal)
    if (a.status === 404) return null
    if (a.status !== 200) throw answerError(a.status, a.body, 'other', `progress of ${step}`, this.target, a.retryAfter)
    return parseProgress(a.body, this.target)
  }

  /** The raw state JSON of a step (`current`: what the device runs), as pv-ctrl stores it. */
  async stepState(step: string, signal: AbortSignal): Promise<Uint8Array> {
    const body = await this.ok({ method: 'GET', path: `/steps/${step}`, maxBody: STATE_MAX }, 'other', `state of ${step}`, signal)
    return Buffer.from(body, 'utf8')
  }
}

/** pv-ctrl on a Unix socket this process can connect to. */
export class PvCtrlSocketTransport implements PvCtrlTransport {
  readonly target: string
  private readonly http: HttpClient

  constructor(
    readonly socket: string,
    private readonly stallMs?: number,
  ) {
    this.target = `unix:${socket}`
    // One connection per request, as pvcontrol's curl does: after a full
    // upload the device writes a second answer (507) behind its 200, which
    // must not be read as the answer to the next request.
    this.http = new HttpClient(`pv-ctrl at ${socket}`, { socketPath: socket, keepAlive: false })
  }

  async open(_signal: AbortSignal): Promise<void> {}
  async close(): Promise<void> {
    this.http.close()
  }

  async exchange(r: PvCtrlRequest, _what: string, input: Buffer | Readable | null, signal: AbortSignal, onBytes?: (n: number) => void): Promise<PvCtrlAnswer> {
    const headers: Record<string, string> = {}
    if (r.contentType !== undefined) headers['Content-Type'] = r.contentType
    else if (r.data === true) headers['Content-Type'] = 'application/json'
    const url = `http://localhost${r.path}`
    const timeoutMs = (r.maxTimeS ?? 240) * 1000
    const a =
      input === null || Buffer.isBuffer(input)
        ? await this.http.call({ method: r.method, url, headers, body: input ?? undefined, signal, timeoutMs, maxBody: r.maxBody })
        : await this.http.call({
            method: r.method,
            url,
            headers,
            stream: { source: input, length: r.uploadLength ?? 0, onBytes: onBytes ?? (() => {}) },
            signal,
            timeoutMs,
            maxBody: r.maxBody,
            stallMs: this.stallMs,
          })
    const ra = a.headers['retry-after']
    const n = Number(Array.isArray(ra) ? ra[0] : ra)
    return { status: a.status, body: a.body.toString('utf8'), retryAfter: ra !== undefined && Number.isFinite(n) && n >= 0 ? n : null }
  }
}

/** A device reached through a pv-ctrl socket: `--device unix:<path> --via pv-ctrl`. */
export class PvCtrlSocketDriver extends PvCtrlDriver {
  constructor(socket: string, opts: { stallMs?: number } = {}) {
    super('pv-ctrl', new PvCtrlSocketTransport(socket, opts.stallMs))
  }
}
