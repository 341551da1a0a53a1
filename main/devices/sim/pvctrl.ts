/**
 * The pv-ctrl endpoints the simulator serves on its Unix socket, with
 * Pantavisor's status codes and `{"Error":"..."}` bodies (ctrl/*.c).
 */
import { open, stat } from 'node:fs/promises'
import type { DeviceCore } from './device.js'
import { readBody, type Http1Handler, type Http1Request, type Http1Response } from './http1.js'
import { isLocalRevision, safeRevision } from './storage.js'
import { parseCommand } from './commands.js'
import { NO_SPACE, receiveCommitMsg, receiveObject, receiveStep } from './upload.js'

const CMD_MAX = 4096
const META_MAX = 4096
const COMMIT_MAX = 256

function err(res: Http1Response, status: number, msg: string, headers: Record<string, string> = {}): void {
  res.send(status, JSON.stringify({ Error: msg }), headers)
}

function ok(res: Http1Response): void {
  res.send(200, '')
}

/**
 * Two replies to one request, as pv-ctrl sends them when a handler answers
 * and its caller answers again (libevent writes both): see Http1Response.sendTwice.
 */
function twice(res: Http1Response, first: number, firstMsg: string | null, second: number, secondMsg: string): void {
  res.sendTwice(first, firstMsg === null ? '' : JSON.stringify({ Error: firstMsg }), second, JSON.stringify({ Error: secondMsg }))
}

/** Path segments as pv_ctrl_utils_split_path gives them (empty ones dropped). */
function split(target: string): string[] {
  const path = target.split('?')[0]
  return path
    .split('/')
    .filter(s => s !== '')
    .map(s => {
      try {
        return decodeURIComponent(s)
      } catch {
        return s
      }
    })
}

/** The revision named in /steps/<rev>[/progress|/commitmsg]. */
function stepName(parts: string[]): string {
  const last = parts[parts.length - 1]
  const tail = last === 'progress' || last === 'commitmsg' ? 1 : 0
  return parts.slice(1, parts.length - tail).join('/')
}

/**
 * A stored file as the answer. Length and bytes come from one open file: a
 * progress file is replaced (rename) while runs go on, and a stat by name then
 * an open by name could pair one file's length with another's bytes.
 * JSON files (pv_ctrl_utils_send_json_file) go out with their head in one
 * write, as libevent sends them: pvtx reads an answer with one blocking read
 * and one non-blocking one (pvtx_ctrl.c read_data), so a body that trails
 * its head is lost to it. Objects are streamed.
 */
async function sendFile(res: Http1Response, file: string, type = 'application/json'): Promise<void> {
  const fh = await open(file, 'r').catch(() => null)
  const s = fh === null ? null : await fh.stat().catch(() => null)
  if (fh === null || s === null || !s.isFile()) {
    await fh?.close()
    err(res, 404, 'Resource does not exist')
    return
  }
  if (type === 'application/json') {
    try {
      res.send(200, await fh.readFile(), { 'Content-Type': type })
    } finally {
      await fh.close()
    }
    return
  }
  await res.stream(200, s.size, fh.createReadStream(), { 'Content-Type': type })
}

async function steps(dev: DeviceCore, req: Http1Request, res: Http1Response, parts: string[]): Promise<void> {
  const st = dev.storage
  if (parts.length === 1) {
    if (req.method !== 'GET') {
      err(res, 400, 'Method not supported for this endpoint')
      return
    }
    const rows: string[] = []
    for (const rev of await st.revisions()) {
      const progress = (await st.readSmall(st.progressPath(rev)))?.trim() || '{}'
      const msg = (await st.readSmall(st.commitMsgPath(rev))) ?? ''
      const date = (await stat(st.trailPath(rev)).catch(() => null))?.mtime.toISOString().replace(/\.\d{3}Z$/, 'Z') ?? ''
      rows.push(`{"name":${JSON.stringify(rev)}, "date":"${date}", "commitmsg":${JSON.stringify(msg)}, "progress":${progress}}`)
    }
    res.send(200, `[${rows.join(',')}]`)
    return
  }
  const rev = stepName(parts)
  if (!safeRevision(rev)) {
    err(res, 400, 'Request has bad step name')
    return
  }
  const last = parts[parts.length - 1]
  if (last === 'progress' && parts.length > 2) {
    if (req.method !== 'GET') {
      err(res, 400, 'Method not supported for this endpoint')
      return
    }
    await sendFile(res, st.progressPath(await st.resolve(rev)))
    return
  }
  if (last === 'commitmsg' && parts.length > 2) {
    if (req.method !== 'PUT') {
      err(res, 400, 'Method not supported for this endpoint')
      return
    }
    const msg = await readBody(req, COMMIT_MAX)
    // ctrl_step_commit_cb: pv_ctrl_utils_get_data answers 507, then the callback 400, on the same request
    if (msg === null) {
      twice(res, 507, NO_SPACE, 400, 'No commit message')
      return
    }
    const a = await receiveCommitMsg(dev, rev, msg)
    if (a.status === 200) ok(res)
    else err(res, a.status, a.error ?? '')
    return
  }
  if (req.method === 'GET') {
    await sendFile(res, st.jsonPath(await st.resolve(rev)))
    return
  }
  if (req.method !== 'PUT' || !rev.startsWith('locals/')) {
    err(res, 400, 'Method not supported for this endpoint')
    return
  }
  if (!isLocalRevision(rev)) {
    err(res, 400, 'Request has bas step name')
    return
  }
  const a = await receiveStep(dev, rev, req.body)
  if (a === null) return
  if (a.status === 200) ok(res)
  else err(res, a.status, a.error ?? '')
}

