/**
 * Devices: finding Pantavisor devices on the LAN (discovery.ts), reaching
 * them (drivers/), installing revisions onto them (install.ts) and keeping
 * their history (store.ts). The device simulator lives in sim/.
 */
export {
  Discovery,
  parseAddress,
  parseTxt,
  isUnregisteredId,
  unregisteredId,
  orderAddresses,
  splitInstance,
  SSH_TYPE,
  PV_SUBTYPE,
  type BrowseOptions,
} from './discovery.js'
export { Installer, ASSUMED_RATE, ASSUMED_RUN_SECONDS, type InstallEvent, type InstallRequest } from './install.js'
export { DeviceStore, deviceLabel, LABEL_RE, type DeviceRecord, type InstallRow, type SeenDevice } from './store.js'
export { defaultStep, stepFromName, STEP_NAME_MAX } from './names.js'
export { followProgress, runStep, FINAL_STATUSES } from './follow.js'
export { DeviceBusyError, HostKeyMismatchError } from '../../shared/errors.js'
export * from './drivers/index.js'
export {
  DEFAULT_SSH_CONTAINER,
  SOCKET_PREFIX,
  deviceDriver,
  defaultVia,
  historyDevice,
  hostPort,
  looksLikeAddress,
  parseDeviceRef,
  resolveDevice,
  type ConnectOptions,
  type DeviceRef,
  type ResolvedDevice,
} from './address.js'
export { chooseSshLogin, describeLogin, mgmtContainers, CONTAINER_RE, type SshLoginChoice, type SshLoginMemory, type SshLoginSource } from './ssh-login.js'
export { parseSelectors, selectDevices, selectOne, isSelectorList, type Selector } from './selectors.js'
export { probeDevice, sshBanner, pvCtrlAnswers, PROBE_MS, type ProbeResult } from './probe.js'
