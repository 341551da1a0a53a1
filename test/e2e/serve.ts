/** A colleague's laptop for e2e tests: `fieldsync serve --no-mdns` on loopback, its peer id and dialable address from its first JSON line. */
import { spawn, type ChildProcess } from 'node:child_process'
import { cliBin } from '../helpers/paths.js'

export interface Serve {
  child: ChildProcess
  peerId: string
  /** A loopback multiaddr that ends in /p2p/<peerId>. */
  addr: string
}

export async function startServe(home: string, o: { port?: number; name?: string } = {}): Promise<Serve> {
  const child = spawn(
    process.execPath,
    [cliBin, '--home', home, '--json', 'serve', '--no-mdns', '--listen', `/ip4/127.0.0.1/tcp/${o.port ?? 0}`, '--name', o.name ?? 'colleague-laptop'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const info = await new Promise<{ peerId: string; addrs: string[] }>((resolve, reject) => {
    const t = setTimeout(() => {
      reject(new Error(`serve printed nothing in 20 s: ${err}`))
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
      reject(new Error(`serve exited ${code}: ${err}`))
    })
  })
  const addr = info.addrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? info.addrs[0]
  return { child, peerId: info.peerId, addr: addr.includes('/p2p/') ? addr : `${addr}/p2p/${info.peerId}` }
}
