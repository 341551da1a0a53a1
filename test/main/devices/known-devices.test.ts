import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fingerprint, KnownDevices } from '../../../main/devices/drivers/known-devices.js'
import { tempDir } from '../../helpers/tmp.js'

function blob(type: string, body: string): Buffer {
  const t = Buffer.from(type)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(t.length)
  return Buffer.concat([len, t, Buffer.from(body)])
}

describe('known devices (host keys pinned on first use)', () => {
  it('pins a new key, accepts it again, refuses another one with E_HOST_KEY_MISMATCH', async t => {
    const dir = await tempDir(t)
    const k = new KnownDevices(join(dir, 'known_devices'))
    const a = blob('ssh-ed25519', 'key-a')
    const first = await k.check('10.0.0.7', 8222, a)
    assert.equal(first.pinned, 'new')
    assert.equal(first.type, 'ssh-ed25519')
    assert.equal(first.fingerprint, fingerprint(a))
    assert.match(first.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/)
    assert.equal(await readFile(join(dir, 'known_devices'), 'utf8'), `[10.0.0.7]:8222 ssh-ed25519 ${a.toString('base64')}\n`)
    assert.equal((await k.check('10.0.0.7', 8222, a)).pinned, 'known')
    await assert.rejects(
      k.check('10.0.0.7', 8222, blob('ssh-ed25519', 'key-b')),
      (e: { code?: string; message: string }) => e.code === 'E_HOST_KEY_MISMATCH' && e.message.includes('known_devices'),
    )
    assert.equal((await k.check('10.0.0.8', 22, blob('ssh-rsa', 'other'))).pinned, 'new', 'another device is another line')
  })
})
