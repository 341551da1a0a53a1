/** devices.*: discovery and installs (main/devices). */
import type { HandlerDeps, HandlerMap } from './context.js'
import { unavailable } from './unavailable.js'

type DeviceHandlers = Pick<HandlerMap, 'devices.list' | 'devices.add' | 'devices.plan' | 'devices.install' | 'devices.history'>

const NOT_YET = 'device discovery and installs are not available in this build yet; use a USB stick export and install.sh meanwhile'

export function deviceHandlers (_d: HandlerDeps): DeviceHandlers {
  return {
    'devices.list': unavailable('devices.list', NOT_YET),
    'devices.add': unavailable('devices.add', NOT_YET),
    'devices.plan': unavailable('devices.plan', NOT_YET),
    'devices.install': unavailable('devices.install', NOT_YET),
    'devices.history': unavailable('devices.history', NOT_YET),
  }
}
