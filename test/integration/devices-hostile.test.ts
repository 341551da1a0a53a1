/**
 * Hostile or broken devices (issue #15, items 9 and 10): every request to a
 * device has a deadline, a stalled upload is caught by its progress, and
 * what a device prints is capped. A pvr-sdk that stops reading an upload or
 * never answers after it, and an SSH forced command that prints without end
 * or never exits, each end with a typed error in seconds.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { has, importRev, makeRev, sshdProblem, startSim, startSshd } from './devices-harness.js'

/** A pvr-sdk that speaks pvr's protocol until the upload, then does `onPut`. */
async function badPvrSdk(
  t: { after: (fn: () => void) => void },
  onPut: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ address: string; puts: () => number }> {
  let puts = 0
  const server = createServer((req, res) => {
    const u = req.url ?? ''
    const send = (status: number, body: unknown): void => {
      req.resume()
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'PUT') {
      puts++
      onPut(req, res)
      return
    }
    if (u.endsWith('/.pvrremote'))
      send(200, { 'json-get-url': '/cgi-bin/pvr/json', 'objects-endpoint': '/cgi-bin/pvr/objects', 'post-url': '/cgi-bin/pvr/post' })
    else if (u.endsWith('/json')) send(200, { '#spec': 'pantavisor-service-system@1' })
    else if (u.endsWith('/objects')) send(200, { 'signed-puturl': '/cgi-bin/pvr/objects/x' })
    else send(404, { Error: 'no' })
  })
  await new Promise<void>(resolve => {
    server.listen(0, '127.0.0.1', resolve)
  })
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, puts: () => puts }
}

async function library(t: Parameters<typeof tempDir>[0], bytes: number): Promise<string> {
  const dir = await tempDir(t)
  const home = join(dir, 'home')
  const rev = await makeRev(join(dir, 'src'), 'h', [{ name: 'app', bytes }])
  await importRev(home, rev.tarball, 'site-app')
  return home
}

describe('hostile devices: deadlines by progress, capped answers', () => {
  it('a pvr-sdk that stops reading an upload: E_TIMEOUT after --stall, even though --timeout is 20 s', async t => {
    const home = await library(t, 24_000_000)
    // Small objects go through; the big one is never read past the socket buffers.
    const dev = await badPvrSdk(t, (req, res) => {
      if (Number(req.headers['content-length']) > 1_000_000) {
        req.pause()
        return
      }
      req.resume()
      req.on('end', () => {
        res.end('{}')
      })
    })
    const t0 = Date.now()
    const r = await runCli(['--json', 'install', 'site-app', '--device', dev.address, '--timeout', '20', '--stall', '2'], { home, timeoutMs: 60_000 })
    const took = Date.now() - t0
    assert.equal(r.code, 1, r.stderr)
    const e = (r.json() as { error: { code: string; message: string } }).error
    assert.equal(e.code, 'E_TIMEOUT')
    assert.match(e.message, /stopped taking the upload after \d+ of \d+ bytes|took no byte/)
    assert.ok(took < 15_000, `took ${took} ms`)
  })

  it('a pvr-sdk that takes the whole upload and never answers: E_TIMEOUT after --stall and its re-hash allowance', async t => {
    const home = await library(t, 300_000)
    const dev = await badPvrSdk(t, req => {
      req.resume()
    })
    const t0 = Date.now()
    const r = await runCli(['--json', 'install', 'site-app', '--device', dev.address, '--stall', '2'], { home, timeoutMs: 60_000 })
    assert.equal(r.code, 1, r.stderr)
    const e = (r.json() as { error: { code: string; message: string } }).error
    assert.equal(e.code, 'E_TIMEOUT')
    assert.match(e.message, /took all \d+ bytes but did not answer/)
    assert.ok(Date.now() - t0 < 15_000)
    assert.ok(dev.puts() >= 1)
  })

  it('over ssh, a device command that prints without end is cut at the answer cap (E_PROTOCOL), one that never exits at --stall (E_TIMEOUT)', async t => {
    const why = sshdProblem() ?? (has('curl') ? null : 'no curl')
    if (why !== null) {
      t.skip(why)
      return
    }
    const home = await library(t, 100_000)
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const sshd = await startSshd(t, join(dir, 'sshd'), { containers: ['pvr-sdk'], behave: { chatty: 'exec yes', sleepy: 'exec sleep 3600' } })
    const base = ['--json', 'install', 'site-app', '--device', `127.0.0.1:${sshd.port}`, '--via', 'ssh', '--ssh-key', sshd.key, '--ssh-socket', sim.socket]
    const chatty = await runCli([...base, '--ssh-user', 'chatty'], { home, timeoutMs: 60_000 })
    assert.equal(chatty.code, 1, chatty.stderr)
    const e1 = (chatty.json() as { error: { code: string; message: string } }).error
    assert.equal(e1.code, 'E_PROTOCOL')
    assert.match(e1.message, /answer passed 64\.0 MiB/)
    const t0 = Date.now()
    const sleepy = await runCli([...base, '--ssh-user', 'sleepy', '--stall', '2'], { home, timeoutMs: 60_000 })
    assert.equal(sleepy.code, 1, sleepy.stderr)
    const e2 = (sleepy.json() as { error: { code: string; message: string } }).error
    assert.equal(e2.code, 'E_TIMEOUT')
    assert.match(e2.message, /went quiet for 2 s/)
    assert.ok(Date.now() - t0 < 20_000)
  })
})
