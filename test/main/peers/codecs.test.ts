/** Pure parts of the peers area: ranges, join codes, protocol codecs and validators. */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../shared/errors.js'
import { decodeCids, decodeHave, encodeCids, encodeHave, validateList, validateRequest } from '../../../main/peers/catalog/protocol.js'
import { encodeRangeRequest, validateRangeHeader, validateRangeRequest } from '../../../main/peers/objects/protocol.js'
import { cidOf } from '../../../shared/ids.js'
import { addRange, missingRanges, mergeRanges, parseRanges, prefixEnd, splitRanges } from '../../../main/peers/pull/ranges.js'
import { decodeJoinCode, encodeJoinCode, TeamStore, teamPrologue } from '../../../main/peers/team.js'
import { tempDir } from '../../helpers/tmp.js'
import { deadline } from '../../../main/peers/wire.js'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const PEER = '12D3KooWTestPeer'
const code = (fn: () => unknown) => {
  try {
    fn()
  } catch (e) {
    return (e as { code?: string }).code
  }
  return undefined
}

describe('peers: ranges', () => {
  it('merges, subtracts, splits on range multiples, finds the prefix', () => {
    assert.deepEqual(
      mergeRanges([
        [5, 8],
        [0, 3],
        [3, 4],
        [7, 10],
      ]),
      [
        [0, 4],
        [5, 10],
      ],
    )
    assert.deepEqual(
      missingRanges(12, [
        [2, 4],
        [6, 12],
      ]),
      [
        [0, 2],
        [4, 6],
      ],
    )
    assert.deepEqual(missingRanges(5, []), [[0, 5]])
    assert.deepEqual(splitRanges([[3, 21]], 8), [
      [3, 8],
      [8, 16],
      [16, 21],
    ])
    assert.equal(
      prefixEnd([
        [0, 5],
        [6, 9],
      ]),
      5,
    )
    assert.equal(
      prefixEnd(
        addRange(
          [
            [0, 5],
            [6, 9],
          ],
          [5, 6],
        ),
      ),
      9,
    )
    assert.equal(prefixEnd([[1, 5]]), 0)
  })

  it('refuses ranges read back from the database that do not fit the object', () => {
    assert.deepEqual(
      parseRanges(
        [
          [0, 4],
          [4, 8],
        ],
        8,
      ),
      [[0, 8]],
    )
    assert.equal(parseRanges([[0, 9]], 8), undefined)
    assert.equal(parseRanges([[3, 2]], 8), undefined)
    assert.equal(parseRanges('x', 8), undefined)
  })
})

describe('peers: teams', () => {
  it('join codes carry the secret and name, and catch typos', () => {
    const secret = new Uint8Array(randomBytes(32))
    const c = encodeJoinCode(secret, 'Site Nord')
    const d = decodeJoinCode(`  ${c.toUpperCase().replace(/\.[^.]*$/, '')}${c.slice(c.indexOf('.'))} `)
    assert.deepEqual(d.secret, secret)
    assert.equal(d.name, 'Site Nord')
    const flipped = c.slice(0, 6) + (c[6] === 'a' ? 'b' : 'a') + c.slice(7)
    assert.equal(
      code(() => decodeJoinCode(flipped)),
      ErrorCodes.BadInput,
    )
    assert.equal(
      code(() => decodeJoinCode('hello')),
      ErrorCodes.BadInput,
    )
    assert.equal(
      code(() => decodeJoinCode(c.slice(0, 30))),
      ErrorCodes.BadInput,
    )
  })

  it('the team file is private; create refuses to replace a team without --force; no team is a clear error', async t => {
    const home = join(await tempDir(t), 'h')
    const store = new TeamStore(home)
    await assert.rejects(store.require(), (e: { code?: string }) => e.code === ErrorCodes.NotInTeam)
    const { team, code: c } = await store.create({ name: 'x' })
    assert.equal((await stat(store.file)).mode & 0o777, 0o600)
    await assert.rejects(store.create(), (e: { code?: string }) => e.code === ErrorCodes.Usage)
    const other = new TeamStore(join(home, '..', 'g'))
    const joined = await other.join(c)
    assert.equal(joined.id, team.id)
    assert.deepEqual(teamPrologue(joined.secret), teamPrologue(team.secret))
    const { team: t2 } = await store.create({ force: true })
    assert.notDeepEqual(teamPrologue(t2.secret), teamPrologue(team.secret))
  })
})

