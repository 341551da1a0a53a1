/**
 * The device's mDNS advertisement as pv-avahi publishes it: service
 * `_ssh._tcp` (instance and host name = the device nick), subtype
 * `_pantavisor._sub._ssh._tcp`, port 8222, TXT `device-id`, `challenge`
 * (only while unclaimed) and `pantahub`. Answers queries and announces on
 * start; says goodbye (TTL 0) on stop. Multicast: start it only inside a
 * network namespace of its own, never on a real LAN from a test.
 */
import { networkInterfaces } from 'node:os'
import makeMdns from 'multicast-dns'
import type { Logger } from '../../../shared/log.js'

export const SSH_SERVICE = '_ssh._tcp.local'
export const PV_SUBTYPE = '_pantavisor._sub._ssh._tcp.local'
const SERVICES = '_services._dns-sd._udp.local'

export interface AdvertOptions {
  nick: string
  deviceId: string
  port: number
  challenge?: string
  pantahub?: string
}

type Answer = { name: string, type: string, ttl: number, data: unknown, class?: string, flush?: boolean }

export class MdnsAdvertiser {
  private mdns: ReturnType<typeof makeMdns> | null = null
  private readonly log: Logger

  constructor (components: { log: Logger }, private readonly opts: AdvertOptions) {
    this.log = components.log.child('mdns')
  }

  private records (ttl: number): Answer[] {
    const instance = `${this.opts.nick}._ssh._tcp.local`
    const host = `${this.opts.nick}.local`
    const txt = [`device-id=${this.opts.deviceId}`]
    if (this.opts.challenge !== undefined) txt.push(`challenge=${this.opts.challenge}`)
    if (this.opts.pantahub !== undefined) txt.push(`pantahub=${this.opts.pantahub}`)
    const out: Answer[] = [
      { name: SSH_SERVICE, type: 'PTR', ttl: ttl === 0 ? 0 : 4500, data: instance },
      { name: PV_SUBTYPE, type: 'PTR', ttl: ttl === 0 ? 0 : 4500, data: instance },
      { name: SERVICES, type: 'PTR', ttl: ttl === 0 ? 0 : 4500, data: SSH_SERVICE },
      { name: instance, type: 'SRV', ttl, data: { port: this.opts.port, target: host, priority: 0, weight: 0 }, flush: true },
      { name: instance, type: 'TXT', ttl: ttl === 0 ? 0 : 4500, data: txt.map(t => Buffer.from(t)), flush: true },
    ]
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (!a.internal && a.family === 'IPv4') out.push({ name: host, type: 'A', ttl, data: a.address, flush: true })
      }
    }
    return out
  }

  async start (): Promise<void> {
    const m = makeMdns({ reuseAddr: true })
    this.mdns = m
    m.on('error', (err: Error) => { this.log.error('mdns: %s', err.message) })
    m.on('query', (q: { questions: Array<{ name: string, type: string }> }) => {
      const all = this.records(120)
      const names = new Set(q.questions.map(x => x.name.toLowerCase()))
      const matching = all.filter(r => names.has(r.name.toLowerCase()) && q.questions.some(x => x.name.toLowerCase() === r.name.toLowerCase() && (x.type === r.type || x.type === 'ANY')))
      if (matching.length === 0) return
      const extra = all.filter(r => !matching.includes(r) && r.name !== SERVICES)
      m.respond({ answers: matching, additionals: extra } as never)
    })
    await new Promise<void>(resolve => { m.once('ready', () => { resolve() }) })
    m.respond({ answers: this.records(120) } as never)
    this.log('advertising %s (device-id %s) on port %d', this.opts.nick, this.opts.deviceId, this.opts.port)
  }

  async stop (): Promise<void> {
    const m = this.mdns
    this.mdns = null
    if (m === null) return
    await new Promise<void>(resolve => { m.respond({ answers: this.records(0) } as never, () => { resolve() }) })
    m.destroy()
  }
}
