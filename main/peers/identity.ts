/**
 * The node's persistent identity: an Ed25519 key in `<home>/peer-key`
 * (protobuf, as libp2p marshals it; mode 0600). Loads @libp2p/crypto lazily.
 */
import type { PrivateKey } from '@libp2p/interface'
import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BadInputError } from '../../shared/errors.js'
import type { Logger } from '../../shared/log.js'

export const PEER_KEY_FILE = 'peer-key'

export async function loadOrCreatePeerKey(home: string, log: Logger): Promise<PrivateKey> {
  const { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } = await import('@libp2p/crypto/keys')
  const file = join(home, PEER_KEY_FILE)
  try {
    const bytes = await readFile(file)
    const st = await stat(file)
    if ((st.mode & 0o077) !== 0) await chmod(file, 0o600)
    try {
      return privateKeyFromProtobuf(bytes)
    } catch {
      throw new BadInputError(`${file}: not a libp2p private key; move it aside to make a new identity (peers will see a new peer id)`)
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(home, { recursive: true })
  // Write to a temp name, then link: two processes starting at once agree on one key.
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  try {
    await link(tmp, file)
    log('created peer identity in %s', file)
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return privateKeyFromProtobuf(await readFile(file))
  } finally {
    await rm(tmp, { force: true })
  }
}
