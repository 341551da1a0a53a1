/**
 * SSH host keys pinned on first use, in `<home>/known_devices`, one line per
 * device in OpenSSH's known_hosts form: `[host]:port <type> <base64 key>`.
 * A device that shows another key is refused until its line is removed (a
 * re-flashed device gets a new key; so does an impostor).
 */
import { createHash } from 'node:crypto'
import { appendFile, mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { HostKeyMismatchError } from '../../../shared/errors.js'

export interface HostKeyInfo {
  host: string
  port: number
  type: string
  /** OpenSSH style: SHA256:<base64, no padding>. */
  fingerprint: string
  /** new: pinned just now; known: matched the pinned key. */
  pinned: 'new' | 'known'
}

export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '')
}

/** The key type named inside an SSH public key blob. */
export function keyType(key: Buffer): string {
  if (key.length < 4) return 'unknown'
  const n = key.readUInt32BE(0)
  return n > 0 && n < 64 && key.length >= 4 + n ? key.subarray(4, 4 + n).toString('latin1') : 'unknown'
}

function label(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

export class KnownDevices {
  constructor(readonly file: string) {}

  private async lines(): Promise<string[]> {
    return (await readFile(this.file, 'utf8').catch(() => '')).split('\n').filter(l => l.trim() !== '' && !l.startsWith('#'))
  }

  /** Check `key` for host:port, pinning it when the device is new. Throws HostKeyMismatchError. */
  async check(host: string, port: number, key: Buffer): Promise<HostKeyInfo> {
    const name = label(host, port)
    const b64 = key.toString('base64')
    const info = { host, port, type: keyType(key), fingerprint: fingerprint(key) }
    const mine = (await this.lines()).map(l => l.split(/\s+/)).filter(p => p[0] === name)
    if (mine.length === 0) {
      await mkdir(dirname(this.file), { recursive: true })
      await appendFile(this.file, `${name} ${info.type} ${b64}\n`, { mode: 0o600 })
      return { ...info, pinned: 'new' }
    }
    if (mine.some(p => p[2] === b64)) return { ...info, pinned: 'known' }
    const was = mine[0][2] === undefined ? 'unknown' : fingerprint(Buffer.from(mine[0][2], 'base64'))
    throw new HostKeyMismatchError(
      `${name}: the device's SSH host key is ${info.fingerprint}, but ${was} was pinned for it: refusing to connect. ` +
        `If the device was re-flashed, remove the line for ${name} from ${this.file} and try again`,
      { host, port, fingerprint: info.fingerprint, pinned: was, file: this.file },
    )
  }
}
