/**
 * What answers at an address a technician adds: pvr-sdk's HTTP server
 * (`.pvrremote`), an SSH server (its `SSH-2.0-` banner, RFC 4253 §4.2), or,
 * for `unix:<path>`, a pv-ctrl socket (an HTTP answer to `GET /buildinfo`).
 * All probes run at once under one short deadline and the caller's signal.
 *
 * `host` alone is tried at pvr-sdk's port (12368) and Pantavisor's SSH port
 * (8222); `host:port` at that port only, as either.
 */
import { connect, type Socket } from 'node:net'
import type { DeviceInfo, DeviceReach } from '../../shared/api/types.js'
import { deadline } from '../../shared/deadline.js'
import { DeviceUnreachableError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'
import { hostPort, parseDeviceRef, SOCKET_PREFIX } from './address.js'
import type { Discovery } from './discovery.js'
import { PVR_SDK_PORT } from './drivers/pvr-sdk.js'
import { SSH_DEFAULT_PORT } from './drivers/ssh.js'

export const PROBE_MS = 3000

export interface ProbeResult {
  /** The device as it should be stored. */
  device: DeviceInfo
  /** What answered, for people: `pvr-sdk at 10.0.0.7:12368`, `SSH (SSH-2.0-dropbear) at 10.0.0.7:8222`. */
  answered: string[]
}

/** Read the first line a TCP server sends within the deadline; null when nothing came or the connection failed. */
async function firstLine(open: () => Socket, signal: AbortSignal): Promise<string | null> {
  return await new Promise<string | null>(resolve => {
    const s = open()
    let buf = ''
    const done = (v: string | null): void => {
      signal.removeEventListener('abort', onAbort)
      s.destroy()
      resolve(v)
    }
    const onAbort = (): void => {
      done(null)
    }
    if (signal.aborted) {
      done(null)
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    s.setEncoding('latin1')
    s.on('data', (d: string) => {
      buf += d
      const i = buf.indexOf('\n')
      if (i >= 0 || buf.length > 255) done(buf.slice(0, i >= 0 ? i : 255).replace(/\r$/, ''))
    })
    s.on('error', () => {
      done(null)
    })
    s.on('close', () => {
      done(buf === '' ? null : buf)
    })
  })
}

/** An SSH server's identification string at host:port, or null. */
export async function sshBanner(host: string, port: number, signal: AbortSignal): Promise<string | null> {
  const line = await firstLine(() => connect({ host, port }), signal)
  return line !== null && line.startsWith('SSH-') ? line.slice(0, 80) : null
}

/** Whether an HTTP server answers on a Unix socket (pv-ctrl answers `GET /buildinfo`). */
export async function pvCtrlAnswers(path: string, signal: AbortSignal): Promise<boolean> {
  const line = await firstLine(() => {
    const s = connect({ path })
    s.on('connect', () => {
      s.write('GET /buildinfo HTTP/1.0\r\nHost: localhost\r\n\r\n')
    })
    return s
  }, signal)
  return line !== null && line.startsWith('HTTP/')
}

/**
 * Probe what a technician typed (`host`, `host:port`, `[v6]:port`,
 * `unix:<path>`). Nothing answering is DeviceUnreachableError naming the
 * address and what was tried, unless `offline`: then the device is stored
 * with reach 'offline' (installs try it again when asked).
 */
export async function probeDevice(
  address: string,
  o: { discovery: Discovery; signal: AbortSignal; offline?: boolean; timeoutMs?: number; log?: Logger },
): Promise<ProbeResult> {
  const ref = parseDeviceRef(address)
  if (ref.kind === 'known') throw new DeviceUnreachableError(`${address}: not an address; give host, host:port or unix:<pv-ctrl socket>`, { device: address })
  const ms = o.timeoutMs ?? PROBE_MS
  const d = deadline(o.signal, ms)
  const now = Date.now()
  try {
    if (ref.kind === 'socket') {
      const ok = await pvCtrlAnswers(ref.path, d.signal)
      o.signal.throwIfAborted()
      const id = `${SOCKET_PREFIX}${ref.path}`
      const device: DeviceInfo = {
        deviceId: id,
        name: id,
        addrs: [],
        port: null,
        claimed: null,
        registered: null,
        pvrSdk: false,
        revision: null,
        status: null,
        lastSeen: now,
        source: 'manual',
        reach: ok ? 'pv-ctrl' : 'offline',
      }
      if (!ok && o.offline !== true) throw unreachable(address, [`a pv-ctrl socket at ${ref.path}`], ms)
      return { device, answered: ok ? [`pv-ctrl at ${ref.path}`] : [] }
    }
    const pvrPort = ref.port ?? PVR_SDK_PORT
    const sshPort = ref.port ?? SSH_DEFAULT_PORT
    // An HTTP server sends nothing first: once pvr-sdk answered, stop waiting for a banner at the same port.
    const sshAc = new AbortController()
    const stopSsh = (): void => {
      sshAc.abort()
    }
    d.signal.addEventListener('abort', stopSsh, { once: true })
    const [pvr, banner] = await Promise.all([
      o.discovery.probe(ref.host, pvrPort, ms, d.signal).then(p => {
        if (p.pvrSdk && sshPort === pvrPort) sshAc.abort()
        return p
      }),
      sshBanner(ref.host, sshPort, sshAc.signal),
    ]).finally(() => {
      d.signal.removeEventListener('abort', stopSsh)
    })
    o.signal.throwIfAborted()
    const answered = [
      ...(pvr.pvrSdk ? [`pvr-sdk at ${hostPort(ref.host, pvrPort)}`] : []),
      ...(banner !== null ? [`SSH (${banner}) at ${hostPort(ref.host, sshPort)}`] : []),
    ]
    const reach: DeviceReach = pvr.pvrSdk ? 'pvr-sdk' : banner !== null ? 'ssh' : 'offline'
    if (reach === 'offline' && o.offline !== true) {
      throw unreachable(address, [`pvr-sdk (HTTP) at ${hostPort(ref.host, pvrPort)}`, `SSH at ${hostPort(ref.host, sshPort)}`], ms)
    }
    // An SSH-only answer at host:port is the device's SSH port: keep it for installs over SSH.
    const port = banner !== null && !pvr.pvrSdk ? sshPort : null
    const id = ref.port === null || ref.port === PVR_SDK_PORT ? ref.host : hostPort(ref.host, ref.port)
    const device: DeviceInfo = {
      deviceId: id,
      name: ref.host,
      addrs: [ref.host],
      port,
      claimed: null,
      registered: null,
      pvrSdk: pvr.pvrSdk,
      revision: pvr.revision,
      status: pvr.status,
      lastSeen: now,
      source: 'manual',
      reach,
    }
    return { device, answered }
  } finally {
    d.done()
  }
}

function unreachable(address: string, tried: string[], ms: number): Error {
  return new DeviceUnreachableError(
    `${address}: nothing answered (tried ${tried.join(' and ')}, ${ms / 1000} s at most); to keep it anyway, add it as offline`,
    { device: address, tried },
  )
}
