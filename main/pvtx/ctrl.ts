/**
 * What pvtx needs from the device's pv-ctrl, and where it finds the socket:
 * the three places upstream pvtx tries, in its order
 * (pvtx_ctrl.c: /run/pantavisor/pv/pv-ctrl, /pv/pv-ctrl, /pantavisor/pv-ctrl),
 * unless `--socket` or PVTX_CTRL_SOCKET name another one (a relay, the
 * device simulator; upstream has no such setting).
 */
import { access } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { DeviceUnreachableError } from '../../shared/errors.js'
import type { PvCtrlSocketDriver } from '../devices/drivers/pvctrl.js'

export const CTRL_SOCKETS = ['/run/pantavisor/pv/pv-ctrl', '/pv/pv-ctrl', '/pantavisor/pv-ctrl'] as const
export const CTRL_SOCKET_ENV = 'PVTX_CTRL_SOCKET'

export interface PvtxCtrl {
  /** GET /steps/<rev>: the state's raw bytes. */
  getStep: (rev: string, signal?: AbortSignal) => Promise<Uint8Array>
  /** PUT /steps/<rev>. */
  putStep: (rev: string, state: Uint8Array, signal?: AbortSignal) => Promise<void>
  /** GET /objects: the shas the device holds. */
  listObjects: (signal?: AbortSignal) => Promise<Set<string>>
  /** PUT /objects/<sha> with exactly `size` bytes. */
  putObject: (sha: string, size: number, body: AsyncIterable<Uint8Array>, signal?: AbortSignal) => Promise<void>
  /** POST /commands LOCAL_RUN of a `locals/` revision. */
  run: (rev: string, signal?: AbortSignal) => Promise<void>
}

/** The socket to use: the one named, else the first of upstream's places that exists. */
export async function findCtrlSocket(named?: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const explicit = named ?? (env[CTRL_SOCKET_ENV] !== undefined && env[CTRL_SOCKET_ENV] !== '' ? env[CTRL_SOCKET_ENV] : undefined)
  if (explicit !== undefined) return explicit
  for (const p of CTRL_SOCKETS) {
    try {
      await access(p)
      return p
    } catch {
      /* next */
    }
  }
  throw new DeviceUnreachableError(
    `pv-ctrl socket not found (tried ${CTRL_SOCKETS.join(', ')}); run this on the device (in a container with the mgmt role), or name the socket with --socket or ${CTRL_SOCKET_ENV}`,
  )
}

/** pvtx's view of a device through the pv-ctrl driver (main/devices/drivers/pvctrl.ts) on a Unix socket. */
export function socketCtrl(socket: string): PvtxCtrl & { close: () => Promise<void> } {
  let driver: Promise<PvCtrlSocketDriver> | undefined
  const d = async (): Promise<PvCtrlSocketDriver> => await (driver ??= import('../devices/drivers/pvctrl.js').then(m => new m.PvCtrlSocketDriver(socket)))
  const sig = (s?: AbortSignal): AbortSignal => s ?? new AbortController().signal
  return {
    getStep: async (rev, signal) => await (await d()).stepState(rev, sig(signal)),
    putStep: async (rev, state, signal) => {
      await (await d()).putStep(rev, state, null, sig(signal))
    },
    listObjects: async signal => new Set((await (await d()).objects(sig(signal))).keys()),
    putObject: async (sha, size, body, signal) => {
      await (await d()).putObject({ sha, size }, () => Readable.from(body), { signal: sig(signal), onBytes: () => {} })
    },
    run: async (rev, signal) => {
      await (await d()).run(rev, false, sig(signal))
    },
    close: async () => {
      if (driver !== undefined) await (await driver).close()
    },
  }
}
