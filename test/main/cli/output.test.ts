import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { eta, table } from '../../../main/cli/output.js'

describe('cli output', () => {
  it('ETA: unknown for the first second or before any byte, then time left at the average rate', () => {
    assert.equal(eta(1 << 20, 2 ** 31, 0.05), '--')
    assert.equal(eta(0, 100, 5), '--')
    assert.equal(eta(50, 100, 10), '10s')
    assert.equal(eta(10, 100, 10), '1m30s')
    assert.equal(eta(1, 10_000, 1), '2h46m')
    assert.equal(eta(100, 100, 0), '0s')
  })

  it('tables pad every column but the last', () => {
    assert.equal(table([['a', 'bb', 'c'], ['ddd', 'e', 'f']], ['X', 'Y', 'Z']), 'X    Y   Z\na    bb  c\nddd  e   f')
  })
})
