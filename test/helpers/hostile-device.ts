/**
 * A hostile pvr-sdk endpoint: what a compromised or broken device could
 * answer, which neither upstream Pantavisor nor the simulator ever does. It
 * speaks just enough of the pvr remote protocol (main/devices/sim/pvrsdk.ts)
 * for an install to reach the progress poll: `.pvrremote`, `device-meta`,
 * the object POST (409: the device has every object, so nothing is
 * uploaded), the post that stores and runs the step, and the step's
 * progress, whose body the test supplies (a string, or a stream of bytes).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'

export interface HostileDevice {
  /** The pvr-sdk base URL (`http://127.0.0.1:<port>/cgi-bin/pvr`). */
  url: string
  /** `127.0.0.1:<port>`, as `--device` takes it. */
  address: string
  port: number
  stop: () => Promise<void>
}

export interface HostileOptions {
  /** The progress answer: a body, or the bytes of one (sent chunked, no Content-Length). */
  progress: () => string | { stream: () => Readable }
}

export async function startHostileDevice(t: { after: (fn: () => Promise<void>) => void }, opts: HostileOptions): Promise<HostileDevice> {
  const base = '/cgi-bin/pvr'
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://device')
    const send = (status: number, body: unknown): void => {
      const b = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(b.length) })
      res.end(b)
    }
    req.resume()
    req.on('end', () => {
      const rest = url.pathname.slice(base.length)
      const abs = `http://${req.headers.host ?? ''}${base}`
      if (rest === '/.pvrremote') {
        send(200, {
          'pvr-spec': 'pvr-sdk-1',
          'json-key': 'state',
          'objects-endpoint': `${abs}/objects`,
          'post-url': `${abs}/post`,
          'step-get-url': `${abs}/steps`,
          'device-meta-url': `${abs}/device-meta`,
        })
      } else if (rest === '/device-meta') {
        send(200, { 'pantavisor.revision': '0', 'pantavisor.status': 'READY', 'pantavisor.mode': 'local', storage: { real_free: 1 << 30 } })
      } else if (rest === '/objects' && req.method === 'POST') {
        send(409, { Error: 'object exists' })
      } else if (rest === '/post' && req.method === 'POST') {
        send(200, { rev: -1 })
      } else if (rest.startsWith('/steps/') && rest.endsWith('/progress')) {
        const p = opts.progress()
        if (typeof p === 'string') {
          send(200, p)
          return
        }
        res.writeHead(200, { 'Content-Type': 'application/json' })
        const s = p.stream()
        s.on('error', () => {
          res.destroy()
        })
        res.on('close', () => {
          s.destroy()
        })
        s.pipe(res)
      } else {
        send(404, { Error: 'not found' })
      }
    })
  })
  await new Promise<void>(resolve => {
    server.listen(0, '127.0.0.1', resolve)
  })
  const port = (server.address() as AddressInfo).port
  const stop = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>(resolve => {
      server.close(() => {
        resolve()
      })
    })
  }
  t.after(stop)
  return { url: `http://127.0.0.1:${port}${base}`, address: `127.0.0.1:${port}`, port, stop }
}

/** `bytes` of a JSON document, in 1 MiB chunks, never held whole: `{"status":"UPDATED","status-msg":"xxx...` cut at `bytes`. */
export function oversizedProgress(bytes: number): Readable {
  const head = Buffer.from('{"status":"UPDATED","status-msg":"')
  let sent = 0
  const chunk = Buffer.alloc(1 << 20, 0x78)
  return new Readable({
    read() {
      if (sent >= bytes) {
        this.push(null)
        return
      }
      const b = sent === 0 ? head : chunk
      const n = Math.min(b.length, bytes - sent)
      sent += n
      this.push(b.subarray(0, n))
    },
  })
}
