/**
 * Finding devices: browse mDNS for `_ssh._tcp` and `_pantavisor._sub._ssh._tcp`
 * as pv-avahi publishes them, read the TXT records (device-id, challenge =
 * unclaimed, pantahub), keep entries with a device-id (as `pvr device scan`
 * does), and probe each address for pvr-sdk (`.pvrremote` on port 12368,
 * short timeout); devices are reported as they answer. Devices named by
 * address (multicast is often blocked on site networks) are probed the same
 * way. Browsing sends multicast: never run it on a real LAN from a test.
 */
import makeMdns from 'multicast-dns'
import type { DeviceInfo } from '../../shared/api/types.js'
import type { Logger } from '../../shared/log.js'
import { HttpClient } from './drivers/http.js'
import { pvrBaseUrl, PVR_SDK_PORT, type PvrRemote } from './drivers/pvr-sdk.js'
import { parseDeviceMeta } from './drivers/types.js'

export const SSH_TYPE = '_ssh._tcp.local'
export const PV_SUBTYPE = '_pantavisor._sub._ssh._tcp.local'

export interface BrowseOptions {
  /** The mDNS window (ms). */
  timeoutMs: number
  /** Per-address pvr-sdk probe timeout (ms). */
  probeTimeoutMs?: number
  /** Devices named by address: `host` or `host:port` (the pvr-sdk port). */
  addresses?: string[]
  mdns?: boolean
  signal: AbortSignal
  onDevice?: (d: DeviceInfo) => void
}

interface Instance { name: string, port: number | null, target: string | null, txt: Map<string, string> | null, addrs: Set<string>, probed: boolean }

/** host[:port], [v6]:port. */
export function parseAddress (s: string, defPort: number): { host: string, port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (v6 !== null) return { host: v6[1], port: v6[2] === undefined ? defPort : Number(v6[2]) }
  const m = /^([^:]+)(?::(\d+))?$/.exec(s)
  if (m === null) return { host: s, port: defPort }
  return { host: m[1], port: m[2] === undefined ? defPort : Number(m[2]) }
}

export function parseTxt (data: unknown): Map<string, string> {
  const out = new Map<string, string>()
  const list = Array.isArray(data) ? data : [data]
  for (const d of list) {
    const s = Buffer.isBuffer(d) ? d.toString('utf8') : String(d)
    const i = s.indexOf('=')
    if (i > 0) out.set(s.slice(0, i).toLowerCase(), s.slice(i + 1))
  }
  return out
}

export class Discovery {
  private readonly log: Logger

  constructor (components: { log: Logger }) {
    this.log = components.log.child('discovery')
  }

