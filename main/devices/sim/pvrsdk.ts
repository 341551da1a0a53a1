/**
 * The pvr-sdk container's HTTP server (port 12368): `/cgi-bin/pvr` speaks
 * the pvr remote protocol as pvr's client expects it (pantacor/pvr
 * libpvr/repolib.go, api/remote.go): `.pvrremote` with pvr's fields only
 * (no json-key: pvr then posts the state under "post"), the current state at
 * json-get-url, object POST (200 with signed-puturl, or 409 when the device
 * has it) then PUT of the bytes, and a POST to post-url with pvr's body,
 * `{"commit-msg", "post": state, "rev": -1}`, that stores a local step and
 * runs it, answered like Pantahub's trails API (`rev` -1, `revlocal` naming
 * the local step, `state-sha`).
 *
 * pvr-sdk's own cgi source is not public. Two endpoints are this project's
 * assumption and are served only with `assumeProgress` (device-sim
 * --assume-pvr-sdk-progress): `step-get-url` (`<base>/steps/<rev>`, with
 * `/progress`) and `device-meta-url` (`<base>/device-meta`), passed through
 * from pv-ctrl. A stock pvr-sdk is modelled without them.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { parseState, rawMembers, revisionId } from '../../../shared/state/index.js'
import { isSha256Hex } from '../../../shared/ids.js'
import type { DeviceCore } from './device.js'
import { isLocalRevision } from './storage.js'
import { receiveCommitMsg, receiveObject, receiveStep } from './upload.js'

export const PVR_BASE = '/cgi-bin/pvr'
const POST_MAX = 32 * 1024 * 1024

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const b = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(b.length), ...headers })
  res.end(b)
}

function fail(res: ServerResponse, status: number, msg: string, headers: Record<string, string> = {}): void {
  json(res, status, { Error: msg }, headers)
}

async function readAll(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const parts: Buffer[] = []
  let n = 0
  for await (const c of req) {
    n += (c as Buffer).length
    if (n <= max) parts.push(c as Buffer)
  }
  return n > max ? null : Buffer.concat(parts)
}

export function remoteInfo(base: string, assumeProgress: boolean): Record<string, unknown> {
  return {
    'pvr-spec': 'pvr-sdk-1',
    'json-get-url': `${base}/json`,
    'objects-endpoint': `${base}/objects`,
    'post-url': `${base}/post`,
    'post-fields': ['commit-msg'],
    'post-fields-opt': ['rev'],
    ...(assumeProgress ? { 'step-get-url': `${base}/steps`, 'device-meta-url': `${base}/device-meta` } : {}),
  }
}

async function post(dev: DeviceCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readAll(req, POST_MAX)
  if (body === null) {
    fail(res, 413, 'post too large')
    return
  }
  let members
  try {
    members = rawMembers(body, 'post')
  } catch (err) {
    fail(res, 400, (err as Error).message)
    return
  }
  const field = (k: string): string | undefined => members.find(m => m.key === k)?.rawValue
  const stateRaw = field('post')
  if (stateRaw === undefined) {
    fail(res, 400, 'post: no "post" member (the state)')
    return
  }
  const revRaw = field('rev')
  const msgRaw = field('commit-msg')
  const raw = Buffer.from(stateRaw, 'utf8')
  let stateSha: string
  try {
    stateSha = revisionId(parseState(raw, 'post state'))
  } catch (err) {
    fail(res, 422, `Parser: ${(err as Error).message}`)
    return
  }
  // pvr posts an integer rev, -1 unless told (cmdpost.go): the device names the local step.
  const given = revRaw === undefined ? -1 : (JSON.parse(revRaw) as unknown)
  let rev: string
  if (typeof given === 'number' && Number.isInteger(given)) rev = given < 0 ? `locals/${stateSha.slice(0, 12)}` : `locals/${given}`
  else if (typeof given === 'string') rev = given.startsWith('locals/') ? given : `locals/${given}`
  else {
    fail(res, 400, 'rev: an integer (-1: the device names the step)')
    return
  }
  if (!isLocalRevision(rev as string)) {
    fail(res, 400, 'Request has bas step name')
    return
  }
  const step = rev as string
  const a = await receiveStep(dev, step, Readable.from([raw]))
  if (a !== null && a.status !== 200) {
    fail(res, a.status, a.error ?? '')
    return
  }
  if (msgRaw !== undefined) {
    const msg = Buffer.from(String(JSON.parse(msgRaw)))
    const m = await receiveCommitMsg(dev, step, msg.length > 256 ? null : msg)
    if (m.status !== 200) {
      fail(res, m.status, m.error ?? '')
      return
    }
  }
  const c = dev.addCommand('LOCAL_RUN', step)
  if (c.status !== 200) {
    fail(res, c.status, c.error ?? '', c.retryAfter === undefined ? {} : { 'Retry-After': String(c.retryAfter) })
    return
  }
  if (dev.timing.postAnswerMs > 0) await new Promise(resolve => setTimeout(resolve, dev.timing.postAnswerMs))
  json(res, 200, { rev: -1, revlocal: step, 'state-sha': stateSha, 'trail-id': dev.deviceId, 'commit-msg': msgRaw === undefined ? '' : JSON.parse(msgRaw) })
}

async function objects(dev: DeviceCore, base: string, req: IncomingMessage, res: ServerResponse, rest: string[]): Promise<void> {
  const st = dev.storage
  if (rest.length === 0) {
    if (req.method !== 'POST') {
      fail(res, 405, 'objects: POST the object info')
      return
    }
    const body = await readAll(req, 64 * 1024)
    let info: { sha256sum?: unknown; size?: unknown; objectname?: unknown }
    try {
      info = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8')) as typeof info
    } catch {
      fail(res, 400, 'objects: body is not JSON')
      return
    }
    const sha = info.sha256sum
    if (!isSha256Hex(sha)) {
      fail(res, 400, 'objects: sha256sum must be 64 lowercase hex characters')
      return
    }
    if (dev.timing.offerAnswerMs > 0) await new Promise(resolve => setTimeout(resolve, dev.timing.offerAnswerMs))
    const size = await st.objectSize(sha)
    if (size !== null && String(size) === String(info.size)) {
      fail(res, 409, 'object exists', { 'Pantahub-Object-Type': 'object' })
      return
    }
    const url = `${base}/objects/${sha}`
    json(res, 200, { ...info, 'signed-puturl': url, 'signed-geturl': `${url}/blob`, now: String(Math.floor(Date.now() / 1000)), 'expire-time': '3600' })
    return
  }
  const sha = rest[0]
  if (!isSha256Hex(sha)) {
    fail(res, 400, 'Request has bad object name')
    return
  }
  if (req.method === 'PUT' && rest.length === 1) {
    const a = await receiveObject(dev, sha, req, () => {
      req.socket.destroy()
    })
    if (a === null) return
    if (a.status === 200) json(res, 200, '')
    else fail(res, a.status, a.error ?? '')
    return
  }
  if (req.method !== 'GET') {
    fail(res, 405, 'method not supported')
    return
  }
  const size = await st.objectSize(sha)
  if (size === null) {
    fail(res, 404, 'object not found')
    return
  }
  if (rest[1] === 'blob') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) })
    createReadStream(st.objectPath(sha)).pipe(res)
    return
  }
  json(res, 200, { sha256sum: sha, size: String(size), 'signed-geturl': `${base}/objects/${sha}/blob` })
}

async function handle(dev: DeviceCore, req: IncomingMessage, res: ServerResponse, assumeProgress: boolean): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://device')
  const host = req.headers.host ?? 'localhost:12368'
  const base = `http://${host}${PVR_BASE}`
  if (!url.pathname.startsWith(PVR_BASE)) {
    fail(res, 404, 'not found')
    return
  }
  const rest = url.pathname
    .slice(PVR_BASE.length)
    .split('/')
    .filter(s => s !== '')
    .map(decodeURIComponent)
  const st = dev.storage
  if (rest.length === 0 || rest[0] === '.pvrremote') {
    json(res, 200, remoteInfo(base, assumeProgress))
    return
  }
  switch (rest[0]) {
    case 'json': {
      const cur = await st.current()
      const file = cur === null ? null : st.jsonPath(cur)
      const s = file === null ? null : await stat(file).catch(() => null)
      if (file === null || s === null) {
        fail(res, 404, 'no current state')
        return
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(s.size) })
      createReadStream(file).pipe(res)
      return
    }
    case 'objects':
      return await objects(dev, base, req, res, rest.slice(1))
    case 'post':
      if (req.method !== 'POST') {
        fail(res, 405, 'post: use POST')
        return
      }
      return await post(dev, req, res)
    case 'device-meta':
      if (!assumeProgress) {
        fail(res, 404, 'not found')
        return
      }
      json(res, 200, await dev.deviceMeta())
      return
    case 'steps': {
      if (!assumeProgress) {
        fail(res, 404, 'not found')
        return
      }
      const progress = rest[rest.length - 1] === 'progress'
      const rev = await st.resolve(rest.slice(1, progress ? -1 : undefined).join('/'))
      const p = await st.readSmall(st.progressPath(rev))
      if (p === null) {
        fail(res, 404, 'Resource does not exist')
        return
      }
      json(res, 200, progress ? p : `{"rev":${JSON.stringify(rev)},"progress":${p}}`)
      return
    }
    default:
      fail(res, 404, 'not found')
  }
}

export function createPvrSdkServer(dev: DeviceCore, onError: (err: unknown) => void, opts: { assumeProgress?: boolean } = {}): Server {
  const server = createServer((req, res) => {
    if (dev.isDown) {
      req.socket.destroy()
      return
    }
    handle(dev, req, res, opts.assumeProgress === true).catch((err: unknown) => {
      onError(err)
      if (!res.headersSent) fail(res, 500, 'Internal Error')
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 30_000
  return server
}
