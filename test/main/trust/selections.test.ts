/**
 * Signatures that share their globs share one selection of the state's keys
 * (issue #15, item 15: a state of 8,500 junk `_sigs` entries made `ls` take
 * 34 s here, each signature matching its globs against every key; one pass
 * per distinct glob set brings it to 2 s). The verdicts stay those of one
 * selection per signature.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tokenize, topLevelPairs } from '../../../main/trust/jsmn.js'
import { stateEntries, type Selection } from '../../../main/trust/payload.js'
import { checkSignature, parsePvs } from '../../../main/trust/signature.js'
import { emptyAnchors, verifyStateSignatures } from '../../../main/trust/index.js'

function junkState (n: number, include: string[][]): string {
  const st: Record<string, unknown> = { '#spec': 'pantavisor-service-system@1', 'bsp/run.json': { linux: 'k', initrd: 'i' }, 'bsp/k': 'a'.repeat(64), 'app/run.json': {} }
  for (let i = 0; i < n; i++) {
    const protectedHeader = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'PVS', pvs: { include: include[i % include.length], exclude: [] } })).toString('base64url')
    st[`_sigs/j${i}.json`] = { '#spec': 'pvs@2', protected: protectedHeader, signature: 'AAAA' }
  }
  return JSON.stringify(st)
}

describe('signature selections', () => {
  it('one selection per distinct include/exclude set, the same keys covered as when each signature selects alone', () => {
    const text = junkState(6, [['bsp/**'], ['app/**']])
    const toks = tokenize(text)
    assert.ok(toks !== null)
    const pairs = topLevelPairs(text, toks)
    assert.ok(pairs !== null)
    const shared = stateEntries(pairs)
    const alone = stateEntries(pairs)
    const selections = new Map<string, Selection>()
    const now = new Date()
    const trust = emptyAnchors()
    for (const e of shared.filter(x => x.key.startsWith('_sigs/'))) {
      const p = parsePvs(e.raw)
      assert.ok(p !== null && 'pvs' in p)
      const a = checkSignature(e.key, p.pvs, { entries: shared, trust, now, selections })
      const b = checkSignature(e.key, p.pvs, { entries: alone, trust, now })
      assert.deepEqual(a.covers, b.covers)
      assert.equal(a.ok, b.ok)
    }
    assert.equal(selections.size, 2, 'two glob sets, two selections')
    assert.deepEqual(shared.map(e => e.covered === true), alone.map(e => e.covered === true))
  })

  it('a state of 3,000 signatures with one glob set: every signature is checked and reported', () => {
    const r = verifyStateSignatures(junkState(3000, [['bsp/**']]), { trust: emptyAnchors(), policy: 'lenient' })
    assert.equal(r.signatures.length, 3000)
    assert.ok(r.signatures.every(s => s.covers.includes('bsp/run.json')))
  })
})
