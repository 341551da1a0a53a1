/**
 * A rollout's plan for one device: what it runs now (and whether that is
 * already the revision: skipped), the objects and bytes it lacks, whether
 * they fit its free storage. Read-only: the device is asked, never written.
 */
import { createHash } from 'node:crypto'
import { toWireError } from '../../../shared/errors.js'
import { canonicalizeJsonText } from '../../../shared/state/index.js'
import type { DeviceDriver } from '../drivers/types.js'
import type { Installer } from '../install.js'

export interface RolloutTarget {
  deviceId: string
  /** Alias, else nick, else id (store.ts deviceLabel). */
  label: string
  alias: string | null
  tags: string[]
  canary: boolean
  /** A fresh driver for the device: each connection (plan, install) opens its own. */
  driver: () => DeviceDriver
}

export interface DevicePlan {
  deviceId: string
  label: string
  canary: boolean
  /** The step the device runs (device-meta pantavisor.revision), where it tells. */
  revisionBefore: string | null
  /** The device's running state is this revision (null: it does not tell its state). */
  alreadyRuns: boolean | null
  objectsToSend: number | null
  bytesToSend: number | null
  freeBytes: number | null
  /** The bytes to send fit its free storage (null: it does not tell its free space). */
  fits: boolean | null
  problems: string[]
  notes: string[]
  /** The device could not be planned (unreachable, a protocol error): its code and message. */
  error: { code: string; message: string } | null
}

/** The revision id of state bytes: sha256 of their canonical form (shared/state/canonical.ts). */
export function stateIdOf(raw: Uint8Array): string {
  return createHash('sha256')
    .update(canonicalizeJsonText(Buffer.from(raw).toString('utf8')))
    .digest('hex')
}

export async function planDevice(installer: Installer, revId: string, t: RolloutTarget, signal: AbortSignal): Promise<DevicePlan> {
  const out: DevicePlan = {
    deviceId: t.deviceId,
    label: t.label,
    canary: t.canary,
    revisionBefore: null,
    alreadyRuns: null,
    objectsToSend: null,
    bytesToSend: null,
    freeBytes: null,
    fits: null,
    problems: [],
    notes: [],
    error: null,
  }
  try {
    const d = t.driver()
    await d.open(signal)
    try {
      out.revisionBefore = (await d.meta(signal).catch(() => null))?.revision ?? null
      if (d.stepState !== undefined) {
        const raw = await d.stepState('current', signal).catch(() => null)
        out.alreadyRuns = raw === null ? null : stateIdOf(raw) === revId
      }
    } finally {
      await d.close()
    }
    if (out.alreadyRuns === true) return { ...out, objectsToSend: 0, bytesToSend: 0, fits: true }
    const p = await installer.plan({ rev: revId, driver: t.driver(), deviceId: t.deviceId, signal })
    return {
      ...out,
      objectsToSend: p.objectsToSend,
      bytesToSend: p.bytesToSend,
      freeBytes: p.freeBytes,
      fits: p.freeBytes === null ? null : p.problems.length === 0,
      problems: p.problems,
      notes: p.notes ?? [],
    }
  } catch (err) {
    const w = toWireError(err)
    return { ...out, error: { code: w.code, message: w.message } }
  }
}
