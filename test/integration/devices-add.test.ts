/**
 * Adding a device by address says what answered there (issue #17, item 2):
 * pvr-sdk, an SSH server's banner, a pv-ctrl socket; an address where nothing
 * answers is E_DEVICE_UNREACHABLE with a non-zero exit, not "found", unless
 * the technician insists with --offline: then the device is kept, labelled
 * offline.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempDir } from '../helpers/tmp.js'
import { startSim } from './devices-harness.js'

interface Row {
  deviceId: string
  pvrSdk: boolean
  reach: string | null
}

/** A TCP port on loopback that nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise<void>(resolve =>
    s.close(() => {
      resolve()
    }),
  )
  return port
}

describe('devices --device probes the address', () => {
  it('nothing answering is E_DEVICE_UNREACHABLE and exit 1; --offline keeps it, labelled offline', async t => {
    const home = join(await tempDir(t, 'dev-add-'), 'home')
    const port = await deadPort()
    const addr = `127.0.0.1:${port}`
    const started = Date.now()
    const r = await runCli(['--json', 'devices', '--no-mdns', '--device', addr], { home })
    assert.notEqual(r.code, 0, r.stdout)
    assert.equal(r.json().error.code, 'E_DEVICE_UNREACHABLE')
    assert.doesNotMatch(r.stderr, /found/)
    assert.ok(Date.now() - started < 15_000, 'the probe has a short deadline')
    const list = await runCli(['--json', 'devices', '--no-mdns'], { home })
    assert.deepEqual(list.json(), [], 'nothing was stored')

    const off = await runCli(['--json', 'devices', '--no-mdns', '--offline', '--device', addr], { home })
    assert.equal(off.code, 0, off.stderr)
    assert.deepEqual(
      (off.json() as Row[]).map(d => [d.deviceId, d.reach]),
      [[addr, 'offline']],
    )
    assert.match(off.stderr, /nothing answered; added offline/)
    const text = await runCli(['devices', '--no-mdns', '--offline', '--device', addr], { home })
    assert.match(text.stdout, /ANSWERS[\s\S]*offline/)

    const sock = await runCli(['--json', 'devices', '--no-mdns', '--device', `unix:${join(home, 'no-such-socket')}`], { home })
    assert.equal(sock.json().error.code, 'E_DEVICE_UNREACHABLE')
  })

  it('says what answered: pvr-sdk at the simulator, its pv-ctrl socket, an SSH banner', async t => {
    const dir = await tempDir(t, 'dev-add-')
    const home = join(dir, 'home')
    const sim = await startSim(t, join(dir, 'dev'))
    const r = await runCli(['--json', 'devices', '--no-mdns', '--device', sim.http], { home })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      (r.json() as Row[]).map(d => [d.deviceId, d.reach, d.pvrSdk]),
      [[sim.http, 'pvr-sdk', true]],
    )
    assert.match(r.stderr, /found \(pvr-sdk at 127\.0\.0\.1:\d+\)/)

    const s = await runCli(['--json', 'devices', '--no-mdns', '--device', `unix:${sim.socket}`], { home })
    assert.equal(s.code, 0, s.stderr)
    assert.deepEqual(
      (s.json() as Row[]).map(d => [d.deviceId, d.reach]),
      [[`unix:${sim.socket}`, 'pv-ctrl']],
    )

    // An SSH server's first line is its identification string (RFC 4253 §4.2).
    const ssh: Server = createServer(c => {
      c.end('SSH-2.0-dropbear_2022.83\r\n')
    })
    await new Promise<void>(resolve => ssh.listen(0, '127.0.0.1', resolve))
    t.after(() => {
      ssh.close()
    })
    const sshAddr = `127.0.0.1:${(ssh.address() as { port: number }).port}`
    const b = await runCli(['--json', 'devices', '--no-mdns', '--device', sshAddr], { home })
    assert.equal(b.code, 0, b.stderr)
    assert.deepEqual(
      (b.json() as Row[]).map(d => [d.deviceId, d.reach, d.pvrSdk]),
      [[sshAddr, 'ssh', false]],
    )
    assert.match(b.stderr, /SSH \(SSH-2\.0-dropbear_2022\.83\)/)
  })
})
