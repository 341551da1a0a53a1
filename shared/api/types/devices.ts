/** Devices: discovery, install plans, results, history and progress. */

/**
 * A step's status as the device reports it (pv-ctrl), plus two that
 * Fieldsync concludes where the connection cannot read the device's own
 * progress (pvr-sdk): RUNNING, the device has run the revision for a while;
 * NOT_RUNNING, it did not switch to it, or went back (refused or rolled back).
 */
export type InstallStatus = 'NEW' | 'QUEUED' | 'DOWNLOADING' | 'INPROGRESS' | 'TESTING' | 'DONE' | 'UPDATED' | 'ERROR' | 'WONTGO' | 'RUNNING' | 'NOT_RUNNING'

/** Statuses an install ends in. */
export const FINAL_INSTALL_STATUSES: readonly string[] = ['DONE', 'UPDATED', 'ERROR', 'WONTGO', 'RUNNING', 'NOT_RUNNING']

/** An install that ended well: the device runs the revision. */
export function installSucceeded(status: string | null | undefined): boolean {
  return status === 'DONE' || status === 'UPDATED' || status === 'RUNNING'
}

export interface DeviceInfo {
  deviceId: string
  name: string
  addrs: string[]
  port: number | null
  claimed: boolean | null
  /**
   * false: the device advertises an empty device-id (it never registered with
   * Pantahub, the usual case offline) and deviceId is a fingerprint of its nick,
   * address and port; true: deviceId is its Pantahub id; null: added by address.
   */
  registered: boolean | null
  pvrSdk: boolean
  revision: string | null
  status: string | null
  lastSeen: number
  source: 'mdns' | 'manual'
  /** What answered when it was added by address (devices/probe.ts); 'offline': nothing, added anyway. Absent for devices found by mDNS. */
  reach?: DeviceReach | null
  /** The technician's name for it and tags (fieldsync devices rename|tag). */
  alias?: string | null
  tags?: string[]
}

/** What answered at an added device's address: pvr-sdk, an SSH server, a pv-ctrl socket, or nothing ('offline'). */
export type DeviceReach = 'pvr-sdk' | 'ssh' | 'pv-ctrl' | 'offline'

/** How a device is reached: pvr-sdk's HTTP server, pv-ctrl through SSH, or a pv-ctrl Unix socket. */
export type DeviceVia = 'pvr-sdk' | 'ssh' | 'pv-ctrl'
export const DEVICE_VIAS: readonly DeviceVia[] = ['pvr-sdk', 'ssh', 'pv-ctrl']

export interface InstallPlan {
  device: string
  revision: { id: string; name: string }
  via: DeviceVia
  objectsTotal: number
  objectsToSend: number
  bytesToSend: number
  /** Upload and the device's run, in all. */
  estimatedSeconds: number | null
  /** The upload alone (0 when nothing is sent), at this device's recent rate or an assumed LAN rate. */
  uploadSeconds: number
  /** The device's run after the upload (INPROGRESS, TESTING, a reboot): an assumption, the device does not tell. */
  runSeconds: number
  /** The device runs this very revision now (true), another one (false), or the connection cannot tell (null). */
  alreadyRunning: boolean | null
  freeBytes: number | null
  step: string
  /** Reasons the install would be refused (empty when it can go ahead). */
  problems: string[]
  /** What this connection cannot check or tell, said before anything is sent. */
  notes: string[]
  /** `package`: composed onto what the device runs (a revision without a BSP); `state`: the device's whole state. */
  as: 'package' | 'state'
  /** For a package: what composing it onto the device's running state changes. */
  composition: InstallComposition | null
  /** Whether this connection can commit (LOCAL_RUN_COMMIT: run, reboot, keep as a rollback point): ssh and pv-ctrl can, pvr-sdk cannot. */
  commit: { possible: boolean; reason: string }
  /** Over SSH: the container logged in as, why that one, and the device's host key. */
  ssh?: PlanSsh | null
}

/**
 * How to log in over SSH, from the install form: the container to enter (on
 * a Pantavisor device the login name; default: what the device is known to
 * want, remembered per device), a private key file, a password, or the
 * ssh-agent of the app's environment; the port (default 8222).
 */
export interface SshCredentials {
  container?: string
  keyFile?: string
  password?: string
  agent?: boolean
  port?: number
}

/** The SSH side of a plan: the login (on a Pantavisor device, the container entered) and the host key pinned on first use. */
export interface PlanSsh {
  container: string
  /** flag: given for this install; state: the device's state gives it the management role; setting: remembered for this device; default: pvr-sdk. */
  source: 'flag' | 'state' | 'setting' | 'default'
  /** The container the next login to this device will use (differs when the state the device runs says otherwise). */
  next: string
  hostKey: { type: string; fingerprint: string; pinned: 'new' | 'known' } | null
}

/** Which connections can commit, said in the plan before anything is sent. */
export function commitAbility(via: DeviceVia): { possible: boolean; reason: string } {
  return via === 'pvr-sdk'
    ? { possible: false, reason: 'pvr-sdk runs what it is sent and cannot commit (LOCAL_RUN_COMMIT); SSH or a pv-ctrl socket can' }
    : {
        possible: true,
        reason: `${via === 'ssh' ? 'SSH' : 'pv-ctrl'} can commit: LOCAL_RUN_COMMIT runs the revision, reboots into it and keeps it as a rollback point`,
      }
}

/** A package composed onto the state a device runs, as pvtx does on the device. */
export interface InstallComposition {
  /** Revision id (sha256 of the canonical state JSON) of what the device ran, and of the composed state it gets. */
  onto: string
  result: string
  /** False when the device runs every part of the package as it is already. */
  changed: boolean
  /** Parts (a signature's name, a container, a top-level file) the package adds, replaces, removes (by replacing a part's signature), or leaves as they were. */
  parts: { added: string[]; replaced: string[]; removed: string[]; unchanged: string[] }
  /** The composed state's signature verdict as the device would give it (null: no trust store to judge with). */
  signature: { pass: boolean; summary: string; device: string | null; broken: Array<{ key: string; message: string }> } | null
  warnings: string[]
}

export interface InstallResult {
  device: string
  revision: string
  step: string
  status: InstallStatus
  statusMsg: string
  bytesSent: number
  objectsSent: number
  /** The whole install, upload and the device's run. */
  seconds: number
  /** The upload alone (0 when nothing was sent): rates are bytesSent over this, never over `seconds`. */
  uploadSeconds: number
}

export interface InstallRecord {
  device: string
  revision: string
  revisionName: string | null
  step: string | null
  status: string
  statusMsg: string | null
  bytesSent: number
  startedAt: number
  endedAt: number | null
}

export interface InstallProgress {
  transferId: string
  device: string
  phase: 'preflight' | 'upload' | 'step' | 'run' | 'progress' | 'final'
  status: InstallStatus | null
  statusMsg: string | null
  /** The device's own progress, 0-100. */
  progress: number | null
}
