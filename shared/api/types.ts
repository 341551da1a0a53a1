/**
 * The data that crosses the UI <-> main boundary (plain JSON: no classes, no
 * Dates, no Maps). Times are epoch milliseconds; sizes are bytes.
 */
import type { WireError } from '../errors.js'

export type Empty = Record<string, never>

/** What this run of the core can do: a screen shows "not available" for what is false. */
export interface Capabilities {
  peers: boolean
  devices: boolean
  /** The renderer can turn a dropped/picked File into a local path (Electron). */
  filePaths: boolean
  /** The renderer can upload a File's bytes to the core (browser mode). */
  upload: boolean
}

export interface AppInfo {
  version: string
  mode: 'electron' | 'browser'
  home: string
  platform: string
  /** A sensible default folder for exports (the user's Downloads or home). */
  defaultFolder: string
  capabilities: Capabilities
}

/** untrusted: signed, but by a CA (or key) not in the trust store; invalid: changed after signing, or malformed. */
export type SignatureState = 'unsigned' | 'valid' | 'warning' | 'untrusted' | 'invalid'

export interface SignatureStatus {
  state: SignatureState
  /** One line: "signed by pv-developer-01 (Pantavisor Dev CA), all keys covered", "unsigned", "INVALID: ...". */
  summary: string
}

/** A revision as the library knows it (main/store's RevisionInfo). */
export interface RevisionRecord {
  id: string
  /** The most recent name, or the short id when it has none. */
  name: string
  names: string[]
  spec: string
  source: string
  importedAt: number
  complete: boolean
  /** Unique objects the revision references. */
  objects: number
  /** Unique objects not in the store. */
  missing: number
  /** Sum of the known sizes of its unique objects. */
  bytes: number
}

export interface RevisionSummary extends RevisionRecord {
  signature: SignatureStatus
}

export interface LibraryStats {
  revisions: number
  objects: number
  /** Bytes on disk (each object once). */
  storedBytes: number
  /** Sum of the revisions' sizes (what it would take without deduplication). */
  logicalBytes: number
}

export interface LibraryList {
  revisions: RevisionSummary[]
  stats: LibraryStats
}

export interface ObjectDetail {
  key: string
  sha: string
  /** The same name as a CIDv1 (raw, sha2-256), as team peers ask for it. */
  cid: string
  size: number | null
  present: boolean
  /** How many other revisions in the library reference this object. */
  sharedWith: number
}

export interface PartDetail {
  /** "bsp", a container name, or "other". */
  name: string
  kind: 'bsp' | 'container' | 'other'
  /** Sum of the known sizes of its unique objects. */
  bytes: number
  /** Of those, bytes of objects other revisions also use. */
  sharedBytes: number
  objects: ObjectDetail[]
  group?: string
  statusGoal?: string
}

export interface SignatureDetail {
  key: string
  ok: boolean
  /** valid; untrusted (its CA or key is not trusted here); invalid (changed after signing, or malformed). */
  verdict: 'valid' | 'untrusted' | 'invalid'
  /** Leaf certificate CN or pinned key name, with its trust anchor. */
  signer: string | null
  alg: string | null
  message: string | null
  /** Keys the signature covers. */
  covers: string[]
  notes: string[]
}

/** The full verdict, as `fieldsync verify-sig` gives it. */
export interface SignatureReportView {
  policy: string
  pass: boolean
  reason: string | null
  signatures: SignatureDetail[]
  uncovered: string[]
  excluded: string[]
  warnings: string[]
}

export interface RevisionDetail {
  revision: RevisionSummary
  /** null when signature checks are not available. */
  signatureReport: SignatureReportView | null
  parts: PartDetail[]
  /** _sigs/*.json keys. */
  signatures: string[]
  keys: number
  sharedBytes: number
}

export interface DiffEntry {
  key: string
  /** Size of the object the key names (in b for added/changed, in a for removed), when it names one. */
  bytes: number | null
}

export interface RevisionDiff {
  a: { id: string, name: string }
  b: { id: string, name: string }
  added: DiffEntry[]
  removed: DiffEntry[]
  changed: DiffEntry[]
  /** Bytes of the objects b needs that a does not have: what a device running a must receive. */
  transferBytes: number
  transferObjects: number
  unknownSizes: number
}

export interface ImportResult {
  id: string
  name: string | null
  objects: number
  missing: number
  bytes: number
  newBytes: number
  existed: boolean
}

export interface ExportResult {
  file: string
  bytes: number
  objects: number
}

export interface DirEntry { name: string, kind: 'dir' | 'file', size: number | null }

export interface DirListing {
  path: string
  parent: string | null
  entries: DirEntry[]
  /** Mount points that look like removable drives (USB sticks), for quick picks. */
  places: Array<{ label: string, path: string }>
}

// --- transfers --------------------------------------------------------------

export type TransferKind = 'upload' | 'import' | 'export' | 'pull' | 'install' | 'usb-export' | 'usb-import'
export type TransferState = 'running' | 'done' | 'failed' | 'cancelled'

export interface TransferInfo {
  id: string
  kind: TransferKind
  /** e.g. "pull pvwificonnect", "install pvwificonnect on rpi-kitchen". */
  label: string
  state: TransferState
  /** What `bytes`/`totalBytes` count: bytes, or items (objects) when the size is not known up front. */
  unit: 'bytes' | 'items'
  bytes: number
  totalBytes: number | null
  /** Bytes per second over the last few seconds. */
  rate: number
  etaSeconds: number | null
  startedAt: number
  endedAt: number | null
  /**
   * When bytes were moving: from the first progress report to the last one
   * (null before any). An average rate is `bytes` over this span only, never
   * over the whole transfer: an install's device phase (TESTING, a reboot)
   * comes after it, and takes `endedAt - movedUntil`.
   */
  movedFrom: number | null
  movedUntil: number | null
  /** Per-peer share of a pull. */
  peers: Array<{ peer: string, bytes: number }>
  /** Current step in words (e.g. "TESTING: waiting for the containers"). */
  detail: string | null
  cancellable: boolean
  error: WireError | null
}

