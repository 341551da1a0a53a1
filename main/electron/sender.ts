/** Which IPC callers may use the API: our window's top frame, showing our own pages. No Electron import (tests load it). */
export const APP_ORIGIN = 'app://fieldsync'

interface FrameLike {
  url: string
}
interface SenderEvent {
  senderFrame: FrameLike | null | undefined
  sender: unknown
}
interface WindowLike {
  webContents: { mainFrame: unknown }
}

export function trustedSender(event: SenderEvent, window: WindowLike): boolean {
  const frame = event.senderFrame
  if (frame === null || frame === undefined) return false
  if (event.sender !== window.webContents) return false
  if (frame !== window.webContents.mainFrame) return false
  return frame.url.startsWith(`${APP_ORIGIN}/`)
}
