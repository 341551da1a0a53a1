/**
 * Helpers for the peer tests: team homes, real `fieldsync serve` processes on
 * loopback (always --no-mdns), real squashfs revisions imported through the
 * CLI, and a counting TCP proxy that can also stall a connection on purpose.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { TeamStore } from '../../main/peers/team.js'
import { runCli } from '../helpers/cli.js'
import { cliBin } from '../helpers/paths.js'
import { buildState, makeSquashfs, smallObject, writeTarball, type TestObject } from '../helpers/revisions.js'

export interface Tctx {
  after: (fn: () => Promise<void> | void) => void
}

/** `n` library homes in one team (and optionally more in another). */
export async function teamHomes(base: string, n: number): Promise<string[]> {
  const homes = Array.from({ length: n }, (_, i) => join(base, `home${i}`))
  const { code } = await new TeamStore(homes[0]).create({ name: 'site' })
  for (const h of homes.slice(1)) await new TeamStore(h).join(code)
  return homes
}

export interface TestRevision {
  tarball: string
  objects: TestObject[]
  bytes: number
  state: Record<string, unknown>
}

/** A real revision: kernel, initrd, one container with a squashfs rootfs of `rootBytes` (plus `extraBytes` in a second). */
export async function makeRevision(dir: string, seed: string, rootBytes: number, extraBytes = 0): Promise<TestRevision> {
  await mkdir(dir, { recursive: true })
  const kernel = { ...(await smallObject(dir, `kernel-${seed}`, `kernel ${seed}\n`.repeat(1000))), key: 'bsp/kernel.img' }
  const initrd = { ...(await smallObject(dir, `initrd-${seed}`, `initrd ${seed}\n`.repeat(500))), key: 'bsp/pantavisor' }
  const root = await makeSquashfs(dir, `root-${seed}`, rootBytes, seed)
  const conf = await smallObject(dir, `conf-${seed}`, `lxc.uts.name = app-${seed}\n`)
  const containers = [{ name: 'app', root: { key: 'app/root.squashfs', ...root }, config: { ...conf, key: 'app/lxc.container.conf' } }]
  if (extraBytes > 0) {
    const root2 = await makeSquashfs(dir, `root2-${seed}`, extraBytes, seed + '-2')
    const conf2 = await smallObject(dir, `conf2-${seed}`, `lxc.uts.name = extra-${seed}\n`)
    containers.push({ name: 'extra', root: { key: 'extra/root.squashfs', ...root2 }, config: { ...conf2, key: 'extra/lxc.container.conf' } })
  }
  const state = buildState({ kernel, initrd, containers })
  const objects: TestObject[] = [kernel, initrd, ...containers.flatMap(c => [c.root, c.config])]
  const tarball = join(dir, `rev-${seed}.tar`)
  await writeTarball(tarball, JSON.stringify(state), objects)
  await writeFile(join(dir, `state-${seed}.json`), JSON.stringify(state))
  return { tarball, objects, bytes: objects.reduce((n, o) => n + o.size, 0), state }
}

export async function importRev(home: string, rev: TestRevision, name: string): Promise<string> {
  const r = await runCli(['import', rev.tarball, '--name', name, '--json'], { home })
  assert.equal(r.code, 0, r.stderr)
  return r.json().id as string
}

export interface Served {
  proc: ChildProcess
  peerId: string
  addr: string
  port: number
  stderr: () => string
  stop: () => Promise<void>
  kill: () => Promise<void>
}

/**
 * `fieldsync serve` on 127.0.0.1, --no-mdns; resolves once it printed its
 * addresses. `liar`: instead, a seeder that corrupts every range it serves
 * (test/helpers/lying-seeder.ts).
 */
export async function serve(t: Tctx, home: string, opts: { args?: string[]; env?: NodeJS.ProcessEnv; liar?: boolean; port?: number } = {}): Promise<Served> {
  const listen = `/ip4/127.0.0.1/tcp/${opts.port ?? 0}`
  const argv =
    opts.liar === true
      ? [fileURLToPath(new URL('../helpers/lying-seeder.js', import.meta.url)), home, listen]
      : [cliBin, '--home', home, 'serve', '--no-mdns', '--listen', listen, '--json', ...(opts.args ?? [])]
  const proc = spawn(process.execPath, argv, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<void>(resolve =>
    proc.once('exit', () => {
      resolve()
    }),
  )
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
  }
  t.after(kill)
  const first = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(out.slice(0, nl))
    })
    proc.once('exit', code => {
      reject(new Error(`serve exited ${code}: ${err}`))
    })
    setTimeout(() => {
      reject(new Error(`serve did not start: ${err}`))
    }, 20_000).unref()
  })
  const info = JSON.parse(first) as { peerId: string; addrs: string[] }
  const addr = info.addrs[0]
  const port = Number(/\/tcp\/(\d+)/.exec(addr)![1])
  return {
    proc,
    peerId: info.peerId,
    addr,
    port,
    stderr: () => err,
    kill,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM')
        await exited
      }
    },
  }
}

/** A TCP proxy counting bytes each way; `stallAfter` stops forwarding server->client after that many bytes. */
export class CountingProxy {
  toClient = 0
  toServer = 0
  port = 0
  stallAfter = Infinity
  private server?: Server
  private readonly socks = new Set<Socket>()
  private stalledWaiters: Array<() => void> = []

  constructor(private readonly targetPort: number) {}

  async start(t: Tctx): Promise<this> {
    this.server = createServer(client => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort })
      this.socks.add(client)
      this.socks.add(upstream)
      client.on('data', (d: Buffer) => {
        this.toServer += d.length
        upstream.write(d)
      })
      upstream.on('data', (d: Buffer) => {
        const room = this.stallAfter - this.toClient
        if (room <= 0) {
          upstream.pause()
          this.onStall()
          return
        }
        if (d.length > room) {
          client.write(d.subarray(0, room))
          this.toClient += room
          upstream.pause()
          this.onStall()
          return
        }
        this.toClient += d.length
        if (!client.write(d)) {
          upstream.pause()
          client.once('drain', () => {
            if (this.toClient < this.stallAfter) upstream.resume()
          })
        }
      })
      const close = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', close)
      upstream.on('error', close)
      client.on('close', close)
      upstream.on('close', close)
    })
    await new Promise<void>(resolve =>
      this.server!.listen(0, '127.0.0.1', () => {
        resolve()
      }),
    )
    this.port = (this.server.address() as { port: number }).port
    t.after(() => this.close())
    return this
  }

  private onStall(): void {
    const w = this.stalledWaiters
    this.stalledWaiters = []
    for (const f of w) f()
  }

  /** Resolves when the byte budget is used up (some connection is stalled). */
  stalled(): Promise<void> {
    return new Promise(resolve => {
      if (this.toClient >= this.stallAfter) resolve()
      else this.stalledWaiters.push(resolve)
    })
  }

  addr(peerId: string): string {
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${peerId}`
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy()
    await new Promise<void>(resolve => {
      if (this.server === undefined) resolve()
      else
        this.server.close(() => {
          resolve()
        })
    })
    this.server = undefined
  }
}

export async function verifyHome(home: string): Promise<{ checked: number; corrupt: string[]; missing: string[] }> {
  const r = await runCli(['verify', '--json'], { home })
  return r.json()
}

export async function lsHome(home: string): Promise<Array<{ id: string; name: string; complete: boolean; missing: number }>> {
  const r = await runCli(['ls', '--json'], { home })
  assert.equal(r.code, 0, r.stderr)
  return r.json()
}
