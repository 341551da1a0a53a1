import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { KNOWN_SPECS, STATE_MAX_BYTES, firstInvalidUtf8, parseJsonText, parseState, rawMembers, JSON_MAX_DEPTH } from '../../../shared/state/index.js'
import { initialStateJson, pvwificonnectJson, text, utf8 } from './fixtures.js'

const SPEC = '"#spec":"pantavisor-service-system@1"'

function parseError(input: string | Uint8Array, source = 'state.json'): { code: string; message: string } {
  try {
    parseState(typeof input === 'string' ? utf8(input) : input, source)
  } catch (err) {
    return err as { code: string; message: string }
  }
  assert.fail('parseState accepted the input')
}

describe('parseState', () => {
  it('parses a real state, keeping the bytes and the raw key order', () => {
    const raw = initialStateJson()
    const p = parseState(raw, 'initial_state.json')
    assert.equal(p.raw, raw)
    assert.equal(p.spec, 'pantavisor-service-system@1')
    assert.equal(p.keys.length, 43)
    assert.equal(p.keys[0], '#spec')
    assert.deepEqual(p.keys, Object.keys(JSON.parse(text(raw))))
    assert.equal(typeof p.json['bsp/run.json'], 'object')
  })

  it('keeps integer-like keys in raw order (JSON.parse would move them first)', () => {
    const p = parseState(utf8(`{${SPEC},"b/x":"${'a'.repeat(64)}","10":"${'b'.repeat(64)}"}`), 's')
    assert.deepEqual(p.keys, ['#spec', 'b/x', '10'])
  })

  it('knows the specs a device parses', () => {
    assert.deepEqual([...KNOWN_SPECS], ['pantavisor-service-system@1', 'pantavisor-multi-platform@1'])
    assert.equal(parseState(utf8('{"#spec":"pantavisor-multi-platform@1"}'), 's').spec, 'pantavisor-multi-platform@1')
  })

  it('names the line and column of a syntax error', () => {
    const e = parseError('{\n  "a": 1,\n    }')
    assert.equal(e.code, 'E_INVALID_STATE')
    assert.equal(e.message, "state.json: not valid JSON: unexpected '}' at line 3 column 5")
  })

  const bad: Array<[string, string, RegExp]> = [
    ['empty input', '', /^state\.json: not valid JSON: unexpected end of input at line 1 column 1$/],
    ['whitespace only', ' \n', /unexpected end of input at line 2 column 1/],
    ['trailing comma', `{${SPEC},}`, /unexpected '}'/],
    ['trailing data', `{${SPEC}} x`, /unexpected 'x' after the end of the JSON value at line 1 column 41/],
    ['second document', `{${SPEC}}{}`, /after the end of the JSON value/],
    ['single quotes', "{'#spec':1}", /unexpected '''/],
    ['leading zero', `{${SPEC},"n.json":{"a":01}}`, /unexpected '1'/],
    ['bare fraction', `{${SPEC},"n.json":{"a":.5}}`, /unexpected '\.'/],
    ['unterminated string', '{"#spec":"pantavisor', /unterminated string at line 1 column 10/],
    ['raw newline in a string', '{"#spec":"a\nb"}', /control character U\+000A inside a string/],
    ['bad escape', '{"#spec":"\\x"}', /invalid escape '\\x'/],
    ['bad unicode escape', '{"#spec":"\\u12G4"}', /invalid \\u escape/],
    ['NaN', `{${SPEC},"n.json":{"a":NaN}}`, /unexpected 'N'/],
    ['comment', `{${SPEC} /* x */}`, /unexpected '\/'/],
    ['truncated literal', `{${SPEC},"n.json":{"a":tru}}`, /unexpected '}'/],
    ['byte order mark', `\ufeff{${SPEC}}`, /byte order mark/],
    ['top-level array', '[1,2]', /^state\.json: the top level must be a JSON object, got an array$/],
    ['top-level string', '"x"', /the top level must be a JSON object, got the string "x"/],
    ['top-level null', 'null', /got null/],
    ['duplicate top-level key', `{${SPEC},"a.json":{},"a.json":[]}`, /^state\.json: key "a\.json" appears more than once$/],
    ['no #spec', '{"a.json":{}}', /^state\.json: no "#spec" key$/],
    ['#spec not a string', '{"#spec":1}', /"#spec" must be a string, got number 1/],
    [
      'unknown #spec',
      '{"#spec":"pantavisor-service-system@2"}',
      /unknown "#spec" "pantavisor-service-system@2" \(known: pantavisor-service-system@1, pantavisor-multi-platform@1\)/,
    ],
    ['embed #spec', '{"#spec":"pantavisor-service-embed@1"}', /accepted by Pantahub but rejected by Pantavisor devices/],
  ]
  for (const [what, input, re] of bad) {
    it(`refuses ${what}`, () => {
      const e = parseError(input)
      assert.equal(e.code, 'E_INVALID_STATE')
      assert.match(e.message, re)
      assert.ok(e.message.startsWith('state.json: '), e.message)
    })
  }

  it('refuses bytes that are not UTF-8, naming the offset', () => {
    const b = utf8(`{${SPEC},"a.json":{"x":"ab"}}`)
    const at = text(b).indexOf('ab')
    b[at] = 0xff
    const e = parseError(b, 'json entry of x.tgz')
    assert.equal(e.code, 'E_INVALID_STATE')
    assert.equal(e.message, `json entry of x.tgz: not valid UTF-8 (bad byte 0xff at offset ${at})`)
  })

  it('finds the first bad UTF-8 byte', () => {
    assert.equal(firstInvalidUtf8(utf8('héllo \u{1F600} \u2028')), -1)
    assert.equal(firstInvalidUtf8(new Uint8Array([0x61, 0xc0, 0x80])), 1) // overlong
    assert.equal(firstInvalidUtf8(new Uint8Array([0xed, 0xa0, 0x80])), 0) // encoded surrogate
    assert.equal(firstInvalidUtf8(new Uint8Array([0x61, 0x62, 0xe2, 0x82])), 2) // truncated
    assert.equal(firstInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), 0) // above U+10FFFF
  })

  it('refuses a state over the size cap with its own code', () => {
    const big = new Uint8Array(STATE_MAX_BYTES + 1).fill(0x20)
    const e = parseError(big, 'huge.json')
    assert.equal(e.code, 'E_STATE_TOO_LARGE')
    assert.match(e.message, /^huge\.json: state JSON is 16777217 bytes, over the limit of 16777216 bytes$/)
  })

  it('accepts a state right at the cap', () => {
    const head = utf8(`{${SPEC}}`)
    const b = new Uint8Array(STATE_MAX_BYTES).fill(0x20)
    b.set(head)
    assert.equal(parseState(b, 's').spec, 'pantavisor-service-system@1')
  })

  it('refuses absurd nesting without overflowing the stack', () => {
    const deep = `{${SPEC},"a.json":${'['.repeat(JSON_MAX_DEPTH + 5)}${']'.repeat(JSON_MAX_DEPTH + 5)}}`
    assert.match(parseError(deep).message, /nested deeper than 1000 levels/)
    const ok = `{${SPEC},"a.json":${'['.repeat(JSON_MAX_DEPTH - 2)}${']'.repeat(JSON_MAX_DEPTH - 2)}}`
    assert.equal(parseState(utf8(ok), 's').keys.length, 2)
  })

  it('parses values like JSON.parse', () => {
    const samples = ['{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"],"b":{}}', '[]', '"\\ud834\\udf06"', '-0', '1E+2', '{"__proto__":1}']
    for (const s of samples) assert.deepEqual(parseJsonText(s), JSON.parse(s), s)
    const proto = parseJsonText('{"__proto__":{"polluted":1}}') as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(proto), Object.prototype)
    assert.deepEqual(Object.keys(proto), ['__proto__'])
  })
})

describe('rawMembers', () => {
  it('gives each top-level key with the exact raw text of its value, in raw order', () => {
    const raw = '{ "b" : [1, 2] ,\n "a":{"x" : "y"},"b":"dup", "n": 1.50 }'
    assert.deepEqual(rawMembers(raw), [
      { key: 'b', rawValue: '[1, 2]' },
      { key: 'a', rawValue: '{"x" : "y"}' },
      { key: 'b', rawValue: '"dup"' },
      { key: 'n', rawValue: '1.50' },
    ])
    assert.deepEqual(rawMembers(utf8(raw)), rawMembers(raw))
  })

  it('slices a real signed state so that the slices rebuild it', () => {
    const raw = text(pvwificonnectJson())
    const members = rawMembers(raw)
    assert.equal(members[0].key, '#spec')
    assert.equal(members[1].key, '_sigs/pvwificonnect.json')
    assert.equal('{' + members.map(m => `${JSON.stringify(m.key)}:${m.rawValue}`).join(',') + '}', raw)
  })

  it('decodes escaped keys', () => {
    assert.deepEqual(rawMembers('{"a\\/b":"\\u0041"}'), [{ key: 'a/b', rawValue: '"\\u0041"' }])
  })

  it('refuses invalid input with typed errors', () => {
    assert.throws(() => rawMembers('[1]'), { code: 'E_INVALID_STATE' })
    assert.throws(() => rawMembers('{"a":}'), { code: 'E_INVALID_STATE', message: /not valid JSON: unexpected '}' at line 1 column 6/ })
    assert.throws(() => rawMembers(new Uint8Array([0x7b, 0xff])), { code: 'E_INVALID_STATE', message: /UTF-8/ })
  })
})
