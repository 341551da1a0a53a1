/** Device drivers: one interface (types.ts), pvr-sdk over HTTP, SSH to a management container. */
export { VIAS, emptyMeta, parseDeviceMeta, parseProgress, parseObjectList, type Via, type DeviceDriver, type DeviceMeta, type ObjectNeed, type StepProgress, type UploadOptions } from './types.js'
export { PvrSdkDriver, pvrBaseUrl, PVR_SDK_PORT, PVR_SDK_PATH, type PvrRemote } from './pvr-sdk.js'
export { SshDriver, SSH_DEFAULT_PORT, type SshOptions } from './ssh.js'
export { KnownDevices, fingerprint, type HostKeyInfo } from './known-devices.js'
export { curlCommand, PVCTRL_SOCKETS } from './pvctrl-shell.js'