// --- peers ------------------------------------------------------------------

export interface PeerRevision {
  id: string
  name: string
  names: string[]
  bytes: number
  complete: boolean
  /** 'none': not in our library; 'partial': we have it but incomplete; 'complete'. */
  local: 'none' | 'partial' | 'complete'
}

export interface PeerInfo {
  id: string
  name: string
  addrs: string[]
  team: boolean
  connected: boolean
  lastSeen: number
  revisions: number
  /** Revisions the peer has complete that this laptop lacks or has incomplete. */
  lacking: PeerRevision[]
}

export interface PeersStatus {
  /** no-team: create or join one to start the node; failed: see error. */
  state: 'no-team' | 'starting' | 'running' | 'failed'
  error: WireError | null
  node: { peerId: string, name: string, addrs: string[], mdns: boolean } | null
  team: { joined: boolean, name: string | null }
  peers: PeerInfo[]
}

export interface PullResult {
  id: string
  /** Objects fetched. */
  objects: number
  /** Object bytes received from peers (resumed bytes excluded). */
  bytes: number
  fromPeers: Record<string, number>
  seconds: number
}

// --- devices ----------------------------------------------------------------

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
export function installSucceeded (status: string | null | undefined): boolean {
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
  /** The technician's name for it and tags (fieldsync devices rename|tag). */
  alias?: string | null
  tags?: string[]
}

/** How a device is reached: pvr-sdk's HTTP server, pv-ctrl through SSH, or a pv-ctrl Unix socket. */
export type DeviceVia = 'pvr-sdk' | 'ssh' | 'pv-ctrl'
export const DEVICE_VIAS: readonly DeviceVia[] = ['pvr-sdk', 'ssh', 'pv-ctrl']

export interface InstallPlan {
  device: string
  revision: { id: string, name: string }
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
}

/** A package composed onto the state a device runs, as pvtx does on the device. */
export interface InstallComposition {
  /** Revision id (sha256 of the canonical state JSON) of what the device ran, and of the composed state it gets. */
  onto: string
  result: string
  /** False when the device runs every part of the package as it is already. */
  changed: boolean
  /** Parts (a signature's name, a container, a top-level file) the package adds, replaces, removes (by replacing a part's signature), or leaves as they were. */
  parts: { added: string[], replaced: string[], removed: string[], unchanged: string[] }
  /** The composed state's signature verdict as the device would give it (null: no trust store to judge with). */
  signature: { pass: boolean, summary: string, device: string | null, broken: Array<{ key: string, message: string }> } | null
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

// --- usb --------------------------------------------------------------------

export interface UsbExportResult {
  dir: string
  /** full: every object; device: what one device lacks; peer: what another laptop lacks. */
  mode: 'full' | 'device' | 'peer'
  /** `written: false`: the stick already held exactly these bytes (hashed to make sure); left as they were. */
  revisions: Array<{ name: string, id: string, files: string[], bytes: number, objects: number, included: number, written: boolean }>
  /** Bytes of the tarballs (written and read back, or found on the stick). */
  bytes: number
}

export interface UsbImportResult {
  dir: string
  ok: boolean
  revisions: Array<{ name: string, id: string, status: 'imported' | 'existed' | 'corrupt' | 'failed', error: WireError | null, newObjects: number, newBytes: number, missing: number, complete: boolean }>
  newObjects: number
  newBytes: number
}

export interface UsbInventoryResult { file: string, objects: number, bytes: number }

/** One composition step: add a package (a library revision) or remove a part, as pvtx does. */
export type ComposeOpRequest = { add: string } | { remove: string }

/** What a composition would give, before it is saved (`library.composePreview`). */
export interface ComposePreview {
  base: { id: string, name: string }
  packages: Array<{ id: string, name: string }>
  /** The id the result has, and the revision holding it already, if any. */
  id: string
  existing: { id: string, name: string } | null
  /** Parts: a signature's name, else a container folder, else the key. */
  parts: { added: string[], replaced: string[], removed: string[], unchanged: string[] }
  keys: { added: DiffEntry[], replaced: DiffEntry[], removed: DiffEntry[] }
  steps: Array<{ op: 'add' | 'remove', label: string, addedKeys: number, removedKeys: number }>
  warnings: string[]
  /** What a device's parser would say of the result (errors stop the save). */
  issues: Array<{ key: string, message: string, severity: 'error' | 'warning' }>
  objects: { count: number, missing: number, bytes: number }
  /** What a device running the base needs to move to the result. */
  transfer: { bytes: number, objects: number }
  /** The composed state JSON's size. */
  stateBytes: number
  signature: {
    policy: string
    pass: boolean
    summary: string
    reason: string | null
    /** The device's answer when it refuses the step, e.g. 422 "Secureboot: Signature validation failed". */
    device: string | null
    /** Signatures that verified where they came from and do not in the result. */
    broken: Array<{ key: string, message: string }>
  }
  /** The result's parts, for "Remove part…". */
  resultParts: string[]
}

export interface ComposeSaveResult {
  revision: RevisionSummary
  /** The library had this state already (it gained the name). */
  existed: boolean
}