async function objects(dev: DeviceCore, req: Http1Request, res: Http1Response, parts: string[]): Promise<void> {
  const st = dev.storage
  if (parts.length === 1) {
    if (req.method !== 'GET') {
      err(res, 400, 'Method not supported for this endpoint')
      return
    }
    const list = await st.listObjects()
    res.send(200, JSON.stringify(list.map(o => ({ sha256: o.sha, size: String(o.size) }))))
    return
  }
  const sha = parts[1]
  if (parts.length !== 2 || sha.length !== 64 || !/^[0-9a-zA-Z]+$/.test(sha)) {
    err(res, 400, 'Request has bad object name')
    return
  }
  if (req.method === 'GET') {
    if ((await st.objectSize(sha)) === null) {
      err(res, 400, 'Request has bad object name')
      return
    }
    await sendFile(res, st.objectPath(sha), 'application/octet-stream')
    return
  }
  if (req.method !== 'PUT') {
    err(res, 400, 'Method not supported for this endpoint')
    return
  }
  const a = await receiveObject(dev, sha, req.body, () => {
    res.destroy()
  })
  if (a === null) return
  // ctrl_upload.c: out of space, the completion callback answers 200, then ctrl_upload_complete_cb_caller 507
  if (a.after200 === true) {
    twice(res, 200, null, a.status, a.error ?? '')
    return
  }
  if (a.status === 200) ok(res)
  else err(res, a.status, a.error ?? '')
}

async function commands(dev: DeviceCore, req: Http1Request, res: Http1Response): Promise<void> {
  if (req.method !== 'POST') {
    err(res, 400, 'Method not supported for this endpoint')
    return
  }
  const data = await readBody(req, CMD_MAX)
  // pv_ctrl_utils_get_data answers 507 itself, then ctrl_command_run answers 400 on the same request
  if (data === null) {
    twice(res, 507, NO_SPACE, 400, 'No command found')
    return
  }
  const cmd = parseCommand(data.toString('utf8'))
  if (cmd === null) {
    err(res, 400, 'Command has bad format')
    return
  }
  const a = dev.addCommand(cmd.op, cmd.payload)
  if (a.status === 200) {
    ok(res)
    return
  }
  err(res, a.status, a.error ?? '', a.retryAfter === undefined ? {} : { 'Retry-After': String(a.retryAfter) })
}

async function deviceMeta(dev: DeviceCore, req: Http1Request, res: Http1Response, parts: string[]): Promise<void> {
  if (parts.length === 1) {
    if (req.method !== 'GET') {
      err(res, 400, 'Method not supported for this endpoint')
      return
    }
    res.send(200, await dev.deviceMeta())
    return
  }
  const key = parts[parts.length - 1]
  if (req.method === 'DELETE') {
    if (dev.deleteMeta(key)) ok(res)
    else err(res, 404, 'Device meta does not exist')
    return
  }
  if (req.method !== 'PUT') {
    err(res, 400, 'Method not supported for this endpoint')
    return
  }
  if ((req.contentLength ?? 0) < 1) {
    err(res, 400, 'Cannot add or update device meta')
    return
  }
  const v = await readBody(req, META_MAX)
  if (v === null) {
    err(res, 507, 'Not enough disk space available')
    return
  }
  dev.setMeta(key, v.toString('utf8'))
  ok(res)
}

/** The handler for the pv-ctrl socket. */
export function pvctrlHandler(dev: DeviceCore): Http1Handler {
  return async (req, res) => {
    const parts = split(req.target)
    switch (parts[0]) {
      case 'objects':
        return await objects(dev, req, res, parts)
      case 'steps':
        return await steps(dev, req, res, parts)
      case 'commands':
        return await commands(dev, req, res)
      case 'device-meta':
        return await deviceMeta(dev, req, res, parts)
      case 'storage':
        if (parts[1] === 'gc' && req.method === 'POST') {
          res.send(200, `{"reclaimed": ${await dev.gc()}}`)
          return
        }
        break
      case 'containers':
      case 'groups':
      case 'daemons':
        if (req.method === 'GET' && parts.length === 1) {
          res.send(200, '[]')
          return
        }
        break
      case 'buildinfo':
        if (req.method === 'GET') {
          res.send(200, JSON.stringify({ version: '030-sim', note: 'Fieldsync device simulator' }))
          return
        }
        break
      default:
    }
    err(res, 400, `unknown endpoint: ${req.target}`)
  }
}
