/**
 * A small LAN for the seeder benchmark: one puller namespace joined to each
 * seeder namespace by its own veth pair, each seeder's link limited the same
 * way with tc (tbf on the seeder's egress). Created and removed by the bench.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

export interface Seat {
  ns: string
  addr: string
  dev: string
}

export class BenchLan {
  readonly tag = randomBytes(3).toString('hex')
  readonly puller: string
  readonly seeders: Seat[] = []
  private readonly created: string[] = []
  private readonly procs: ChildProcess[] = []

  constructor(
    n: number,
    readonly rate: string,
  ) {
    this.puller = `fbp-${this.tag}`
    this.addNs(this.puller)
    ip('-n', this.puller, 'link', 'set', 'lo', 'up')
    for (let i = 1; i <= n; i++) {
      const ns = `fbs${i}-${this.tag}`
      this.addNs(ns)
      const [pd, sd] = [`fp${i}${this.tag}`, `fs${i}${this.tag}`]
      ip('link', 'add', pd, 'type', 'veth', 'peer', 'name', sd)
      ip('link', 'set', pd, 'netns', this.puller)
      ip('link', 'set', sd, 'netns', ns)
      ip('-n', this.puller, 'addr', 'add', `10.78.${i}.1/24`, 'dev', pd)
      ip('-n', ns, 'addr', 'add', `10.78.${i}.2/24`, 'dev', sd)
      ip('-n', this.puller, 'link', 'set', pd, 'up')
      ip('-n', ns, 'link', 'set', sd, 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', sd, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '100ms'], {
        stdio: 'pipe',
      })
      this.seeders.push({ ns, addr: `10.78.${i}.2`, dev: sd })
    }
  }

  private addNs(ns: string): void {
    ip('netns', 'add', ns)
    this.created.push(ns)
  }

  spawn(ns: string, argv: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.procs.push(p)
    return p
  }

  destroy(): void {
    for (const p of this.procs) p.kill('SIGKILL')
    for (const ns of this.created) {
      try {
        ip('netns', 'del', ns)
      } catch {
        /* gone */
      }
    }
  }

  static available(): string | undefined {
    if (process.getuid?.() !== 0) return 'needs root (network namespaces, tc)'
    try {
      execFileSync('tc', ['-V'], { stdio: 'ignore' })
    } catch {
      return 'tc (iproute2) not installed'
    }
    return undefined
  }
}
