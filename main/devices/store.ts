/**
 * DeviceStore: the devices seen, the technician's aliases and tags for them,
 * the install history, and each device's SSH login, in the library's SQLite
 * database (migrations 003, 006 and 007). Writes are synchronous and short (house
 * rule 7): callers do their I/O first.
 */
import type { DeviceInfo, DeviceReach } from '../../shared/api/types.js'
import { UsageError } from '../../shared/errors.js'
import type { Db } from '../store/db.js'
import { isUnregisteredId } from './discovery.js'
import { sql as devicesSchema } from '../store/migrations/003-devices.js'
import { processAlive, processIdentity } from '../store/process-identity.js'
import { CONTAINER_RE, type SshLoginMemory } from './ssh-login.js'

/**
 * A device as stored: the contract's DeviceInfo, but discovery may not know its
 * name yet. `registered` is not a column: it follows from the id (a fingerprint
 * id is an unregistered device's, discovery.ts) and the source.
 */
export type DeviceRecord = Omit<DeviceInfo, 'name'> & {
  name: string | null
  /** The technician's name for it (unique), and tags (migration 006). */
  alias: string | null
  tags: string[]
}

/** What discovery and probes write: everything but the technician's labels. */
export type SeenDevice = Omit<DeviceRecord, 'lastSeen' | 'registered' | 'alias' | 'tags'> & { lastSeen?: number; registered?: boolean | null }

/** How a device is called in output: its alias, else what it tells (nick), else its id (host:port for a device added by address). */
export function deviceLabel(d: { deviceId: string; name: string | null; alias?: string | null }): string {
  return d.alias ?? d.name ?? d.deviceId
}

/** Alias and tag text: what a selector can name again (`name:ALIAS`, `tag:TAG`). */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/

function checkLabel(what: string, v: string): string {
  if (!LABEL_RE.test(v))
    throw new UsageError(`${what} ${JSON.stringify(v)}: 1 to 64 letters, digits and . _ @ + - (no spaces, commas or colons), starting with a letter or digit`)
  return v
}

export interface InstallRow {
  id: number
  deviceId: string
  address: string
  via: string
  revisionId: string
  revisionName: string | null
  step: string | null
  status: string
  statusMsg: string | null
  errorCode: string | null
  bytesSent: number
  objectsSent: number
  startedAt: number
  endedAt: number | null
}

interface DeviceDbRow {
  alias: string | null
  tags: string | null
  device_id: string
  name: string | null
  addrs: string
  port: number | null
  claimed: number | null
  pvr_sdk: number
  revision: string | null
  status: string | null
  source: string
  last_seen: number
  reach: string | null
}
interface InstallDbRow {
  id: number
  device_id: string
  address: string
  via: string
  revision_id: string
  revision_name: string | null
  step: string | null
  status: string
  status_msg: string | null
  error_code: string | null
  bytes_sent: number
  objects_sent: number
  started_at: number
  ended_at: number | null
}

function toDevice(r: DeviceDbRow): DeviceRecord {
  let addrs: string[] = []
  try {
    addrs = (JSON.parse(r.addrs) as unknown[]).filter((a): a is string => typeof a === 'string')
  } catch {
    addrs = []
  }
  return {
    deviceId: r.device_id,
    name: bareAddressName(r.name, r.source, addrs),
    alias: r.alias,
    tags: r.tags === null || r.tags === '' ? [] : r.tags.split('\n').sort(),
    addrs,
    port: r.port,
    claimed: r.claimed === null ? null : r.claimed === 1,
    registered: r.source === 'mdns' ? !isUnregisteredId(r.device_id) : null,
    pvrSdk: r.pvr_sdk === 1,
    revision: r.revision,
    status: r.status,
    source: r.source === 'mdns' ? 'mdns' : 'manual',
    lastSeen: r.last_seen,
    reach: toReach(r.reach),
  }
}

const REACHES: readonly DeviceReach[] = ['pvr-sdk', 'ssh', 'pv-ctrl', 'offline']
function toReach(v: string | null): DeviceReach | null {
  return REACHES.find(r => r === v) ?? null
}

function toInstall(r: InstallDbRow): InstallRow {
  return {
    id: r.id,
    deviceId: r.device_id,
    address: r.address,
    via: r.via,
    revisionId: r.revision_id,
    revisionName: r.revision_name,
    step: r.step,
    status: r.status,
    statusMsg: r.status_msg,
    errorCode: r.error_code,
    bytesSent: r.bytes_sent,
    objectsSent: r.objects_sent,
    startedAt: r.started_at,
    endedAt: r.ended_at,
  }
}

/**
 * A device added by address tells no nick over pvr-sdk: discovery calls it by
 * its host, which says nothing about which of the devices there it is. Such a
 * name is no name (the id, host:port, is shown instead).
 */
