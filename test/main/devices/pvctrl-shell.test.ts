/** The SSH driver's commands, run here by sh against the simulator's socket (no sshd needed). */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { silentLogger } from '../../../shared/log.js'
import { curlCommand, findSocketScript, shq } from '../../../main/devices/drivers/pvctrl-shell.js'
import { DeviceSimulator } from '../../../main/devices/sim/index.js'
import { tempDir } from '../../helpers/tmp.js'
import { has } from '../../integration/devices-harness.js'

function sh(cmd: string, input?: Buffer): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise(resolve => {
    const c = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    c.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    c.on('close', code => {
      resolve({ code, out, err })
    })
    c.stdin.end(input)
  })
}

describe('pv-ctrl commands for the ssh driver', () => {
  it('shq quotes anything for sh', async () => {
    for (const s of ["it's", 'a b', '$HOME `x` "q"', '\\n']) assert.equal((await sh(`printf %s ${shq(s)}`)).out, s)
  })

  it('GET, PUT with stdin and Content-Length, POST a command: status on the last line', async t => {
    if (!has('curl')) {
      t.skip('curl is not installed')
      return
    }
    const dir = await tempDir(t)
    const sim = new DeviceSimulator({ log: silentLogger() }, { dir: join(dir, 'dev'), http: null, fast: true })
    const { socket } = await sim.start()
    t.after(async () => {
      await sim.stop()
    })
    const data = randomBytes(300_000)
    const sha = createHash('sha256').update(data).digest('hex')
    const put = await sh(curlCommand({ method: 'PUT', path: `/objects/${sha}`, uploadLength: data.length }, socket), data)
    assert.equal(put.code, 0, put.err)
    assert.match(put.out, /\n200$/)
    const list = await sh(curlCommand({ method: 'GET', path: '/objects' }, socket))
    assert.match(list.out, new RegExp(`"sha256":"${sha}","size":"${data.length}"`))
    const cmd = await sh(curlCommand({ method: 'POST', path: '/commands', data: true }, socket), Buffer.from('{"op":"RUN_GC","payload":""}'))
    assert.match(cmd.out, /\n200$/)
    const none = await sh(curlCommand({ method: 'GET', path: '/objects' }, join(dir, 'nope')))
    assert.equal(none.code, 7, 'no socket: curl exit 7 (the driver says the device does not answer)')
    const guess = await sh(curlCommand({ method: 'GET', path: '/objects' }, null))
    assert.equal(guess.code, 90, 'no socket at pvcontrol paths: exit 90')
  })

  it("without a socket given, the first of pvcontrol's paths that is a socket is used, not the last one tried", async t => {
    const dir = await tempDir(t)
    const sim = new DeviceSimulator({ log: silentLogger() }, { dir: join(dir, 'dev'), http: null, fast: true })
    const { socket } = await sim.start()
    t.after(async () => {
      await sim.stop()
    })
    const found = await sh(`${findSocketScript([join(dir, 'none'), socket, join(dir, 'later')])}; printf %s "$S"`)
    assert.equal(found.out, socket)
    assert.equal((await sh(findSocketScript([join(dir, 'none')]))).code, 90)
  })
})
