/** The size claims of `have` answers, checked before a pull plans anything (issue #15, items 4 and 5). */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { chooseHolders, EMPTY_SHA256, impossibleSize } from '../../../main/peers/pull/holders.js'
import { ObjectsLimits } from '../../../main/peers/objects/protocol.js'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')
const [x, y] = [sha('x'), sha('y')]

describe('peers: size claims', () => {
  it('sizes no object can have are refused', () => {
    assert.equal(createHash('sha256').digest('hex'), EMPTY_SHA256)
    assert.equal(impossibleSize(x, 1000), undefined)
    assert.equal(impossibleSize(EMPTY_SHA256, 0), undefined)
    assert.equal(impossibleSize(x, ObjectsLimits.maxObjectBytes), undefined)
    for (const [s, n] of [
      [x, 0],
      [EMPTY_SHA256, 1],
      [x, Number.MAX_SAFE_INTEGER],
      [x, ObjectsLimits.maxObjectBytes + 1],
      [x, -1],
      [x, 1.5],
    ] as const) {
      assert.notEqual(impossibleSize(s, n), undefined, `${s.slice(0, 8)} ${n}`)
    }
    assert.notEqual(impossibleSize(x, 5000, 4000), undefined, 'more than the peer lists for the whole revision')
  })

  it('a peer with one impossible claim is used for nothing; the majority of the rest wins, a tie the smaller size', () => {
    const { wanted, refused } = chooseHolders(
      [x, y],
      [
        {
          peer: 'liar',
          have: new Map([
            [x, 10],
            [y, 0],
          ]),
        },
        {
          peer: 'A',
          have: new Map([
            [x, 10],
            [y, 20],
          ]),
        },
        {
          peer: 'B',
          have: new Map([
            [x, 12],
            [y, 20],
          ]),
        },
        { peer: 'C', have: new Map([[y, 21]]) },
      ],
    )
    assert.deepEqual(
      wanted.map(w => [w.size, [...w.holders].sort()]),
      [
        [10, ['A']],
        [20, ['A', 'B']],
      ],
    )
    assert.deepEqual(
      refused.map(c => [c.peer, c.sha, c.direct]),
      [
        ['liar', y, true],
        ['liar', x, false],
      ],
    )
  })

  it('sizes that add up to more than the peer lists for the revision are refused', () => {
    const { wanted, refused } = chooseHolders(
      [x, y],
      [
        {
          peer: 'greedy',
          have: new Map([
            [x, 600],
            [y, 600],
          ]),
          listedBytes: 1000,
        },
        {
          peer: 'A',
          have: new Map([
            [x, 400],
            [y, 600],
          ]),
          listedBytes: 1000,
        },
      ],
    )
    assert.deepEqual(
      wanted.map(w => [w.size, [...w.holders]]),
      [
        [400, ['A']],
        [600, ['A']],
      ],
    )
    assert.deepEqual(
      refused.map(c => c.peer),
      ['greedy', 'greedy'],
    )
  })
})
