/**
 * The device's mDNS advertisement as pv-avahi publishes it: service
 * `_ssh._tcp` (instance and host name = the device nick), subtype
 * `_pantavisor._sub._ssh._tcp`, port 8222, TXT `device-id`, `challenge`
 * (only while unclaimed) and `pantahub`. A device that never registered
 * with Pantahub publishes `device-id=` empty and no challenge (the id and
 * the challenge come from registration: storage.c, pantahub.c). Like avahi
 * it answers over IPv4 and over IPv6 on every interface that has it, with
 * A and AAAA records of the interfaces' addresses, in the domain it is given
 * (avahi's domain-name, `local` by default); in another domain it also
 * announces that domain for browsing (`b._dns-sd._udp.local`, avahi's
 * publish-domain). Answers queries and announces on start; says goodbye
 * (TTL 0) on stop. Multicast: start it only inside a network namespace of
 * its own, never on a real LAN from a test.
 */
import { networkInterfaces } from 'node:os'
import makeMdns from 'multicast-dns'
import type { Logger } from '../../../shared/log.js'

const LONG_TTL = 4500

export interface AdvertOptions {
  nick: string
  /** '' for a device that never registered. */
  deviceId: string
  port: number
  challenge?: string
  pantahub?: string
  /** The mDNS domain (default `local`). */
  domain?: string
}

type Answer = { name: string; type: string; ttl: number; data: unknown; class?: string; flush?: boolean }
type Mdns = ReturnType<typeof makeMdns>

export class MdnsAdvertiser {
  private sockets: Mdns[] = []
  private readonly log: Logger

  constructor(
    components: { log: Logger },
    private readonly opts: AdvertOptions,
  ) {
    this.log = components.log.child('mdns')
  }

  private get domain(): string {
    return (this.opts.domain ?? 'local').replace(/^\.+|\.+$/g, '')
  }

  private records(ttl: number): Answer[] {
    const d = this.domain
    const service = `_ssh._tcp.${d}`
    const instance = `${this.opts.nick}.${service}`
    const host = `${this.opts.nick}.${d}`
    const long = ttl === 0 ? 0 : LONG_TTL
    const txt = [`device-id=${this.opts.deviceId}`]
    if (this.opts.challenge !== undefined) txt.push(`challenge=${this.opts.challenge}`)
    if (this.opts.pantahub !== undefined) txt.push(`pantahub=${this.opts.pantahub}`)
    const out: Answer[] = [
      { name: service, type: 'PTR', ttl: long, data: instance },
      { name: `_pantavisor._sub.${service}`, type: 'PTR', ttl: long, data: instance },
      { name: `_services._dns-sd._udp.${d}`, type: 'PTR', ttl: long, data: service },
      { name: instance, type: 'SRV', ttl, data: { port: this.opts.port, target: host, priority: 0, weight: 0 }, flush: true },
      { name: instance, type: 'TXT', ttl: long, data: txt.map(t => Buffer.from(t)), flush: true },
    ]
    if (d.toLowerCase() !== 'local') out.push({ name: 'b._dns-sd._udp.local', type: 'PTR', ttl: long, data: d })
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.internal) continue
        if (a.family === 'IPv4') out.push({ name: host, type: 'A', ttl, data: a.address, flush: true })
        else if (a.family === 'IPv6') out.push({ name: host, type: 'AAAA', ttl, data: a.address.replace(/%.*$/, ''), flush: true })
      }
    }
    return out
  }

  private answer(m: Mdns): void {
    m.on('query', (q: { questions: Array<{ name: string; type: string }> }) => {
      const all = this.records(120)
      const matching = all.filter(r => q.questions.some(x => x.name.toLowerCase() === r.name.toLowerCase() && (x.type === r.type || x.type === 'ANY')))
      if (matching.length === 0) return
      const extra = all.filter(r => !matching.includes(r) && !r.name.startsWith('_services.') && !r.name.startsWith('b._dns-sd.'))
      m.respond({ answers: matching, additionals: extra } as never)
    })
  }

  async start(): Promise<void> {
    const sockets: Mdns[] = [makeMdns({ reuseAddr: true })]
    for (const [name, list] of Object.entries(networkInterfaces())) {
      if ((list ?? []).some(a => a.family === 'IPv6' && !a.internal)) {
        sockets.push(makeMdns({ type: 'udp6', ip: 'ff02::fb', interface: `::%${name}`, bind: '::', reuseAddr: true } as never))
      }
    }
    this.sockets = sockets
    for (const m of sockets) {
      m.on('error', (err: Error) => {
        this.log.error('mdns: %s', err.message)
      })
      m.on('warning', (err: Error) => {
        this.log('mdns: %s', err.message)
      })
      this.answer(m)
    }
    await Promise.all(
      sockets.map(
        m =>
          new Promise<void>(resolve => {
            m.once('ready', () => {
              resolve()
            })
            m.once('error', () => {
              resolve()
            })
          }),
      ),
    )
    for (const m of sockets) m.respond({ answers: this.records(120) } as never)
    this.log(
      'advertising %s.%s (device-id %s) on port %d',
      this.opts.nick,
      this.domain,
      this.opts.deviceId === '' ? '(none: not registered)' : this.opts.deviceId,
      this.opts.port,
    )
  }

  async stop(): Promise<void> {
    const sockets = this.sockets
    this.sockets = []
    await Promise.all(
      sockets.map(
        m =>
          new Promise<void>(resolve => {
            m.respond({ answers: this.records(0) } as never, () => {
              resolve()
            })
          }),
      ),
    )
    for (const m of sockets) m.destroy()
  }
}
