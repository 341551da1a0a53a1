/**
 * devices.detail|rename|tag|forget: a device's page (asked live: what it
 * runs, free storage, architecture, model) and the technician's labels,
 * in the same device store as `fieldsync devices rename|tag|untag|forget`.
 */
import type { DeviceDetail, DeviceSsh } from '../../../shared/api/fleet.js'
import type { DeviceInfo } from '../../../shared/api/types.js'
import { NotAvailableError, NotFoundError, toWireError } from '../../../shared/errors.js'
import { withDeadline } from '../../../shared/deadline.js'
import { chooseSshLogin, historyDevice, mgmtContainers, type DeviceStore } from '../../devices/index.js'
import { stateIdOf } from '../../devices/rollout/index.js'
import type { HandlerDeps, HandlerMap } from './context.js'
import { toApi, type DeviceService } from './devices.js'

type FleetHandlers = Pick<HandlerMap, 'devices.detail' | 'devices.rename' | 'devices.tag' | 'devices.forget' | 'devices.setSsh'>

const ASK_MS = 5000

function sshOf(store: DeviceStore, id: string): DeviceSsh {
  const m = store.sshLogin(id)
  return { container: m.container, mgmt: m.mgmt, next: chooseSshLogin({ remembered: m.container, mgmt: m.mgmt }) }
}

/** The state's top-level object, or null when it is not JSON (the device's answer: not trusted). */
function parsedState(raw: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(raw).toString('utf8')) as unknown
  } catch {
    return null
  }
}

export function fleetHandlers(deps: HandlerDeps): FleetHandlers {
  const svc = (): DeviceService => {
    const s = deps.devices()
    if (s === undefined) throw new NotAvailableError('devices are not available in this window (start it with `fieldsync ui`, or the desktop app)')
    return s
  }
  /** A stored device (labels belong to devices the list shows). */
  const known = (s: DeviceService, ref: string): string => {
    const res = s.resolve(ref)
    if (res.record === undefined) throw new NotFoundError(`device ${ref}: not in the device list; add it by its address first`)
    return res.deviceId
  }
  const info = (s: DeviceService, id: string): DeviceInfo => {
    const rec = s.store.get(id)
    if (rec === undefined) throw new NotFoundError(`device ${id}: not in the device list`)
    const api = toApi(rec)
    deps.events.emit('device', { device: api })
    return api
  }

  return {
    async 'devices.detail'({ device }, ctx) {
      const s = svc()
      const res = s.resolve(device)
      const steps = [
        ...new Set(
          s.store
            .installs(historyDevice(s.store, device).deviceId)
            .map(i => i.step)
            .filter((x): x is string => x !== null),
        ),
      ]
      const out: DeviceDetail = {
        deviceId: res.deviceId,
        step: res.record?.revision ?? null,
        status: res.record?.status ?? null,
        mode: null,
        version: null,
        arch: null,
        model: null,
        freeBytes: null,
        runs: null,
        steps,
        error: null,
        readAt: Date.now(),
        ssh: sshOf(s.store, res.deviceId),
      }
      try {
        await withDeadline(ctx.signal ?? new AbortController().signal, ASK_MS, async signal => {
          const drv = s.driver(res, undefined)
          await drv.open(signal)
          try {
            const m = await drv.meta(signal)
            Object.assign(out, {
              step: m.revision,
              status: m.status,
              mode: m.mode,
              version: m.version,
              arch: m.arch,
              model: m.model ?? null,
              freeBytes: m.freeBytes,
            })
            const raw = drv.stepState === undefined ? null : await drv.stepState('current', signal).catch(() => null)
            if (raw !== null) {
              const id = stateIdOf(raw)
              // The state it runs says which containers have the management role: the SSH login to use, known before any SSH login.
              const state = parsedState(raw)
              if (state !== null) s.store.setSshMgmt(res.deviceId, mgmtContainers(state), id)
              try {
                out.runs = { id, name: deps.app.library.resolve(id).name }
              } catch {
                /* not a revision this laptop carries */
              }
            }
          } finally {
            await drv.close()
          }
        })
      } catch (err) {
        const w = toWireError(err)
        out.error = { code: w.code, message: w.message }
      }
      out.readAt = Date.now()
      out.ssh = sshOf(s.store, res.deviceId)
      return out
    },

    async 'devices.setSsh'({ device, container }) {
      const s = svc()
      const id = known(s, device)
      s.store.setSshContainer(id, container === '' ? null : container)
      return sshOf(s.store, id)
    },

    async 'devices.rename'({ device, alias }) {
      const s = svc()
      const id = known(s, device)
      s.store.setAlias(id, alias === '' ? null : alias)
      return info(s, id)
    },

    async 'devices.tag'({ devices, tags, remove }) {
      const s = svc()
      const ids = devices.map(ref => known(s, ref))
      for (const id of ids) s.store.tag(id, tags, remove === true)
      return ids.map(id => info(s, id))
    },

    async 'devices.forget'({ devices }) {
      const s = svc()
      const ids = devices.map(ref => known(s, ref))
      let n = 0
      for (const id of ids) {
        const rec = s.store.get(id)
        if (rec === undefined || !s.store.forget(id)) continue
        n++
        deps.events.emit('device', { device: toApi(rec), gone: true })
      }
      return { forgotten: n }
    },
  }
}