function bareAddressName(name: string | null, source: string, addrs: string[]): string | null {
  return name !== null && source === 'manual' && addrs.includes(name) ? null : name
}

/** Devices with their labels (aliases and tags are in tables of their own, migration 006). */
const SELECT_DEVICES = `SELECT d.*, a.alias AS alias, (SELECT group_concat(tag, char(10)) FROM device_tags t WHERE t.device_id = d.device_id) AS tags
  FROM devices d LEFT JOIN device_aliases a ON a.device_id = d.device_id`

export class DeviceStore {
  constructor(private readonly db: Db) {
    // A library created before migration 003 had content has user_version past
    // it with no tables: the schema is idempotent, so make sure it is there.
    const have = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('devices', 'device_installs')").get() as { n: number }
    if (have.n < 2) db.exec(devicesSchema)
    this.ensureOwnerColumns()
    this.markInterrupted()
  }

  /**
   * Which process runs an install: its pid and start (process-identity.ts),
   * so that a later run can tell an install going on in another process from
   * one whose process was killed. Added here, idempotently, like the tables
   * above (a numbered migration belongs to main/store/migrations).
   */
  private ensureOwnerColumns(): void {
    const cols = new Set((this.db.prepare('PRAGMA table_info(device_installs)').all() as Array<{ name: string }>).map(c => c.name))
    if (!cols.has('owner_pid')) this.db.exec('ALTER TABLE device_installs ADD COLUMN owner_pid INTEGER')
    if (!cols.has('owner_start')) this.db.exec('ALTER TABLE device_installs ADD COLUMN owner_start TEXT')
    // What answered when a device was added by address (probe.ts): 'offline' for one added though nothing did.
    const dcols = new Set((this.db.prepare('PRAGMA table_info(devices)').all() as Array<{ name: string }>).map(c => c.name))
    if (!dcols.has('reach')) this.db.exec('ALTER TABLE devices ADD COLUMN reach TEXT')
  }

  /**
   * An install still STARTED whose process is gone (killed with -9, a power
   * cut) never ends by itself: INTERRUPTED, saying so. An install of a live
   * process (another CLI run, the app) is left alone. What the device did
   * with the step is unknown: the message says how to find out.
   */
  private markInterrupted(): void {
    const rows = this.db.prepare("SELECT id, owner_pid, owner_start FROM device_installs WHERE status = 'STARTED'").all() as Array<{
      id: number
      owner_pid: number | null
      owner_start: string | null
    }>
    const dead = rows.filter(r => !processAlive(r.owner_pid, r.owner_start))
    if (dead.length === 0) return
    const mark = this.db.prepare("UPDATE device_installs SET status = 'INTERRUPTED', status_msg = ? WHERE id = ? AND status = 'STARTED'")
    this.db.transaction(() => {
      for (const r of dead) {
        const who = r.owner_pid === null ? 'the fieldsync process' : `the fieldsync process (pid ${r.owner_pid})`
        mark.run(
          `${who} ended before the install finished (killed, or the laptop went down); the device may hold or run the step: install again, or look at the device`,
          r.id,
        )
      }
    })()
  }

  /** Insert or update a device; null fields keep what was known. */
  upsert(d: SeenDevice): void {
    this.db
      .prepare(
        `INSERT INTO devices (device_id, name, addrs, port, claimed, pvr_sdk, revision, status, source, last_seen, reach)
      VALUES (@device_id, @name, @addrs, @port, @claimed, @pvr_sdk, @revision, @status, @source, @last_seen, @reach)
      ON CONFLICT(device_id) DO UPDATE SET
        name = coalesce(excluded.name, devices.name), addrs = excluded.addrs, port = coalesce(excluded.port, devices.port),
        claimed = coalesce(excluded.claimed, devices.claimed), pvr_sdk = excluded.pvr_sdk, revision = coalesce(excluded.revision, devices.revision),
        status = coalesce(excluded.status, devices.status), source = CASE WHEN devices.source = 'mdns' THEN 'mdns' ELSE excluded.source END,
        last_seen = excluded.last_seen, reach = coalesce(excluded.reach, devices.reach)`,
      )
      .run({
        device_id: d.deviceId,
        name: bareAddressName(d.name, d.source, d.addrs),
        addrs: JSON.stringify(d.addrs),
        port: d.port,
        claimed: d.claimed === null ? null : d.claimed ? 1 : 0,
        pvr_sdk: d.pvrSdk ? 1 : 0,
        revision: d.revision,
        status: d.status,
        source: d.source,
        last_seen: d.lastSeen ?? Date.now(),
        reach: d.reach ?? null,
      })
  }

