/** The device simulator for e2e tests: `fieldsync device-sim --no-mdns` on a free loopback port. */
import { spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { cliBin } from '../helpers/paths.js'

export interface Sim {
  child: ChildProcess
  http: string
  deviceId: string
  socket: string
}

/** Start a simulated device in `dir`; `extra` adds options (`--fast`, `--outcome error`, `--name NICK`...). */
export async function startSim(dir: string, extra: string[]): Promise<Sim> {
  const child = spawn(
    process.execPath,
    [cliBin, '--json', 'device-sim', '--dir', dir, '--http', '127.0.0.1:0', '--no-mdns', '--assume-pvr-sdk-progress', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const info = await new Promise<{ http: string; deviceId: string; socket: string }>((resolve, reject) => {
    const t = setTimeout(() => {
      reject(new Error(`device-sim printed nothing in 20 s: ${err}`))
    }, 20_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(t)
        resolve(JSON.parse(out.slice(0, nl)))
      }
    })
    child.once('exit', code => {
      clearTimeout(t)
      reject(new Error(`device-sim exited ${code}: ${err}`))
    })
  })
  return { child, ...info }
}

/** GET a pv-ctrl path on a simulated device's socket, as the device answers it. */
export function pvctrl(sim: Sim, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sim.socket, path, method: 'GET', timeout: 10_000 }, res => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(body))
        else reject(new Error(`${path}: ${String(res.statusCode)} ${body}`))
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** What a device holds: its steps and objects (what a rollout would have touched). */
export async function holdings(sim: Sim): Promise<string> {
  const steps = (await pvctrl(sim, '/steps')) as Array<{ name: string }>
  const objects = (await pvctrl(sim, '/objects')) as Array<{ sha256: string }>
  return JSON.stringify({ steps: steps.map(s => s.name).sort(), objects: objects.map(o => o.sha256).sort() })
}

/**
 * Wait until the device holds more than `count` steps. The device reboots
 * into a new step (its socket vanishes for a while): a socket that is not
 * there, or refuses, means "ask again", as a device coming back would.
 */
export async function untilNewStep(sim: Sim, count: number): Promise<void> {
  for (;;) {
    const steps = await (pvctrl(sim, '/steps') as Promise<unknown[]>).catch((err: unknown) => {
      const code = (err as { code?: string }).code
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET') return null
      throw err
    })
    if (steps !== null && steps.length > count) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