describe('peers: catalog codecs', () => {
  it('answers "which of these shas" for thousands in a compact bitfield with sizes', () => {
    const shas = Array.from({ length: 5000 }, (_, i) => sha(String(i)))
    const sizes = shas.map((_, i) => (i % 500 === 7 ? i * 1000 : undefined))
    const enc = encodeHave(sizes)
    assert.equal(enc.byteLength, 625 + 10 * 8)
    const dec = decodeHave(enc, shas)
    assert.equal(dec.size, 10)
    assert.equal(dec.get(shas[507]), 507000)
    assert.deepEqual(decodeCids(encodeCids(shas.slice(0, 3)), 3, PEER), shas.slice(0, 3))
  })

  it('rejects malformed answers and requests', () => {
    const shas = [sha('a'), sha('b'), sha('c')]
    const good = encodeHave([5, undefined, 7])
    assert.equal(
      code(() => decodeHave(good.subarray(0, good.length - 1), shas)),
      ErrorCodes.Protocol,
    )
    assert.equal(
      code(() => decodeHave(Uint8Array.from([...good, 0]), shas)),
      ErrorCodes.Protocol,
    )
    assert.equal(
      code(() => decodeHave(Uint8Array.from([0b1000]), shas)),
      ErrorCodes.Protocol,
      'bit past the list',
    )
    for (const bad of [
      null,
      [],
      { t: 'nope' },
      { t: 'state', cid: 'x' },
      { t: 'state', id: sha('x') },
      { t: 'have', n: 0 },
      { t: 'have', n: 1e9 },
      { t: 'hello', name: 'a', catalog: 'ZZ' },
    ]) {
      assert.equal(
        code(() => validateRequest(bad, PEER)),
        ErrorCodes.Protocol,
        JSON.stringify(bad),
      )
    }
    assert.deepEqual(validateRequest({ t: 'hello', name: 'lap\u0007top', catalog: 'ab' }, PEER), { t: 'hello', name: 'laptop', catalog: 'ab' })
    assert.equal(
      code(() => validateList({ revisions: [{ cid: cidOf(sha('x')), names: ['../etc'], bytes: 1, objects: 1, complete: true }] }, PEER)),
      ErrorCodes.Protocol,
    )
    // A name no library can hold (it looks like an id): the puller would fail taking it.
    assert.equal(
      code(() => validateList({ revisions: [{ cid: cidOf(sha('x')), names: ['0123456789abcdef'], bytes: 1, objects: 1, complete: true }] }, PEER)),
      ErrorCodes.Protocol,
    )
    assert.equal(
      code(() => validateList({ revisions: [{ cid: cidOf(sha('x')), names: [], bytes: -1, objects: 1, complete: true }] }, PEER)),
      ErrorCodes.Protocol,
    )
    assert.equal(validateList({ revisions: [{ cid: cidOf(sha('x')), names: ['a'], bytes: 1, objects: 1, complete: true, extra: 1 }] }, PEER).length, 1)
  })

  it('object ranges: requests and headers are checked against each other', () => {
    const req = validateRangeRequest(encodeRangeRequest({ sha: sha('o'), offset: 8, length: 4 }), PEER)
    assert.deepEqual(req, { sha: sha('o'), offset: 8, length: 4 })
    assert.equal(
      code(() => validateRangeRequest({ cid: cidOf(sha('o')), offset: -1, length: 4 }, PEER)),
      ErrorCodes.Protocol,
    )
    assert.equal(
      code(() => validateRangeRequest({ cid: cidOf(sha('o')), offset: 0, length: 1 << 30 }, PEER)),
      ErrorCodes.Protocol,
    )
    assert.equal(
      code(() => validateRangeRequest({ sha: sha('o'), offset: 0, length: 4 }, PEER)),
      ErrorCodes.Protocol,
      'a 1.0.0 request (hex sha)',
    )
    assert.deepEqual(validateRangeHeader({ size: 12, offset: 8, length: 4 }, req), { size: 12, offset: 8, length: 4 })
    assert.equal(
      code(() => validateRangeHeader({ size: 12, offset: 0, length: 4 }, req)),
      ErrorCodes.Protocol,
    )
    assert.equal(
      code(() => validateRangeHeader({ size: 10, offset: 8, length: 4 }, req)),
      ErrorCodes.Protocol,
    )
  })
})

describe('peers: deadlines', () => {
  it('fire even after a garbage collection (AbortSignal.any + AbortSignal.timeout does not, on Node 20)', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const parent = new AbortController()
    const d = deadline(parent.signal, 150)
    const t0 = Date.now()
    const fired = new Promise<number>(resolve =>
      d.signal.addEventListener(
        'abort',
        () => {
          resolve(Date.now() - t0)
        },
        { once: true },
      ),
    )
    gc()
    const ms = await Promise.race([
      fired,
      new Promise<number>(resolve =>
        setTimeout(() => {
          resolve(-1)
        }, 2000),
      ),
    ])
    d.done()
    assert.ok(ms >= 100, `fired after ${ms} ms`)
    assert.equal((d.signal.reason as Error).name, 'TimeoutError')
    // The parent's abort passes through.
    const p2 = new AbortController()
    const d2 = deadline(p2.signal, 10_000)
    p2.abort(new Error('stop'))
    assert.equal(d2.signal.aborted, true)
    d2.done()
  })
})
