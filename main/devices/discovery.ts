/**
 * Finding devices: browse mDNS for `_ssh._tcp` and `_pantavisor._sub._ssh._tcp`
 * as pv-avahi publishes them, read the TXT records (device-id, challenge =
 * unclaimed, pantahub), and probe each address for pvr-sdk (`.pvrremote` on
 * port 12368, short timeout); devices are reported as they answer. Devices
 * named by address (multicast is often blocked on site networks) are probed
 * the same way. Browsing sends multicast: never run it on a real LAN from a test.
 *
 * Unlike `pvr device scan`, which drops them, devices with an empty
 * `device-id` are kept: pv-avahi publishes it empty until the device
 * registers with Pantahub, the usual case at an offline site. Such a device
 * is "not registered" and its id here is a fingerprint of what it tells:
 * `unregistered-` and the first 20 hex digits of sha256("<nick>\n<address>:<port>"),
 * with the SSH port of its SRV record and its first address in this order:
 * IPv4, then global IPv6, then link-local IPv6, each sorted as text. It
 * stays the same while the device keeps its nick and address (a new
 * address makes it a new entry, until the device registers).
 *
 * Queries go out over IPv4 (224.0.0.251) and, on each interface with IPv6,
 * over IPv6 (ff02::fb), and ask for A and AAAA records: an IPv6-only device
 * is found. Service types are browsed in `local` and in every domain that an
 * answer names: devices whose avahi has another domain-name announce it as a
 * browse domain (`b._dns-sd._udp.local PTR <domain>`, avahi's publish-domain),
 * and instance names are read with the domain of their own records.
 */
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import makeMdns from 'multicast-dns'
import type { DeviceInfo } from '../../shared/api/types.js'
import type { Logger } from '../../shared/log.js'
import { HttpClient } from './drivers/http.js'
import { pvrBaseUrl, PVR_SDK_PORT, type PvrRemote } from './drivers/pvr-sdk.js'
import { parseDeviceMeta } from './drivers/types.js'

export const SSH_TYPE = '_ssh._tcp.local'
export const PV_SUBTYPE = '_pantavisor._sub._ssh._tcp.local'
/** DNS-SD browse domain enumeration (RFC 6763 §11), as avahi answers it. */
export const BROWSE_DOMAINS = ['b._dns-sd._udp.local', 'lb._dns-sd._udp.local']
export const UNREGISTERED_PREFIX = 'unregistered-'

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

interface Instance {
  name: string
  nick: string
  port: number | null
  target: string | null
  txt: Map<string, string> | null
  probed: boolean
}

/** host[:port], [v6]:port. */
export function parseAddress(s: string, defPort: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  if (v6 !== null) return { host: v6[1], port: v6[2] === undefined ? defPort : Number(v6[2]) }
  const m = /^([^:]+)(?::(\d+))?$/.exec(s)
  if (m === null) return { host: s, port: defPort }
  return { host: m[1], port: m[2] === undefined ? defPort : Number(m[2]) }
}

export function parseTxt(data: unknown): Map<string, string> {
  const out = new Map<string, string>()
  const list = Array.isArray(data) ? data : [data]
  for (const d of list) {
    const s = Buffer.isBuffer(d) ? d.toString('utf8') : String(d)
    const i = s.indexOf('=')
    if (i > 0) out.set(s.slice(0, i).toLowerCase(), s.slice(i + 1))
  }
  return out
}

/** 0: IPv4, 1: global IPv6, 2: link-local IPv6 (needs its %zone to be reached, and URLs cannot carry one). */
function addressRank(a: string): number {
  if (isIP(a) === 4) return 0
  return /^fe[89ab][0-9a-f]:/i.test(a) ? 2 : 1
}

/** Addresses in the order discovery tries them and fingerprints with. */
export function orderAddresses(addrs: Iterable<string>): string[] {
  return [...new Set(addrs)].sort((a, b) => addressRank(a) - addressRank(b) || (a < b ? -1 : a > b ? 1 : 0))
}

/** The id of a device that advertises no device-id: a fingerprint of its nick, first address and port (see above). */
export function unregisteredId(nick: string, addrs: Iterable<string>, port: number | null): string {
  const first = (orderAddresses(addrs)[0] ?? '').replace(/%.*$/, '')
  const where = first.includes(':') ? `[${first}]:${port ?? ''}` : `${first}:${port ?? ''}`
  return UNREGISTERED_PREFIX + createHash('sha256').update(`${nick}\n${where}`).digest('hex').slice(0, 20)
}

