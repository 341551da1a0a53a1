/** The simulator's HTTP/1.1 server takes what Pantavisor's takes and Node's parser refuses. */
import assert from 'node:assert/strict'
import { createConnection, createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { readBody, serveHttp1 } from '../../../main/devices/sim/http1.js'
import { tempDir } from '../../helpers/tmp.js'

async function server(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const sock = join(await tempDir(t), 's')
  const srv = createServer()
  serveHttp1(
    srv,
    async (req, res) => {
      const body = await readBody(req, 1 << 20)
      res.send(200, JSON.stringify({ method: req.method, target: req.target, n: body?.length ?? -1, sum: body === null ? 0 : body.reduce((a, b) => a + b, 0) }))
    },
    () => {},
  )
  await new Promise<void>(resolve => {
    srv.listen(sock, resolve)
  })
  t.after(async () => {
    await new Promise<void>(resolve => {
      srv.close(() => {
        resolve()
      })
    })
  })
  return sock
}

/** Send raw bytes; collect everything until the server closes or `until` matches. */
function raw(sock: string, data: Array<string | Buffer>, until?: (s: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock)
    let out = ''
    const timer = setTimeout(() => {
      c.destroy()
      resolve(out)
    }, 3000)
    c.on('data', d => {
      out += d.toString()
      if (until?.(out) === true) {
        clearTimeout(timer)
        c.destroy()
        resolve(out)
      }
    })
    c.on('end', () => {
      clearTimeout(timer)
      resolve(out)
    })
    c.on('error', reject)
    for (const d of data) c.write(d)
  })
}

const bodies = (s: string): Array<Record<string, unknown>> => [...s.matchAll(/\r\n\r\n(\{[^}]*\})/g)].map(m => JSON.parse(m[1]) as Record<string, unknown>)

describe('sim HTTP/1.1 server', () => {
  it('Content-Length with Transfer-Encoding: identity (pvcontrol object PUT)', async t => {
    const sock = await server(t)
    const out = await raw(sock, [
      'PUT /objects/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\nhello',
    ])
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/)
    assert.deepEqual(bodies(out)[0], { method: 'PUT', target: '/objects/x', n: 5, sum: 532 })
  })

  it('stray empty lines after a GET (pvtx) and pipelined requests on one connection', async t => {
    const sock = await server(t)
    const out = await raw(
      sock,
      ['GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\n\r\n'],
      s => (s.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && s.endsWith('}'),
    )
    assert.deepEqual(
      bodies(out).map(b => b.target),
      ['/a', '/b'],
    )
  })

  it('HTTP/1.0 (pvcurl): the answer, then the connection closes', async t => {
    const sock = await server(t)
    const out = await raw(sock, ['GET /steps HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n'])
    assert.match(out, /Connection: close/)
    assert.equal(bodies(out)[0].target, '/steps')
  })

  it('chunked bodies, Expect: 100-continue, and a bad request line', async t => {
    const sock = await server(t)
    const out = await raw(sock, ['PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n', '2\r\nde\r\n0\r\n\r\n'])
    assert.deepEqual(bodies(out)[0], { method: 'PUT', target: '/c', n: 5, sum: 495 })
    const cont = await raw(sock, ['PUT /d HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n'], s => s.includes('100 Continue'))
    assert.match(cont, /^HTTP\/1\.1 100 Continue\r\n\r\n/)
    assert.match(await raw(sock, ['NONSENSE\r\n\r\n']), /^HTTP\/1\.1 400 /)
  })
})
