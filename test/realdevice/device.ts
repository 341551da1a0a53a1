/** Asking a real device (the kit's relay socket) directly, to compare with what Fieldsync reports. */
import { request } from 'node:http'
import type { KitDevice } from '../helpers/pvkit.js'

export function deviceGet(dev: KitDevice, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: dev.socket, path, method: 'GET', timeout: timeoutMs }, res => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => {
      req.destroy(new Error(`${path}: no answer within ${timeoutMs} ms`))
    })
    req.on('error', reject)
    req.end()
  })
}

/** GET a JSON answer, riding out the moments pv-ctrl does not answer (reboots, the end of an update). */
export async function deviceJson<T>(dev: KitDevice, path: string, tries = 30): Promise<T> {
  let last: unknown
  for (let i = 0; i < tries; i++) {
    try {
      const a = await deviceGet(dev, path)
      if (a.status === 200 && a.body !== '') return JSON.parse(a.body) as T
      last = new Error(`${path}: ${a.status} ${a.body.slice(0, 200)}`)
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  throw last as Error
}
