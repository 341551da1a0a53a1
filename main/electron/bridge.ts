/**
 * What the preload exposes as `window.fieldsync`: exactly the contract (one
 * method per channel, `on` for events) plus the host helpers, built by the
 * pure `buildApi`. No Electron import here, so a unit test can load it with
 * a stand-in for ipcRenderer.
 */
import { buildApi, type Listener, type RawApi } from '../../shared/api/client.js'
import { IPC_EVENT, IPC_INVOKE, isEventName, type Channel, type Envelope, type EventName } from '../../shared/api/contract.js'

/** The part of Electron's ipcRenderer the bridge uses. */
export interface IpcLike {
  invoke: (channel: string, ...args: unknown[]) => Promise<unknown>
  on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => unknown
}

export interface WebUtilsLike {
  getPathForFile: (file: never) => string
}

export function createBridge(ipc: IpcLike, webUtils?: WebUtilsLike): RawApi {
  const listeners = new Map<EventName, Set<(p: unknown) => void>>()
  ipc.on(IPC_EVENT, (_event, name, payload) => {
    if (!isEventName(name)) return
    for (const fn of listeners.get(name) ?? []) {
      try {
        fn(payload)
      } catch {
        /* a listener's failure is its own */
      }
    }
  })
  const invoke = async (channel: Channel, req: unknown): Promise<Envelope<unknown>> => (await ipc.invoke(IPC_INVOKE, channel, req)) as Envelope<unknown>
  const subscribe = <E extends EventName>(event: E, fn: Listener<E>): (() => void) => {
    let set = listeners.get(event)
    if (set === undefined) {
      set = new Set()
      listeners.set(event, set)
    }
    const l = fn as (p: unknown) => void
    set.add(l)
    return () => {
      set.delete(l)
    }
  }
  return buildApi(invoke, subscribe, webUtils === undefined ? undefined : { pathForFile: file => webUtils.getPathForFile(file as never) })
}
