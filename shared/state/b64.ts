/** base64url, as JWS protected headers use it. */

const B64URL = /^[A-Za-z0-9_-]*$/

/** Decode base64url (no padding) to text; null when not base64url. */
export function base64UrlToText(s: string): string | null {
  if (!B64URL.test(s) || s.length % 4 === 1) return null
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const bytes: number[] = []
  let acc = 0
  let bits = 0
  for (const ch of s) {
    acc = (acc << 6) | alphabet.indexOf(ch)
    bits += 6
    if (bits >= 8) {
      bits -= 8
      bytes.push((acc >> bits) & 0xff)
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes))
  } catch {
    return null
  }
}
