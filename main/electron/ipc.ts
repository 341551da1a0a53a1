/**
 * The IPC binding: one invoke channel carrying the contract's channels, one
 * event channel. Every call is checked for its sender (our window's main
 * frame, on our scheme) before ApiCore validates its argument and runs it.
 */
import { ipcMain, type BrowserWindow } from 'electron'
import { IPC_EVENT, IPC_INVOKE, type Envelope } from '../../shared/api/contract.js'
import { ErrorCodes } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import type { ApiCore } from '../app/handlers/index.js'
import { trustedSender } from './sender.js'

export function bindIpc(components: { core: ApiCore; window: BrowserWindow; log: Logger }): () => void {
  ipcMain.handle(IPC_INVOKE, async (event, channel: unknown, req: unknown): Promise<Envelope<unknown>> => {
    if (!trustedSender(event, components.window)) {
      components.log.error('refused an IPC call from %s', event.senderFrame?.url ?? 'an unknown frame')
      return { ok: false, error: { code: ErrorCodes.Forbidden, message: 'this frame may not call the Fieldsync API' } }
    }
    return await components.core.dispatch(channel, req)
  })
  const off = components.core.events.onAny((event, payload) => {
    if (!components.window.isDestroyed()) components.window.webContents.send(IPC_EVENT, event, payload)
  })
  return () => {
    off()
    ipcMain.removeHandler(IPC_INVOKE)
  }
}
