/** usb.*: sticks for devices and for other laptops (main/usb). */
import type { HandlerDeps, HandlerMap } from './context.js'
import { unavailable } from './unavailable.js'

type UsbHandlers = Pick<HandlerMap, 'usb.export' | 'usb.import' | 'usb.inventory'>

const NOT_YET = 'USB sticks are not available in this build yet; use Library > Export to write a tarball to the stick meanwhile'

export function usbHandlers (_d: HandlerDeps): UsbHandlers {
  return {
    'usb.export': unavailable('usb.export', NOT_YET),
    'usb.import': unavailable('usb.import', NOT_YET),
    'usb.inventory': unavailable('usb.inventory', NOT_YET),
  }
}
