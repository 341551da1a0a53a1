/**
 * Which revision a stick's tarball holds, found while its bytes pass for
 * another reason (hashed by verify, joined by import), so that a stick is
 * read once: the bytes are gunzipped (when gzip) and walked as tar, and the
 * `json` entry's state gives the revision id. A manifest can be rewritten
 * to match any tarball's hashes, so only this id says what the tarball is;
 * an export tarball has exactly one `json` (the library's import takes the
 * last one, so a second would be the one imported).
 */
import { PassThrough, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar from 'tar-stream'
import { parseState, revisionId, STATE_MAX_BYTES } from '../../shared/state/index.js'
import { capText } from './stick-file.js'

export type TarballState = { id: string } | { problem: string }

export class TarballStateProbe {
  private readonly head = new PassThrough()
  private readonly extract = tar.extract()
  private started = false
  private sniff: Buffer[] = []
  private sniffed = 0
  private piping: Promise<void> | undefined
  private jsons = 0
  private json: Buffer | undefined
  private failure: string | undefined

  /** `label` names the tarball in problems (the stick's file, never a temporary one). */
  constructor(private readonly label: string) {
    this.extract.on('entry', (h, stream, next) => {
      let name = h.name
      while (name.startsWith('./')) name = name.slice(2)
      const isJson = name === 'json' && (h.type === 'file' || h.type === 'contiguous-file')
      const keep = isJson && ++this.jsons === 1 && (h.size ?? 0) <= STATE_MAX_BYTES
      if (isJson && (h.size ?? 0) > STATE_MAX_BYTES)
        this.failure ??= `its json entry is ${h.size ?? 0} bytes, over the ${capText(STATE_MAX_BYTES)} cap for a state`
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => {
        if (keep) chunks.push(c as Buffer)
      })
      stream.on('end', () => {
        if (keep) this.json = Buffer.concat(chunks)
        next()
      })
      stream.resume()
    })
  }

  /**
   * The next bytes of the tarball. They are copied before this returns its
   * promise (the caller may reuse `b` at once); wait for the promise before
   * the next write.
   */
  async write(b: Buffer): Promise<void> {
    if (this.failure !== undefined) return
    if (!this.started) {
      // gzip or plain tar, as the library's import tells them apart: by the first two bytes.
      this.sniff.push(Buffer.from(b))
      this.sniffed += b.length
      if (this.sniffed < 2) return
      const first = Buffer.concat(this.sniff)
      this.sniff = []
      this.start(first)
      await this.push(first, false)
      return
    }
    await this.push(b)
  }

  private start(first: Buffer): void {
    this.started = true
    const gzip = first[0] === 0x1f && first[1] === 0x8b
    const stages: Writable[] = gzip ? [createGunzip({ chunkSize: 1 << 20 })] : []
    this.piping = pipeline([this.head, ...stages, this.extract] as unknown as [PassThrough, Writable]).catch((err: unknown) => {
      this.failure ??= `not a valid ${gzip ? 'gzip ' : ''}tar archive (${(err as Error).message})`
    })
  }

  private async push(b: Buffer, copy = true): Promise<void> {
    if (this.failure !== undefined || this.head.destroyed) return
    // A copy: the stages hold on to what they were given until they are through with it.
    const mine = copy ? Buffer.from(b) : b
    await Promise.race([
      // Once the chunk is taken: the stages' own limits then pace the writer.
      new Promise<void>(resolve => {
        this.head.write(mine, () => {
          resolve()
        })
      }),
      this.piping,
    ])
  }

  /** After the last byte: the revision id of the tarball's state, or what keeps it from having one. */
  async finish(): Promise<TarballState> {
    if (!this.started) {
      if (this.sniffed === 0) return { problem: `${this.label}: empty; not a pvr export tarball` }
      const first = Buffer.concat(this.sniff)
      this.start(first)
      this.head.write(first)
    }
    this.head.end()
    await this.piping
    if (this.failure !== undefined) return { problem: `${this.label}: ${this.failure}` }
    if (this.jsons === 0 || this.json === undefined) return { problem: `${this.label}: no json entry (the state): not a pvr export tarball` }
    if (this.jsons > 1) return { problem: `${this.label}: ${this.jsons} json entries; a pvr export tarball holds one state` }
    try {
      return { id: revisionId(parseState(this.json, `${this.label}: json entry`)) }
    } catch (err) {
      return { problem: (err as Error).message }
    }
  }

  /** Stop (the caller gave up): nothing more is read. */
  destroy(): void {
    this.failure ??= 'not read to its end'
    this.head.destroy()
    this.extract.destroy()
  }
}
