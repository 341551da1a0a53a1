/**
 * `fieldsync usb receipts <stick>`: the receipts install.sh wrote on a stick
 * (receipts.ts checks them) go into each device's install history (the
 * device store, via `usb`) and into a report in the rollout report's shape,
 * so that the same writers (main/devices/rollout/report.ts) give the
 * technician a .csv, .json or .html for the customer. Every receipt is
 * checked before any is imported; a damaged one is reported, never imported.
 */
import { basename } from 'node:path'
import { BugError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { deviceLabel, type DeviceStore } from '../devices/store.js'
import type { RolloutReportRow, RolloutResult } from '../devices/rollout/index.js'
import { readManifest } from './manifest.js'
import { readReceipts, RECEIPT_SUCCESS, type DamagedReceipt, type Receipt } from './receipts.js'

export interface ReceiptsImport {
  dir: string
  /** Receipts imported now, and those whose install was in the history already (imported before). */
  imported: Array<Receipt & { installId: number; added: boolean }>
  damaged: DamagedReceipt[]
  report: RolloutResult
  ok: boolean
}

function row(r: Receipt & { installId: number }, store: DeviceStore): RolloutReportRow {
  const rec = store.get(r.device.id)
  const ok = RECEIPT_SUCCESS.has(r.progress.status)
  const final = ok || r.progress.status === 'ERROR' || r.progress.status === 'WONTGO' || r.progress.status === 'REFUSED'
  return {
    device: r.device.id,
    name: rec === undefined ? r.device.nick : deviceLabel(rec),
    alias: rec?.alias ?? null,
    tags: rec?.tags ?? [],
    canary: false,
    state: ok ? 'succeeded' : final ? 'failed' : 'running',
    outcome: r.progress.status,
    message: r.progress.message === '' ? null : r.progress.message,
    errorCode: null,
    revisionBefore: r.before.revision === '' ? null : r.before.revision,
    revisionAfter: ok ? r.step : r.after.revision === '' ? null : r.after.revision,
    bytesSent: 0,
    seconds: Math.round((r.endedAt - r.startedAt) / 1000),
    installId: r.installId,
  }
}

export async function importReceipts(dir: string, c: { store: DeviceStore; log: Logger }, opts: { signal?: AbortSignal } = {}): Promise<ReceiptsImport> {
  const log = c.log.child('usb:receipts')
  const manifest = await readManifest(dir, { signal: opts.signal })
  if (manifest === undefined) throw new BugError('readManifest returned nothing without optional')
  const { receipts, damaged } = await readReceipts(dir, manifest, opts)
  // All checked above: from here on only whole receipts are written, each in its own short transaction.
  const imported = receipts.map(r => {
    if (c.store.get(r.device.id) === undefined) {
      c.store.upsert({
        deviceId: r.device.id,
        name: r.device.nick === '' ? null : r.device.nick,
        addrs: [],
        port: null,
        claimed: null,
        pvrSdk: false,
        revision: r.after.revision === '' ? null : r.after.revision,
        status: null,
        source: 'manual',
        lastSeen: r.endedAt,
      })
    }
    const names = r.revision.libraryNames
    const res = c.store.recordFinishedInstall({
      deviceId: r.device.id,
      address: `usb:${basename(dir)}`,
      via: 'usb',
      revisionId: r.revision.id,
      revisionName: names.length > 0 ? names[0] : r.revision.name,
      step: r.step,
      status: r.progress.status,
      statusMsg: r.progress.message === '' ? null : r.progress.message,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
    })
    log('%s: %s on %s (%s)%s', r.file, r.revision.name, r.device.id, r.progress.status, res.added ? '' : ', in the history already')
    return { ...r, installId: res.id, added: res.added }
  })
  for (const d of damaged) log('%s: damaged, not imported: %s', d.file, d.problem)
  const rows = imported.map(r => row(r, c.store))
  const revs = [...new Set(imported.map(r => r.revision.id))]
  const one = revs.length === 1 ? imported.find(r => r.revision.id === revs[0]) : undefined
  const report: RolloutResult = {
    rollout: null,
    resumed: false,
    revision:
      one !== undefined ? { id: one.revision.id, name: `${one.revision.name} (USB stick)` } : { id: revs.join(', '), name: `USB stick ${basename(dir)}` },
    signature: 'checked on each device',
    dryRun: false,
    stopped: damaged.length === 0 ? null : `${damaged.length} damaged receipt(s) not imported: ${damaged.map(d => d.file).join(', ')}`,
    summary: {
      devices: rows.length,
      succeeded: rows.filter(r => r.state === 'succeeded').length,
      failed: rows.filter(r => r.state === 'failed').length,
      skipped: 0,
      notStarted: 0,
      stopped: 0,
    },
    devices: rows,
  }
  return { dir, imported, damaged, report, ok: damaged.length === 0 }
}
