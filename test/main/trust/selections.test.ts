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
import { compileGlob } from '../../../main/trust/fnmatch.js'
import { KeyIndex, selectPayload, stateEntries, type Selection } from '../../../main/trust/payload.js'
import { checkSignature, parsePvs } from '../../../main/trust/signature.js'
import { checkPolicy, emptyAnchors, SignatureLimits, verifyStateSignatures } from '../../../main/trust/index.js'

function junkState(n: number, include: string[][]): string {
  const st: Record<string, unknown> = {
    '#spec': 'pantavisor-service-system@1',
    'bsp/run.json': { linux: 'k', initrd: 'i' },
    'bsp/k': 'a'.repeat(64),
    'app/run.json': {},
  }
  for (let i = 0; i < n; i++) {
    const protectedHeader = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'PVS', pvs: { include: include[i % include.length], exclude: [] } })).toString(
      'base64url',
    )
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
    assert.deepEqual(
      shared.map(e => e.covered === true),
      alone.map(e => e.covered === true),
    )
  })

  it('a state of 1,000 signatures (the limit) with one glob set: every signature is checked and reported', () => {
    const r = verifyStateSignatures(junkState(SignatureLimits.signatures, [['bsp/**']]), { trust: emptyAnchors(), policy: 'lenient' })
    assert.equal(r.signatures.length, SignatureLimits.signatures)
    assert.ok(r.signatures.every(s => s.covers.includes('bsp/run.json')))
  })

  it('the keys a glob could match, found by its literal prefix, are the keys it matches', () => {
    const st: Record<string, unknown> = { '#spec': 'pantavisor-service-system@1' }
    for (const k of [
      'bsp/run.json',
      'bsp/kernel.img',
      'app/run.json',
      'app/lxc.conf',
      'app2/x',
      'ap',
      '_sigs/a.json',
      'a*b/c',
      'a[1]/z',
      'ä/x',
      'b/a/c',
      'device.json',
    ])
      st[k] = {}
    const text = JSON.stringify(st)
    const toks = tokenize(text)
    assert.ok(toks !== null)
    const pairs = topLevelPairs(text, toks)
    assert.ok(pairs !== null)
    const globs = [
      ['bsp/**'],
      ['app/*'],
      ['app*'],
      ['ap?/**'],
      ['*.json'],
      ['**'],
      ['a\\*b/c'],
      ['a[[]1]/*'],
      ['ä/**'],
      ['b/*/c'],
      ['device.json', 'app/**'],
      ['nothing/**'],
      ['[ab]*/**'],
    ]
    for (const inc of globs) {
      for (const exc of [[], ['app/lxc.conf'], ['*']]) {
        const plain = selectPayload(stateEntries(pairs), inc, exc)
        const indexed = stateEntries(pairs)
        const viaIndex = selectPayload(indexed, inc, exc, new KeyIndex(indexed))
        assert.deepEqual(
          viaIndex.included.map(e => e.key),
          plain.included.map(e => e.key),
          JSON.stringify([inc, exc]),
        )
        assert.deepEqual(
          viaIndex.excluded.map(e => e.key),
          plain.excluded.map(e => e.key),
          JSON.stringify([inc, exc]),
        )
        assert.equal(viaIndex.payload, plain.payload)
      }
    }
  })

  it('8,500 signatures over folders of their own are checked in one pass per signature over its own keys, not over every key', () => {
    const k = new KeyIndex(stateEntries(Array.from({ length: 8500 }, (_, i) => ({ rawKey: `c${i}/run.json`, raw: '{}', type: 'object' as const }))))
    // c42/** can match only keys that start with "c42": c42, c420-c429, c4200-c4299 (111 of 8,500).
    const c42 = k.candidates([compileGlob('c42/**')])
    assert.equal(c42.length, 111)
    assert.ok(c42.includes(42))
    assert.equal(k.candidates([compileGlob('*/run.json')]).length, 8500)
  })

  it('past the limits a state is INVALID, "too costly to check", at once: a device in any checking mode would be refused it', () => {
    const many = junkState(SignatureLimits.signatures + 1, [['bsp/**']])
    const r = verifyStateSignatures(many, { trust: emptyAnchors(), policy: 'lenient' })
    assert.equal(r.result, 'invalid')
    assert.match(r.summary, /^INVALID: too costly to check: 1001 signatures: more than the 1000/)
    assert.throws(() => checkPolicy(many, emptyAnchors(), 'lenient'), { code: 'E_POLICY_REFUSED', message: /too costly to check|not checked: 1001 signatures/ })
    assert.equal(checkPolicy(many, emptyAnchors(), 'disabled').pass, true, 'a device that checks nothing takes it')

    // Globs that start with a wildcard test every key: 900 of them over 20,000 keys spend the glob budget.
    const st: Record<string, unknown> = JSON.parse(
      junkState(
        900,
        Array.from({ length: 900 }, (_, i) => [`*${i}/**`]),
      ),
    ) as Record<string, unknown>
    for (let i = 0; i < 20_000; i++) st[`k${i}/x`] = 'v'
    const costly = verifyStateSignatures(JSON.stringify(st), { trust: emptyAnchors(), policy: 'strict' })
    assert.equal(costly.pass, false)
    assert.match(costly.summary, new RegExp(`too costly to check: 900 signatures over \\d+ keys: more than ${SignatureLimits.globTests} glob tests`))
  })
})
