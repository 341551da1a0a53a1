/**
 * The device's glob matching (musl fnmatch with FNM_PATHNAME, signature.c's
 * "**" and "X/**" rewriting), the jsmn token semantics and the payload
 * rebuild. Expected values were checked against libc fnmatch (glibc agrees
 * with musl on all of them except a trailing backslash, noted below).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileGlob, dirname, fnmatchPathname, globMatches } from '../../../main/trust/fnmatch.js'
import { arrayStrings, getValue, tokenize, topLevelPairs } from '../../../main/trust/jsmn.js'
import { buildPayload, selectPayload, stateEntries } from '../../../main/trust/payload.js'

describe('fnmatch (musl, FNM_PATHNAME)', () => {
  const cases: Array<[string, string, boolean, boolean]> = [
    // pattern, string, FNM_LEADING_DIR, match
    ['pvwificonnect', 'pvwificonnect/run.json', true, true],
    ['pvwificonnect', 'pvwificonnect', true, true],
    ['pvwificonnect', 'pvwificonnect.json', true, false],
    ['pvwificonnect', 'pvwificonnectx/a', true, false],
    ['', 'a/b', true, false],
    ['', '/a', true, true],
    ['*', 'a/b', true, true],
    ['*', 'a/b', false, false],
    ['*.json', 'a.json', false, true],
    ['*.json', 'a/b.json', false, false],
    ['**/src.json', 'x/src.json', false, true],
    ['**/src.json', 'x/y/src.json', false, false],
    ['**/src.json', 'src.json', false, false],
    ['bsp/*', 'bsp/run.json', false, true],
    ['bsp/?un.json', 'bsp/run.json', false, true],
    ['bsp/[a-r]un.json', 'bsp/run.json', false, true],
    ['bsp/[!r]un.json', 'bsp/run.json', false, false],
    ['bsp/[^r]un.json', 'bsp/sun.json', false, true],
    ['a\\*b', 'a*b', false, true],
    ['a\\*b', 'axb', false, false],
    ['a[/]b', 'a/b', false, false],
    ['*/**', 'x/y/z', false, false],
    ['#spec', '#spec', false, true],
    ['[]a]', ']', false, true],
    ['[!]a]', 'b', false, true],
    ['[a-]', '-', false, true],
    ['[[:alpha:]]x', 'ax', false, true],
    ['[[:digit:]]x', 'ax', false, false],
    ['a*b*c', 'axxbyyc', false, true],
    ['a*b*c', 'axxbyy/c', false, false],
    ['a?c', 'a/c', false, false],
    ['a[b', 'a[b', false, true],
    ['x/y', 'x/yz', true, false],
    // musl: a trailing backslash is a literal backslash (glibc says no match)
    ['\\', '\\', false, true],
  ]
  for (const [p, s, ld, want] of cases) {
    it(`${JSON.stringify(p)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(s)}${ld ? ' (LEADING_DIR)' : ''}`, () => {
      assert.equal(fnmatchPathname(p, s, ld), want)
    })
  }
})

describe('signature.c glob rewriting', () => {
  it('dirname follows musl', () => {
    assert.equal(dirname('a/**'), 'a')
    assert.equal(dirname('a//**'), 'a')
    assert.equal(dirname('x/**/**'), 'x/**')
    assert.equal(dirname('**'), '.')
  })
  it('"X/**" covers X and everything under it, nothing beside it', () => {
    const g = compileGlob('pvwificonnect/**')
    assert.ok(globMatches(g, 'pvwificonnect/run.json'))
    assert.ok(globMatches(g, 'pvwificonnect/a/b/c'))
    assert.ok(!globMatches(g, 'pvwificonnect.json'))
    assert.ok(!globMatches(g, '_config/pvwificonnect/x'))
  })
  it('"**" alone matches nothing a state holds', () => {
    const g = compileGlob('**')
    for (const k of ['#spec', 'bsp/run.json', 'a']) assert.ok(!globMatches(g, k), k)
  })
  it('"**/**" (dirname "**") matches every key', () => {
    const g = compileGlob('**/**')
    for (const k of ['#spec', 'bsp/run.json', 'a/b/c']) assert.ok(globMatches(g, k), k)
  })
  it('"**" inside a pattern is one level', () => {
    const g = compileGlob('bsp/**/x.json')
    assert.ok(globMatches(g, 'bsp/a/x.json'))
    assert.ok(!globMatches(g, 'bsp/a/b/x.json'))
    assert.ok(!globMatches(g, 'bsp/x.json'))
  })
})

describe('jsmn token semantics', () => {
  it('pv_json_get_value finds the first string token anywhere, key or value', () => {
    const text = '{"jwk":{"alg":"ES256"},"alg":"RS256","x":"typ","typ":"PVS"}'
    const toks = tokenize(text)
    assert.ok(toks !== null)
    assert.equal(getValue(text, toks, 'alg')?.raw, 'ES256')
    // the value "typ" is found first: the token after it is the key "typ"
    assert.equal(getValue(text, toks, 'typ')?.raw, 'typ')
  })
  it('array elements are the next n tokens, strings kept raw', () => {
    assert.deepEqual(arrayStrings('["a\\/b","c"]'), ['a\\/b', 'c'])
    assert.equal(arrayStrings('"x"'), null)
    assert.deepEqual(arrayStrings('[]'), [])
  })
  it('top-level pairs keep raw order, raw keys and raw values', () => {
    const text = '{ "b" : {"x": 1},\n "a\\u0062" : "v\\"w", "n": 12 , "b": [1] }'
    const toks = tokenize(text)
    assert.ok(toks !== null)
    const pairs = topLevelPairs(text, toks)
    assert.deepEqual(pairs, [
      { rawKey: 'b', raw: '{"x": 1}', type: 'object' },
      { rawKey: 'a\\u0062', raw: 'v\\"w', type: 'string' },
      { rawKey: 'n', raw: '12', type: 'primitive' },
      { rawKey: 'b', raw: '[1]', type: 'array' },
    ])
  })
  it('rejects text that is not JSON', () => {
    assert.equal(tokenize('{"a":}'), null)
    assert.equal(tokenize('{"a":1} x'), null)
  })
})

describe('payload rebuild', () => {
  const text = '{"#spec":"s","a/n":7,"a/obj":{ "k" : "v" },"a/str":"abc","b/x":"y"}'
  const toks = tokenize(text)
  assert.ok(toks !== null)
  const pairs = topLevelPairs(text, toks)
  assert.ok(pairs !== null)
  it('writes included members back from their raw text, numbers quoted', () => {
    const sel = selectPayload(stateEntries(pairs), ['a/**'], [])
    assert.equal(sel.payload, '{"a/n":"7","a/obj":{ "k" : "v" },"a/str":"abc"}')
  })
  it('an exclude wins over an include, and both count as covered', () => {
    const entries = stateEntries(pairs)
    const sel = selectPayload(entries, ['a/**'], ['a/str'])
    assert.deepEqual(
      sel.included.map(e => e.key),
      ['a/n', 'a/obj'],
    )
    assert.deepEqual(
      sel.excluded.map(e => e.key),
      ['a/str'],
    )
    assert.deepEqual(
      entries.filter(e => e.covered).map(e => e.key),
      ['a/n', 'a/obj', 'a/str'],
    )
  })
  it('no included key gives "}" (not "{}")', () => {
    assert.equal(buildPayload([]), '}')
  })
})
