/**
 * Hex sha256 names, as the library, the CLI and the UI write them. Apart
 * from ids.ts (which adds the CIDs of the peer wire) so that code that needs
 * only the hex form, the store on every command's path, loads no multiformats.
 */
import { BadObjectNameError } from './errors.js'

export const SHA256_HEX = /^[0-9a-f]{64}$/

export function isSha256Hex(s: unknown): s is string {
  return typeof s === 'string' && SHA256_HEX.test(s)
}

export function assertSha256Hex(s: unknown, what: string): string {
  if (!isSha256Hex(s)) throw new BadObjectNameError(`${what}: ${JSON.stringify(s)} is not a sha256 (64 lowercase hex characters)`)
  return s
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function bytesToHex(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0')
  return s
}
