/**
 * Teams: a 32-byte random secret shared by the laptops of one team, carried
 * in a join code. The node turns it into a Noise prologue (see
 * `teamPrologue`): two nodes complete the Noise handshake only when their
 * prologues are equal, so a laptop outside the team gets no connection at all.
 * The secret lives in `<home>/team.json` (mode 0600).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BadInputError, NotInTeamError, UsageError } from '../../shared/errors.js'

export const TEAM_FILE = 'team.json'
const CODE_PREFIX = 'fs1'
const SECRET_BYTES = 32
const CHECK_BYTES = 2
const B32 = 'abcdefghijklmnopqrstuvwxyz234567'

export interface TeamInfo {
  /** Public identifier (not secret): first 16 hex of HMAC(secret, "id"). */
  id: string
  name: string | null
  secret: Uint8Array
  createdAt: number
}

function base32(b: Uint8Array): string {
  let bits = 0
  let v = 0
  let out = ''
  for (const x of b) {
    v = (v << 8) | x
    bits += 8
    while (bits >= 5) {
      out += B32[(v >>> (bits - 5)) & 31]
      bits -= 5
    }
    v &= 0xff
  }
  if (bits > 0) out += B32[(v << (5 - bits)) & 31]
  return out
}

function unbase32(s: string): Uint8Array | undefined {
  const out: number[] = []
  let bits = 0
  let v = 0
  for (const ch of s) {
    const i = B32.indexOf(ch)
    if (i < 0) return undefined
    v = (v << 5) | i
    bits += 5
    if (bits >= 8) {
      out.push((v >>> (bits - 8)) & 0xff)
      bits -= 8
    }
    v &= 0xff
  }
  return Uint8Array.from(out)
}

function check(secret: Uint8Array): Uint8Array {
  return createHash('sha256').update('fieldsync-join-code').update(secret).digest().subarray(0, CHECK_BYTES)
}

export function teamIdOf(secret: Uint8Array): string {
  return createHmac('sha256', secret).update('fieldsync team v1 id').digest('hex').slice(0, 16)
}

/** The Noise prologue for a team: both ends must hold the same secret. */
export function teamPrologue(secret: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update('fieldsync team v1 noise prologue').digest())
}

/** `fs1-xxxxx-xxxxx-...` (55 base32 letters: secret + 2 check bytes), then `.` + base64url name when named. */
export function encodeJoinCode(secret: Uint8Array, name: string | null): string {
  const body = base32(Uint8Array.from([...secret, ...check(secret)]))
  const groups = body.match(/.{1,5}/g) ?? []
  const tail = name === null ? '' : '.' + Buffer.from(name, 'utf8').toString('base64url')
  return `${CODE_PREFIX}-${groups.join('-')}${tail}`
}

export function decodeJoinCode(code: string): { secret: Uint8Array; name: string | null } {
  const bad = (why: string) =>
    new BadInputError(
      `join code ${JSON.stringify(code.slice(0, 24) + (code.length > 24 ? '…' : ''))}: ${why}; copy it again from \`fieldsync team show\` on a team laptop`,
    )
  const trimmed = code.trim()
  const dot = trimmed.indexOf('.')
  const main = (dot < 0 ? trimmed : trimmed.slice(0, dot)).toLowerCase().replace(/[\s-]/g, '')
  if (!main.startsWith(CODE_PREFIX)) throw bad(`it does not start with ${CODE_PREFIX}-`)
  const raw = unbase32(main.slice(CODE_PREFIX.length))
  if (raw === undefined || raw.length !== SECRET_BYTES + CHECK_BYTES) throw bad('it has the wrong length or letters')
  const secret = raw.subarray(0, SECRET_BYTES)
  if (!timingSafeEqual(check(secret), raw.subarray(SECRET_BYTES))) throw bad('a letter is wrong (the check does not match)')
  let name: string | null = null
  if (dot >= 0) {
    name =
      Buffer.from(trimmed.slice(dot + 1), 'base64url')
        .toString('utf8')
        .replace(/[\p{C}]/gu, '')
        .slice(0, 64) || null
  }
  return { secret: Uint8Array.from(secret), name }
}

export class TeamStore {
  readonly file: string

  constructor(readonly home: string) {
    this.file = join(home, TEAM_FILE)
  }

  async load(): Promise<TeamInfo | null> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    let v: { version?: unknown; secret?: unknown; name?: unknown; createdAt?: unknown }
    try {
      v = JSON.parse(text)
    } catch {
      throw new BadInputError(`${this.file}: not valid JSON; join the team again with \`fieldsync team join <code>\``)
    }
    const secret = typeof v.secret === 'string' ? Buffer.from(v.secret, 'base64url') : undefined
    if (v.version !== 1 || secret === undefined || secret.length !== SECRET_BYTES) {
      throw new BadInputError(`${this.file}: not a team file this version understands; join the team again with \`fieldsync team join <code>\``)
    }
    return {
      id: teamIdOf(secret),
      name: typeof v.name === 'string' ? v.name : null,
      secret: new Uint8Array(secret),
      createdAt: typeof v.createdAt === 'number' ? v.createdAt : 0,
    }
  }

  /** The team, or a clear error telling how to get one. */
  async require(): Promise<TeamInfo> {
    const t = await this.load()
    if (t === null)
      throw new NotInTeamError('this laptop is in no team yet: run `fieldsync team create` on one laptop, then `fieldsync team join <code>` on the others')
    return t
  }

  private async save(secret: Uint8Array, name: string | null): Promise<TeamInfo> {
    await mkdir(this.home, { recursive: true })
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`
    const body = JSON.stringify({ version: 1, name, secret: Buffer.from(secret).toString('base64url'), createdAt: Date.now() }) + '\n'
    await writeFile(tmp, body, { mode: 0o600 })
    await chmod(tmp, 0o600)
    await rename(tmp, this.file)
    const t = await this.load()
    if (t === null) throw new Error('team file vanished')
    return t
  }

  async create(opts: { name?: string; force?: boolean } = {}): Promise<{ team: TeamInfo; code: string }> {
    const existing = await this.load()
    if (existing !== null && opts.force !== true) {
      throw new UsageError(
        `this laptop is already in team ${existing.name ?? existing.id}: \`fieldsync team show\` prints its join code; add --force to replace it with a new team`,
      )
    }
    const team = await this.save(new Uint8Array(randomBytes(SECRET_BYTES)), opts.name ?? null)
    return { team, code: encodeJoinCode(team.secret, team.name) }
  }

  async join(code: string): Promise<TeamInfo> {
    const { secret, name } = decodeJoinCode(code)
    return await this.save(secret, name)
  }

  async leave(): Promise<void> {
    await rm(this.file, { force: true })
  }

  code(team: TeamInfo): string {
    return encodeJoinCode(team.secret, team.name)
  }
}
