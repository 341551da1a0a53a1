/**
 * Builds the API object from the contract: one method per channel, grouped by
 * the part before the dot (`api.library.list()`), plus `on(event, fn)`. The
 * same pure builder runs in Electron's preload (over IPC) and in the
 * renderer in browser mode (over HTTP), so both expose exactly the contract.
 *
 * `buildApi` gives the raw form whose methods resolve to envelopes (errors
 * are data: they survive Electron's contextBridge with their code);
 * `unwrapApi` turns it into methods that resolve to values and throw
 * FieldsyncErrors rebuilt from {code, message}.
 */
import { errorFromWire } from '../errors.js'
import { CHANNELS, isEventName, type ApiEvents, type Channel, type Envelope, type EventName, type Req, type Res } from './contract.js'

type Ns<C extends string> = C extends `${infer N}.${string}` ? N : never
type Method<C extends string> = C extends `${string}.${infer M}` ? M : never
type Args<C extends Channel> = Record<never, never> extends Req<C> ? [req?: Req<C>] : [req: Req<C>]

export type Listener<E extends EventName> = (payload: ApiEvents[E]) => void
export type Subscribe = <E extends EventName>(event: E, fn: Listener<E>) => () => void
export type Invoke = (channel: Channel, req: unknown) => Promise<Envelope<unknown>>

/** Helpers the host offers beside the channels (Electron only): listed here so tests can hold the preload to them. */
export interface HostHelpers {
  /** The local path of a File the user picked or dropped (Electron's webUtils.getPathForFile). */
  pathForFile: (file: unknown) => string
}
export const HOST_HELPERS: ReadonlyArray<keyof HostHelpers> = ['pathForFile']

export type RawApi = {
  [N in Ns<Channel>]: { [C in Channel as C extends `${N}.${string}` ? Method<C> : never]: (...args: Args<C>) => Promise<Envelope<Res<C>>> }
} & { on: Subscribe; host?: HostHelpers }

export type FieldsyncApi = {
  [N in Ns<Channel>]: { [C in Channel as C extends `${N}.${string}` ? Method<C> : never]: (...args: Args<C>) => Promise<Res<C>> }
} & { on: Subscribe; host?: HostHelpers }

function splitChannel(c: Channel): [string, string] {
  const i = c.indexOf('.')
  return [c.slice(0, i), c.slice(i + 1)]
}

export function buildApi(invoke: Invoke, subscribe: Subscribe, host?: HostHelpers): RawApi {
  const api: Record<string, unknown> = {}
  for (const c of CHANNELS) {
    const [ns, m] = splitChannel(c)
    const group = (api[ns] ??= {}) as Record<string, unknown>
    group[m] = (req?: unknown) => invoke(c, req ?? {})
  }
  api.on = (event: unknown, fn: unknown) => {
    if (!isEventName(event)) throw new TypeError(`unknown event ${String(event)}`)
    if (typeof fn !== 'function') throw new TypeError('a listener must be a function')
    return subscribe(event, fn as Listener<typeof event>)
  }
  if (host !== undefined) api.host = { pathForFile: (file: unknown) => host.pathForFile(file) }
  return api as RawApi
}

export function unwrapApi(raw: RawApi): FieldsyncApi {
  const api: Record<string, unknown> = {}
  const src = raw as unknown as Record<string, Record<string, (req?: unknown) => Promise<Envelope<unknown>>>>
  for (const c of CHANNELS) {
    const [ns, m] = splitChannel(c)
    const group = (api[ns] ??= {}) as Record<string, unknown>
    group[m] = async (req?: unknown) => {
      const env = await src[ns][m](req)
      if (env.ok) return env.value
      throw errorFromWire(env.error)
    }
  }
  api.on = raw.on
  if (raw.host !== undefined) api.host = raw.host
  return api as FieldsyncApi
}