  get(deviceId: string): DeviceRecord | undefined {
    const r = this.db.prepare(`${SELECT_DEVICES} WHERE d.device_id = ?`).get(deviceId) as DeviceDbRow | undefined
    return r === undefined ? undefined : toDevice(r)
  }

  /** By id, alias, id prefix (8+), nick, or an address it was seen at. */
  find(ref: string): DeviceRecord[] {
    const all = this.list()
    const exact = all.filter(d => d.deviceId === ref || d.alias === ref)
    if (exact.length > 0) return exact
    const byName = all.filter(d => d.name === ref || d.addrs.includes(ref))
    if (byName.length > 0) return byName
    return ref.length >= 8 ? all.filter(d => d.deviceId.startsWith(ref)) : []
  }

  list(): DeviceRecord[] {
    return (this.db.prepare(`${SELECT_DEVICES} ORDER BY d.last_seen DESC, d.device_id`).all() as DeviceDbRow[]).map(toDevice)
  }

  /** Give a device an alias (null: remove it). An alias another device has is a UsageError naming that device. */
  setAlias(deviceId: string, alias: string | null): void {
    if (alias === null) {
      this.db.prepare('DELETE FROM device_aliases WHERE device_id = ?').run(deviceId)
      return
    }
    checkLabel('alias', alias)
    const other = this.db.prepare('SELECT device_id FROM device_aliases WHERE alias = ? AND device_id <> ?').get(alias, deviceId) as
      { device_id: string } | undefined
    if (other !== undefined) throw new UsageError(`alias ${alias} is already device ${other.device_id}'s: rename that one first`)
    this.db
      .prepare('INSERT INTO device_aliases (device_id, alias) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET alias = excluded.alias')
      .run(deviceId, alias)
  }

  /** Add (or with `remove`, take away) tags; returns the device's tags after. */
  tag(deviceId: string, tags: string[], remove = false): string[] {
    for (const t of tags) checkLabel('tag', t)
    const st = remove
      ? this.db.prepare('DELETE FROM device_tags WHERE device_id = ? AND tag = ?')
      : this.db.prepare('INSERT OR IGNORE INTO device_tags (device_id, tag) VALUES (?, ?)')
    this.db.transaction(() => {
      for (const t of tags) st.run(deviceId, t)
    })()
    return (this.db.prepare('SELECT tag FROM device_tags WHERE device_id = ? ORDER BY tag').all(deviceId) as Array<{ tag: string }>).map(r => r.tag)
  }

