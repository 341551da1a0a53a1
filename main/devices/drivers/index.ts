/** Device drivers: one interface (types.ts), pvr-sdk over HTTP, pv-ctrl on a Unix socket or through SSH. */
export {
  VIAS,
  emptyMeta,
  parseDeviceMeta,
  parseProgress,
  parseObjectList,
  type Via,
  type DeviceDriver,
  type DeviceMeta,
  type ObjectNeed,
  type StepProgress,
  type UploadOptions,
} from './types.js'
export { PvrSdkDriver, pvrBaseUrl, PVR_SDK_PORT, PVR_SDK_PATH, type PvrRemote } from './pvr-sdk.js'
export { SshDriver, SshTransport, SSH_DEFAULT_PORT, type SshOptions, type SshLogin } from './ssh.js'
export { PvCtrlDriver, PvCtrlSocketDriver, PvCtrlSocketTransport, type PvCtrlTransport, type PvCtrlRequest, type PvCtrlAnswer } from './pvctrl.js'
export { KnownDevices, fingerprint, type HostKeyInfo } from './known-devices.js'
export { curlCommand, PVCTRL_SOCKETS } from './pvctrl-shell.js'
