/**
 * Receiving objects and steps (ctrl_upload.c, ctrl_objects_ep.c,
 * ctrl_steps_ep.c). Like the device, an object is written straight to
 * objects/<sha> (a partial upload is visible in GET /objects), every chunk is
 * checked against the real free space (507 "Not enough disk space available",
 * the partial file stays), and the finished file is re-hashed (422 "Object
 * has bad checksum", the file is removed). An object already there and valid
 * is drained and answered 200.
 */
import { createHash } from 'node:crypto'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Readable } from 'node:stream'
import type { DeviceCore } from './device.js'
import { MSG, progressJson } from './progress.js'
import { stepRefusal, verifyOnDevice } from './verify.js'

export interface Answer {
  status: number
  error?: string
  /**
   * The device first answered 200 on this request, then this status
   * (ctrl_upload.c ctrl_upload_complete_cb_caller: an object upload that ran
   * out of space). pv-ctrl sends both; pvr-sdk's server sends this one.
   */
  after200?: boolean
}

const WRITE_BATCH = 1 << 20
export const NO_SPACE = 'Not enough disk space available'
export const BAD_CHECKSUM = 'Object has bad checksum'

async function drain(body: Readable): Promise<void> {
  for await (const _ of body) {
    /* discard */
  }
}

/**
 * Write `body` to `file` checking the free space per chunk. Returns false
 * when space ran out (the rest is drained). `cut` is called before each chunk
 * and returns true to stop at once (the connection is gone).
 */
async function writeChecked(
  dev: DeviceCore,
  file: string,
  body: Readable,
  onChunk: (b: Buffer) => boolean,
): Promise<{ ok: boolean; cut: boolean; size: number }> {
  const fh = await open(file, 'w', 0o644)
  let ok = true
  let size = 0
  let pending: Buffer[] = []
  let pendingBytes = 0
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return
    await fh.writev(pending)
    dev.storage.charge(pendingBytes)
    pending = []
    pendingBytes = 0
  }
  try {
    for await (const c of body) {
      const chunk = c as Buffer
      if (!ok) continue
      if (!onChunk(chunk)) {
        await flush()
        return { ok, cut: true, size }
      }
      const n = await dev.storage.numbers()
      if (chunk.length + pendingBytes > n.realFree) {
        dev.log('at least %d B needed but only %d B available', chunk.length, n.realFree)
        await flush()
        ok = false
        continue
      }
      pending.push(chunk)
      pendingBytes += chunk.length
      size += chunk.length
      if (pendingBytes >= WRITE_BATCH) await flush()
    }
    await flush()
    return { ok, cut: false, size }
  } catch (err) {
    // The client went away mid-body: keep what arrived, as the device does.
    await flush().catch(() => {})
    dev.log('upload of %s interrupted: %s', file, (err as Error).message)
    return { ok, cut: true, size }
  } finally {
    await fh.close()
  }
}

/** PUT /objects/<sha>. `cutConnection` drops the client's connection (the cut knob). */
export async function receiveObject(dev: DeviceCore, sha: string, body: Readable, cutConnection: () => void): Promise<Answer | null> {
  const st = dev.storage
  if (await st.objectValid(sha)) {
    dev.log('object %s already exists and is valid; discarding new object upload', sha)
    await drain(body)
    return { status: 200 }
  }
  const old = await st.objectSize(sha)
  if (old !== null) st.charge(-old)
  dev.noteUpload()
  const hash = createHash('sha256')
  const knobs = dev.knobs
  const r = await writeChecked(dev, st.objectPath(sha), body, chunk => {
    if (knobs.cutAfterBytes !== null && dev.uploadedBytes + chunk.length > knobs.cutAfterBytes) {
      knobs.cutAfterBytes = null
      cutConnection()
      return false
    }
    dev.uploadedBytes += chunk.length
    hash.update(chunk)
    return true
  })
  if (r.cut) return null
  if (!r.ok) return { status: 507, error: NO_SPACE, after200: true }
  let got = hash.digest('hex')
  if (knobs.flakyUploads > 0) {
    knobs.flakyUploads--
    got = '0'.repeat(64)
  }
  if (got !== sha) {
    dev.log('object %s has bad checksum', sha)
    await st.removeObject(sha)
    return { status: 422, error: BAD_CHECKSUM }
  }
  await st.uploadVerified(sha)
  dev.log('object %s stored (%d bytes)', sha, r.size)
  return { status: 200 }
}

/** PUT /steps/locals/<name>: store, verify signatures and parse; on failure 422 and the revision is removed. */
export async function receiveStep(dev: DeviceCore, rev: string, body: Readable): Promise<Answer | null> {
  const st = dev.storage
  await st.writeSmall(st.progressPath(rev), progressJson('NEW', MSG.prepared))
  const old = await st.readJson(rev)
  if (old !== null) st.charge(-old.length)
  await mkdir(dirname(st.jsonPath(rev)), { recursive: true })
  const r = await writeChecked(dev, st.jsonPath(rev), body, () => true)
  if (r.cut) return null
  await st.writeSmall(st.progressPath(rev), progressJson('NEW', MSG.installed))
  if (!r.ok) return { status: 507, error: NO_SPACE }
  const raw = await st.readJson(rev)
  const verdict =
    raw === null ? { ok: false as const, stage: 'parser' as const, message: 'Storage: Cannot read state JSON', detail: '' } : verifyOnDevice(raw, dev.trust)
  if (!verdict.ok) {
    dev.log('state verification of %s failed: %s', rev, verdict.detail)
    await st.removeRevision(rev)
    return { status: 422, error: raw === null ? verdict.message : stepRefusal(verdict) }
  }
  return { status: 200 }
}

/** PUT /steps/<rev>/commitmsg: at most 256 bytes (more: 507, as pv_ctrl_utils_get_data answers). */
export async function receiveCommitMsg(dev: DeviceCore, rev: string, msg: Buffer | null): Promise<Answer> {
  if (msg === null) return { status: 507, error: NO_SPACE }
  await dev.storage.writeSmall(dev.storage.commitMsgPath(rev), msg)
  return { status: 200 }
}