export function isUnregisteredId(id: string): boolean {
  return id.startsWith(UNREGISTERED_PREFIX)
}

/** `<nick>._ssh._tcp.<domain>` → nick and domain. */
export function splitInstance(name: string): { nick: string; domain: string } | null {
  const m = /^(.*)\._ssh\._tcp\.(.+?)\.?$/i.exec(name)
  return m === null ? null : { nick: m[1], domain: m[2] }
}

type Rec = { name: string; type: string; data: unknown }

export class Discovery {
  private readonly log: Logger

  constructor(components: { log: Logger }) {
    this.log = components.log.child('discovery')
  }

  /** Probe one address for pvr-sdk; with device-meta when it offers it. */
  async probe(
    host: string,
    port: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ pvrSdk: boolean; revision: string | null; status: string | null }> {
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

  async browse(o: BrowseOptions): Promise<DeviceInfo[]> {
    const found = new Map<string, DeviceInfo>()
    const probes: Array<Promise<void>> = []
    const probeTimeout = o.probeTimeoutMs ?? 1500
    const report = (d: DeviceInfo): void => {
      found.set(d.deviceId, d)
      o.onDevice?.(d)
    }
    for (const a of o.addresses ?? []) {
      const { host, port } = parseAddress(a, PVR_SDK_PORT)
      probes.push(
        this.probe(host, port, probeTimeout, o.signal).then(p => {
          report({
            deviceId: port === PVR_SDK_PORT ? host : `${host}:${port}`,
            name: host,
            addrs: [host],
            port: null,
            claimed: null,
            registered: null,
            pvrSdk: p.pvrSdk,
            revision: p.revision,
            status: p.status,
            lastSeen: Date.now(),
            source: 'manual',
          })
        }),
      )
    }
    if (o.mdns !== false) await this.mdnsWindow(o, probeTimeout, report, probes)
    await Promise.all(probes)
    return [...found.values()]
  }

  /** One listener over IPv4 and one per interface over IPv6 (ff02::fb is link-scoped). */
  private listeners(): Array<{ m: ReturnType<typeof makeMdns>; zone: string | null }> {
    const out: Array<{ m: ReturnType<typeof makeMdns>; zone: string | null }> = [{ m: makeMdns({ reuseAddr: true }), zone: null }]
    for (const [name, list] of Object.entries(networkInterfaces())) {
      if ((list ?? []).some(a => a.family === 'IPv6' && !a.internal)) {
        try {
          out.push({ m: makeMdns({ type: 'udp6', ip: 'ff02::fb', interface: `::%${name}`, bind: '::', reuseAddr: true } as never), zone: name })
        } catch (err) {
          this.log('mdns over IPv6 on %s: %s', name, (err as Error).message)
        }
      }
    }
    return out
  }

  private async mdnsWindow(o: BrowseOptions, probeTimeout: number, report: (d: DeviceInfo) => void, probes: Array<Promise<void>>): Promise<void> {
    const instances = new Map<string, Instance>()
    const hosts = new Map<string, Set<string>>()
    const domains = new Set(['local'])
    const types = (): string[] => [...domains].flatMap(d => [`_ssh._tcp.${d}`, `_pantavisor._sub._ssh._tcp.${d}`])
    const inst = (name: string, serviceType?: string): Instance | null => {
      let i = instances.get(name.toLowerCase())
      if (i !== undefined) return i
      const nick =
        serviceType !== undefined && name.toLowerCase().endsWith(`.${serviceType.toLowerCase()}`)
          ? name.slice(0, name.length - serviceType.length - 1)
          : splitInstance(name)?.nick
      if (nick === undefined) return null
      i = { name, nick, port: null, target: null, txt: null, probed: false }
      instances.set(name.toLowerCase(), i)
      return i
    }
    const listeners = this.listeners()
    const ask = (): void => {
      const questions: Array<{ name: string; type: string }> = [
        ...BROWSE_DOMAINS.map(name => ({ name, type: 'PTR' })),
        ...types().map(name => ({ name, type: 'PTR' })),
      ]
      for (const i of instances.values()) {
        if (i.probed) continue
        if (i.port === null) questions.push({ name: i.name, type: 'SRV' })
        if (i.txt === null) questions.push({ name: i.name, type: 'TXT' })
        if (i.target !== null && (hosts.get(i.target.toLowerCase())?.size ?? 0) === 0)
          questions.push({ name: i.target, type: 'A' }, { name: i.target, type: 'AAAA' })
      }
      for (const l of listeners) l.m.query({ questions } as never)
    }
    const settle = (): void => {
      for (const i of instances.values()) {
        if (i.probed || i.txt === null || i.port === null) continue
        const addrs = orderAddresses(hosts.get((i.target ?? '').toLowerCase()) ?? [])
        if (addrs.length === 0) continue
        i.probed = true
        const advertised = i.txt.get('device-id') ?? ''
        const registered = advertised !== ''
        const deviceId = registered ? advertised : unregisteredId(i.nick, addrs, i.port)
        const challenge = i.txt.get('challenge')
        const claimed = registered ? challenge === undefined : challenge === undefined || challenge === '' ? null : false
        const sshPort = i.port
        probes.push(
          (async () => {
            let best = { pvrSdk: false, revision: null as string | null, status: null as string | null }
            let addrFirst = addrs[0]
            for (const a of addrs.filter(x => addressRank(x) < 2)) {
              const p = await this.probe(a, PVR_SDK_PORT, probeTimeout, o.signal)
              if (p.pvrSdk) {
                best = p
                addrFirst = a
                break
              }
            }
            report({
              deviceId,
              name: i.nick,
              addrs: [addrFirst, ...addrs.filter(a => a !== addrFirst)],
              port: sshPort,
              claimed,
              registered,
              pvrSdk: best.pvrSdk,
              revision: best.revision,
              status: best.status,
              lastSeen: Date.now(),
              source: 'mdns',
            })
          })(),
        )
      }
    }
    const onResponse =
      (zone: string | null) =>
      (r: { answers?: Rec[]; additionals?: Rec[] }): void => {
        let newDomain = false
        for (const rec of [...(r.answers ?? []), ...(r.additionals ?? [])]) {
          const name = rec.name
          const lower = name.toLowerCase()
          if (rec.type === 'PTR' && BROWSE_DOMAINS.includes(lower)) {
            const d = String(rec.data).replace(/\.$/, '').toLowerCase()
            if (d !== '' && !domains.has(d)) {
              domains.add(d)
              newDomain = true
            }
          } else if (rec.type === 'PTR' && /^(_pantavisor\._sub\.)?_ssh\._tcp\./.test(lower)) {
            const serviceType = name.replace(/^_pantavisor\._sub\./i, '')
            const d = serviceType.slice('_ssh._tcp.'.length).replace(/\.$/, '').toLowerCase()
            if (!domains.has(d)) {
              domains.add(d)
              newDomain = true
            }
            inst(String(rec.data), serviceType)
          } else if (rec.type === 'SRV') {
            const i = inst(name)
            if (i === null) continue
            const d = rec.data as { port: number; target: string }
            i.port = d.port
            i.target = d.target
          } else if (rec.type === 'TXT') {
            const i = inst(name)
            if (i !== null) i.txt = parseTxt(rec.data)
          } else if (rec.type === 'A' || rec.type === 'AAAA') {
            let a = String(rec.data)
            if (rec.type === 'AAAA' && addressRank(a) === 2) {
              // a link-local address is usable only with the zone it was heard on (avahi also sends them over IPv4)
              if (zone === null) continue
              a = `${a}%${zone}`
            }
            const set = hosts.get(lower) ?? new Set<string>()
            set.add(a)
            hosts.set(lower, set)
          }
        }
        if (newDomain) ask()
        settle()
      }
    for (const l of listeners) {
      l.m.on('response', onResponse(l.zone))
      l.m.on('error', (err: Error) => {
        this.log.error('mdns: %s', err.message)
      })
      l.m.on('warning', (err: Error) => {
        this.log('mdns: %s', err.message)
      })
    }
    await Promise.all(
      listeners.map(
        l =>
          new Promise<void>(resolve => {
            l.m.once('ready', () => {
              resolve()
            })
            l.m.once('error', () => {
              resolve()
            })
          }),
      ),
    )
    ask()
    const timer = setInterval(ask, 1000)
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, o.timeoutMs)
      o.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t)
          resolve()
        },
        { once: true },
      )
    })
    clearInterval(timer)
    for (const l of listeners) l.m.destroy()
  }
}