  /**
   * Forget a device: it leaves the list with its alias, tags and SSH login. Its install
   * history stays (what was installed where is the site's record); discovery
   * or an address brings the device back.
   */
  forget(deviceId: string): boolean {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM device_aliases WHERE device_id = ?').run(deviceId)
      this.db.prepare('DELETE FROM device_tags WHERE device_id = ?').run(deviceId)
      this.db.prepare('DELETE FROM device_ssh WHERE device_id = ?').run(deviceId)
      return this.db.prepare('DELETE FROM devices WHERE device_id = ?').run(deviceId).changes > 0
    })()
  }

  /** What is known of a device's SSH login (migration 007). */
  sshLogin(deviceId: string): SshLoginMemory {
    const r = this.db.prepare('SELECT container, mgmt, mgmt_revision FROM device_ssh WHERE device_id = ?').get(deviceId) as
      { container: string | null; mgmt: string | null; mgmt_revision: string | null } | undefined
    let mgmt: string[] | null = null
    try {
      mgmt = r?.mgmt == null ? null : (JSON.parse(r.mgmt) as unknown[]).filter((x): x is string => typeof x === 'string')
    } catch {
      mgmt = null
    }
    return { container: r?.container ?? null, mgmt, mgmtRevision: r?.mgmt_revision ?? null }
  }

  /** Remember the technician's choice of SSH container (null: forget it). */
  setSshContainer(deviceId: string, container: string | null): void {
    if (container !== null && !CONTAINER_RE.test(container))
      throw new UsageError(`SSH container ${JSON.stringify(container)}: a container name (letters, digits, . _ @ -), such as pvr-sdk`)
    this.db
      .prepare(
        `INSERT INTO device_ssh (device_id, container, updated_at) VALUES (?, ?, ?)
      ON CONFLICT(device_id) DO UPDATE SET container = excluded.container, updated_at = excluded.updated_at`,
      )
      .run(deviceId, container, Date.now())
  }

  /** Remember the management containers of the state a device runs (revision `rev`). */
  setSshMgmt(deviceId: string, mgmt: string[], rev: string | null): void {
    this.db
      .prepare(
        `INSERT INTO device_ssh (device_id, mgmt, mgmt_revision, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(device_id) DO UPDATE SET mgmt = excluded.mgmt, mgmt_revision = excluded.mgmt_revision, updated_at = excluded.updated_at`,
      )
      .run(deviceId, JSON.stringify(mgmt), rev, Date.now())
  }

  startInstall(r: { deviceId: string; address: string; via: string; revisionId: string; revisionName: string | null; step: string | null }): number {
    const res = this.db
      .prepare(
        `INSERT INTO device_installs (device_id, address, via, revision_id, revision_name, step, status, started_at, owner_pid, owner_start)
      VALUES (?, ?, ?, ?, ?, ?, 'STARTED', ?, ?, ?)`,
      )
      .run(r.deviceId, r.address, r.via, r.revisionId, r.revisionName, r.step, Date.now(), process.pid, processIdentity(process.pid))
    return Number(res.lastInsertRowid)
  }

  /**
   * What an install in progress has sent so far (written at most once a
   * second by the installer), so that an install cut off by a kill -9 still
   * tells what reached the device.
   */
  noteSent(id: number, r: { bytesSent: number; objectsSent: number }): void {
    this.db.prepare("UPDATE device_installs SET bytes_sent = ?, objects_sent = ? WHERE id = ? AND status = 'STARTED'").run(r.bytesSent, r.objectsSent, id)
  }

  endInstall(id: number, r: { status: string; statusMsg: string | null; errorCode: string | null; bytesSent: number; objectsSent: number }): void {
    this.db
      .prepare(`UPDATE device_installs SET status = ?, status_msg = ?, error_code = ?, bytes_sent = ?, objects_sent = ?, ended_at = ? WHERE id = ?`)
      .run(r.status, r.statusMsg, r.errorCode, r.bytesSent, r.objectsSent, Date.now(), id)
  }

  /**
   * An install that happened elsewhere (install.sh from a USB stick, read
   * back from its receipt): one finished row, once. The same receipt
   * imported again finds its row (same device, via, step and start) and adds
   * nothing. Returns the row's id and whether it was added now.
   */
  recordFinishedInstall(
    r: Pick<InstallRow, 'deviceId' | 'address' | 'via' | 'revisionId' | 'revisionName' | 'step' | 'status' | 'statusMsg' | 'startedAt'> & { endedAt: number },
  ): { id: number; added: boolean } {
    return this.db.transaction(() => {
      const had = this.db
        .prepare('SELECT id FROM device_installs WHERE device_id = ? AND via = ? AND step IS ? AND started_at = ? AND revision_id = ?')
        .get(r.deviceId, r.via, r.step, r.startedAt, r.revisionId) as { id: number } | undefined
      if (had !== undefined) return { id: had.id, added: false }
      const res = this.db
        .prepare(
          `INSERT INTO device_installs (device_id, address, via, revision_id, revision_name, step, status, status_msg, error_code, bytes_sent, objects_sent, started_at, ended_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?)`,
        )
        .run(r.deviceId, r.address, r.via, r.revisionId, r.revisionName, r.step, r.status, r.statusMsg, r.startedAt, r.endedAt)
      return { id: Number(res.lastInsertRowid), added: true }
    })()
  }

  /** Device ids with an install history that start with `prefix`. */
  historyIds(prefix: string): string[] {
    return (
      this.db
        .prepare('SELECT DISTINCT device_id FROM device_installs WHERE substr(device_id, 1, length(?)) = ? ORDER BY device_id')
        .all(prefix, prefix) as Array<{ device_id: string }>
    ).map(r => r.device_id)
  }

  /** The step a device chose itself (pvr-sdk names the local revision of a post). */
  renameInstallStep(id: number, step: string): void {
    this.db.prepare('UPDATE device_installs SET step = ? WHERE id = ?').run(step, id)
  }

  install(id: number): InstallRow | undefined {
    const r = this.db.prepare('SELECT * FROM device_installs WHERE id = ?').get(id) as InstallDbRow | undefined
    return r === undefined ? undefined : toInstall(r)
  }

  installs(deviceId: string, limit = 100): InstallRow[] {
    return (
      this.db.prepare('SELECT * FROM device_installs WHERE device_id = ? ORDER BY started_at DESC, id DESC LIMIT ?').all(deviceId, limit) as InstallDbRow[]
    ).map(toInstall)
  }

  /** Recent upload rate to a device (bytes/s), from its finished installs; null without history. */
  recentRate(deviceId: string): number | null {
    const rows = this.db
      .prepare(
        `SELECT bytes_sent, started_at, ended_at FROM device_installs
      WHERE device_id = ? AND ended_at IS NOT NULL AND bytes_sent > 1000000 ORDER BY started_at DESC LIMIT 5`,
      )
      .all(deviceId) as Array<{ bytes_sent: number; started_at: number; ended_at: number }>
    const rates = rows.map(r => r.bytes_sent / Math.max(0.001, (r.ended_at - r.started_at) / 1000))
    return rates.length === 0 ? null : rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]
  }
}