  /** Probe one address for pvr-sdk; with device-meta when it offers it. */
  async probe (host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<{ pvrSdk: boolean, revision: string | null, status: string | null }> {
    const http = new HttpClient(`pvr-sdk at ${host}:${port}`)
    const base = pvrBaseUrl(host, port)
    try {
      const a = await http.call({ method: 'GET', url: `${base}/.pvrremote`, signal, timeoutMs })
      if (a.status !== 200) return { pvrSdk: false, revision: null, status: null }
      const r = JSON.parse(a.body.toString('utf8')) as PvrRemote
      if (typeof r?.['objects-endpoint'] !== 'string') return { pvrSdk: false, revision: null, status: null }
      const metaUrl = r['device-meta-url']
      if (typeof metaUrl !== 'string') return { pvrSdk: true, revision: null, status: null }
      const m = await http.call({ method: 'GET', url: new URL(metaUrl, base + '/').toString(), signal, timeoutMs })
      if (m.status !== 200) return { pvrSdk: true, revision: null, status: null }
      const meta = parseDeviceMeta(m.body.toString('utf8'), host)
      return { pvrSdk: true, revision: meta.revision, status: meta.status }
    } catch (err) {
      this.log('probe %s:%d: %s', host, port, (err as Error).message)
      return { pvrSdk: false, revision: null, status: null }
    } finally {
      http.close()
    }
  }

  async browse (o: BrowseOptions): Promise<DeviceInfo[]> {
    const found = new Map<string, DeviceInfo>()
    const probes: Array<Promise<void>> = []
    const probeTimeout = o.probeTimeoutMs ?? 1500
    const report = (d: DeviceInfo): void => {
      found.set(d.deviceId, d)
      o.onDevice?.(d)
    }
    for (const a of o.addresses ?? []) {
      const { host, port } = parseAddress(a, PVR_SDK_PORT)
      probes.push(this.probe(host, port, probeTimeout, o.signal).then(p => {
        report({ deviceId: port === PVR_SDK_PORT ? host : `${host}:${port}`, name: host, addrs: [host], port: null, claimed: null, pvrSdk: p.pvrSdk, revision: p.revision, status: p.status, lastSeen: Date.now(), source: 'manual' })
      }))
    }
    if (o.mdns !== false) await this.mdnsWindow(o, probeTimeout, report, probes)
    await Promise.all(probes)
    return [...found.values()]
  }

  private async mdnsWindow (o: BrowseOptions, probeTimeout: number, report: (d: DeviceInfo) => void, probes: Array<Promise<void>>): Promise<void> {
    const m = makeMdns({ reuseAddr: true })
    const instances = new Map<string, Instance>()
    const hosts = new Map<string, Set<string>>()
    const inst = (name: string): Instance => {
      let i = instances.get(name.toLowerCase())
      if (i === undefined) { i = { name, port: null, target: null, txt: null, addrs: new Set(), probed: false }; instances.set(name.toLowerCase(), i) }
      return i
    }
    const ask = (): void => {
      const questions: Array<{ name: string, type: 'PTR' | 'SRV' | 'TXT' | 'A' }> = [{ name: SSH_TYPE, type: 'PTR' }, { name: PV_SUBTYPE, type: 'PTR' }]
      for (const i of instances.values()) {
        if (i.probed) continue
        if (i.port === null) questions.push({ name: i.name, type: 'SRV' })
        if (i.txt === null) questions.push({ name: i.name, type: 'TXT' })
        if (i.target !== null && (hosts.get(i.target.toLowerCase())?.size ?? 0) === 0) questions.push({ name: i.target, type: 'A' })
      }
      m.query({ questions } as never)
    }
    const settle = (): void => {
      for (const i of instances.values()) {
        if (i.probed || i.txt === null || i.port === null) continue
        const deviceId = i.txt.get('device-id')
        if (deviceId === undefined || deviceId === '') continue // pvr device scan drops these too
        const addrs = [...(hosts.get((i.target ?? '').toLowerCase()) ?? [])]
        if (addrs.length === 0) continue
        i.probed = true
        const nick = i.name.replace(/\._ssh\._tcp\.local$/i, '')
        const claimed = !i.txt.has('challenge')
        const sshPort = i.port
        probes.push((async () => {
          let best = { pvrSdk: false, revision: null as string | null, status: null as string | null }
          let addrFirst = addrs[0]
          for (const a of addrs) {
            const p = await this.probe(a, PVR_SDK_PORT, probeTimeout, o.signal)
            if (p.pvrSdk) { best = p; addrFirst = a; break }
          }
          report({ deviceId, name: nick, addrs: [addrFirst, ...addrs.filter(a => a !== addrFirst)], port: sshPort, claimed, pvrSdk: best.pvrSdk, revision: best.revision, status: best.status, lastSeen: Date.now(), source: 'mdns' })
        })())
      }
    }
    m.on('response', (r: { answers?: Array<{ name: string, type: string, data: unknown }>, additionals?: Array<{ name: string, type: string, data: unknown }> }) => {
      for (const rec of [...(r.answers ?? []), ...(r.additionals ?? [])]) {
        const name = rec.name
        if (rec.type === 'PTR' && (name.toLowerCase() === SSH_TYPE || name.toLowerCase() === PV_SUBTYPE)) inst(String(rec.data))
        else if (rec.type === 'SRV') { const i = inst(name); const d = rec.data as { port: number, target: string }; i.port = d.port; i.target = d.target }
        else if (rec.type === 'TXT') inst(name).txt = parseTxt(rec.data)
        else if (rec.type === 'A') {
          const set = hosts.get(name.toLowerCase()) ?? new Set<string>()
          set.add(String(rec.data))
          hosts.set(name.toLowerCase(), set)
        }
      }
      settle()
    })
    m.on('error', (err: Error) => { this.log.error('mdns: %s', err.message) })
    await new Promise<void>(resolve => { m.once('ready', () => { resolve() }) })
    ask()
    const timer = setInterval(ask, 1000)
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, o.timeoutMs)
      o.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
    })
    clearInterval(timer)
    m.destroy()
  }
}
