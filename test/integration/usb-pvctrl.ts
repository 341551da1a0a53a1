/**
 * A device for the install.sh tests: the devices helper's simulator
 * (`fieldsync device-sim --dir D --socket S --no-mdns --fast`) when this
 * build has it, else a minimal pv-ctrl on a Unix socket that follows
 * upstream pv-ctrl (ctrl/*.c) for the requests install.sh and pvcontrol make
 * (GET/PUT /objects, GET/PUT /steps, progress, POST /commands LOCAL_RUN).
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { cliBin, repoRoot } from '../helpers/paths.js'

export interface Device {
  sock: string
  kind: 'simulator' | 'pv-ctrl double'
  get: (path: string) => Promise<{ status: number; body: Buffer }>
}

export function call(sock: string, method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, headers: body === undefined ? {} : { 'content-length': body.length } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

let simulator: boolean | undefined

/** The build has `fieldsync device-sim` with the flags these tests use. */
export function hasSimulator(): boolean {
  if (simulator === undefined) {
    simulator = false
    if (existsSync(join(repoRoot, 'dist', 'main', 'devices', 'sim'))) {
      const r = spawnSync(process.execPath, [cliBin, 'device-sim', '--help'], { encoding: 'utf8', timeout: 20_000 })
      simulator = r.status === 0 && ['--dir', '--socket', '--no-mdns', '--fast'].every(f => r.stdout.includes(f))
    }
  }
  return simulator
}

/** `simArgs`: more device-sim flags (the pv-ctrl double has none: tests that need them require the simulator). */
export async function startDevice(t: { after: (fn: () => Promise<void> | void) => void }, dir: string, simArgs: string[] = []): Promise<Device> {
  const sock = join(dir, 'pv-ctrl')
  if (hasSimulator()) {
    await mkdir(join(dir, 'sim'), { recursive: true })
    const child = spawn(process.execPath, [cliBin, 'device-sim', '--dir', join(dir, 'sim'), '--socket', sock, '--no-mdns', '--fast', ...simArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    t.after(() => {
      child.kill('SIGTERM')
    })
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise(resolve => setTimeout(resolve, 50))
    if (!existsSync(sock)) throw new Error('the device simulator did not open its socket')
    return { sock, kind: 'simulator', get: p => call(sock, 'GET', p) }
  }
  const objects = new Map<string, Buffer>()
  const steps = new Map<string, { json: Buffer; progress: { status: string; 'status-msg': string; progress: number } }>()
  // A plain HTTP/1.1 reader over net: pvcontrol's PUTs carry `Transfer-Encoding:
  // identity` beside Content-Length, which Node's http parser refuses (400) or,
  // lenient, reads to EOF. Pantavisor's own server takes it; so does this one.
  const server = createNetServer(conn => {
    let buf = Buffer.alloc(0)
    let head: { method: string; url: string; length: number } | undefined
    conn.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      if (head === undefined) {
        const i = buf.indexOf('\r\n\r\n')
        if (i < 0) return
        const lines = buf.subarray(0, i).toString('latin1').split('\r\n')
        const [method, url] = lines[0].split(' ')
        const hdr = new Map(lines.slice(1).map(l => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
        head = { method, url, length: Number(hdr.get('content-length') ?? 0) }
        buf = buf.subarray(i + 4)
        if (hdr.get('expect')?.toLowerCase() === '100-continue') conn.write('HTTP/1.1 100 Continue\r\n\r\n')
      }
      if (buf.length < head.length) return
      const req = { method: head.method, url: head.url }
      const body = buf.subarray(0, head.length)
      const res = {
        writeHead: (status: number, _h: Record<string, string>) => {
          res.status = status
        },
        status: 200,
        end: (out: Buffer | string) => {
          const b = Buffer.from(out)
          conn.end(
            Buffer.concat([
              Buffer.from(`HTTP/1.1 ${res.status} X\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n`),
              b,
            ]),
          )
        },
      }
      head = { ...head, length: Infinity }
      {
        const url = req.url ?? '/'
        const send = (status: number, out: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(Buffer.isBuffer(out) ? out : JSON.stringify(out))
        }
        let m: RegExpExecArray | null
        if (req.method === 'GET' && url === '/objects')
          return send(
            200,
            [...objects].map(([sha, b]) => ({ sha256: sha, size: String(b.length) })),
          )
        if ((m = /^\/objects\/([0-9a-f]{64})$/.exec(url)) !== null) {
          if (req.method === 'GET') return objects.has(m[1]) ? send(200, objects.get(m[1])) : send(404, { Error: 'Object not found' })
          if (createHash('sha256').update(body).digest('hex') !== m[1]) return send(422, { Error: 'Object has bad checksum' })
          objects.set(m[1], Buffer.from(body))
          return send(200, {})
        }
        if (req.method === 'GET' && url === '/steps')
          return send(
            200,
            [...steps].map(([name, s]) => ({ name, date: '', commitmsg: '', progress: s.progress })),
          )
        if ((m = /^\/steps\/(locals\/[^/]+)\/progress$/.exec(url)) !== null)
          return steps.has(m[1]) ? send(200, steps.get(m[1])?.progress) : send(404, { Error: 'Step not found' })
        if ((m = /^\/steps\/(locals\/[^/]+)\/commitmsg$/.exec(url)) !== null) return send(200, {})
        if ((m = /^\/steps\/(locals\/[^/]+)$/.exec(url)) !== null) {
          if (req.method === 'GET') return steps.has(m[1]) ? send(200, steps.get(m[1])?.json) : send(404, { Error: 'Step not found' })
          try {
            JSON.parse(body.toString())
          } catch {
            return send(422, { Error: 'State verification has failed' })
          }
          steps.set(m[1], { json: body, progress: { status: 'NEW', 'status-msg': 'Ready to be run', progress: 0 } })
          return send(200, {})
        }
        if (req.method === 'POST' && url === '/commands') {
          const cmd = JSON.parse(body.toString()) as { op: string; payload: string }
          const step = steps.get(cmd.payload)
          if (cmd.op !== 'LOCAL_RUN' || step === undefined) return send(400, { Error: 'Command not accepted' })
          const state = JSON.parse(step.json.toString()) as Record<string, unknown>
          const lacking = Object.values(state).filter(v => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) && !objects.has(v))
          step.progress = { status: 'INPROGRESS', 'status-msg': 'Update in progress', progress: 50 }
          setTimeout(() => {
            step.progress =
              lacking.length > 0
                ? { status: 'ERROR', 'status-msg': 'Object missing', progress: 100 }
                : { status: 'UPDATED', 'status-msg': 'Update finished', progress: 100 }
          }, 150)
          return send(200, {})
        }
        send(404, { Error: 'Not found' })
      }
    })
  })
  await new Promise<void>(resolve => server.listen(sock, resolve))
  t.after(
    () =>
      new Promise<void>(resolve => {
        server.close(() => {
          resolve()
        })
      }),
  )
  return { sock, kind: 'pv-ctrl double', get: p => call(sock, 'GET', p) }
}
