import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import {
  canonicalBytes,
  canonicalJson,
  canonicalizeJsonText,
  compareKeys,
  filterParts,
  formatNumber,
  JsonNumber,
  normalizeNumber,
  parseState,
  quoteString,
  revisionId,
} from '../../../shared/state/index.js'
import { initialStateJson, pvwificonnectJson, seedJson, text, utf8, watchdogJson } from './fixtures.js'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('canonical JSON against pvr output', () => {
  for (const [name, load] of [
    ['pvwificonnect.tgz', pvwificonnectJson],
    ['watchdog_pinger.tar', watchdogJson],
  ] as const) {
    it(`${name}: the json entry is already canonical, byte for byte`, () => {
      const raw = load()
      const x = text(raw)
      assert.equal(canonicalJson(JSON.parse(x)), x)
      assert.equal(canonicalizeJsonText(x), x)
      const parsed = parseState(raw, `json entry of ${name}`)
      assert.deepEqual(canonicalBytes(parsed), raw)
      assert.equal(canonicalJson(parsed.json), x)
      assert.deepEqual(canonicalBytes(parsed.json), raw)
    })

    it(`${name}: revisionId is the sha256 of the entry bytes`, () => {
      const raw = load()
      assert.equal(revisionId(parseState(raw, name)), sha256(raw))
    })

    it(`${name}: pretty-printing does not change the revision id`, () => {
      const raw = load()
      const pretty = utf8(JSON.stringify(JSON.parse(text(raw)), null, 4) + '\n')
      assert.equal(revisionId(parseState(pretty, name)), sha256(raw))
    })
  }

  it('pretty-printed fixtures canonicalize the same from bytes and from values, idempotently', () => {
    for (const raw of [initialStateJson(), seedJson()]) {
      const p = parseState(raw, 'fixture')
      const c = text(canonicalBytes(p))
      assert.equal(c, canonicalJson(JSON.parse(text(raw))))
      assert.equal(canonicalizeJsonText(c), c)
      assert.equal(revisionId(p), sha256(utf8(c)))
      assert.ok(!c.includes('\n') && c.startsWith('{"#spec":'))
    }
  })

  it('initial_state has the id of its canonical form', () => {
    assert.equal(revisionId(parseState(initialStateJson(), 'initial_state.json')), '8b0348749e41879fd2b148b9421579c3c2a481734eb8470e9aea170c872ab6e9')
  })
})

describe('canonical strings (canonicaljson-spec §6)', () => {
  const cases: Array<[string, string]> = [
    ['plain', '"plain"'],
    ['\u0000', '"\\u0000"'],
    ['\u0001\u001f', '"\\u0001\\u001F"'],
    ['\b\t\n\f\r', '"\\b\\t\\n\\f\\r"'],
    ['\u000b', '"\\u000B"'],
    ['"\\', '"\\"\\\\"'],
    ['/', '"/"'],
    ['<>&', '"<>&"'],
    ['\u2028\u2029', '"\u2028\u2029"'],
    ['\u007f\u0080é', '"\u007f\u0080é"'],
    ['A\u030a', '"A\u030a"'],
    ['\ud834\udf06', '"\ud834\udf06"'],
    ['\ud800', '"\\uD800"'],
    ['\udfff', '"\\uDFFF"'],
    ['\udc00\udbff', '"\\uDC00\\uDBFF"'],
    ['\ufffd', '"\ufffd"'],
  ]
  for (const [input, want] of cases) {
    it(`quotes ${JSON.stringify(input)}`, () => {
      assert.equal(quoteString(input), want)
      assert.equal(canonicalJson(input), want)
    })
  }

  it('decodes escapes like Go: escaped lone surrogates become U+FFFD from raw text', () => {
    assert.equal(canonicalizeJsonText('["\\u00e9\\/\\u0041", "\\uD800", "\\uD834\\uDF06", "\\uDC00x"]'), '["é/A","\ufffd","\ud834\udf06","\ufffdx"]')
  })
})

describe('canonical numbers (canonicaljson-spec §4, §5)', () => {
  const literals: Array<[string, string]> = [
    ['0', '0'],
    ['-0', '0'],
    ['0e0', '0'],
    ['0e-01', '0'],
    ['0.0', '0'],
    ['-0.00', '0'],
    ['0E+1', '0'],
    ['4.0', '4'],
    ['4.2e1', '42'],
    ['0.420e2', '42'],
    ['80E-1', '8'],
    ['80.0E-1', '8'],
    ['2550e-1', '255'],
    ['65.535E3', '65535'],
    ['4.294967295e+9', '4294967295'],
    ['9007199254740993E+0', '9007199254740993'],
    ['18446744073709551617', '18446744073709551617'],
    ['1E21', '1000000000000000000000'],
    ['-12', '-12'],
    ['3.14', '3.14E0'],
    ['0.314E1', '3.14E0'],
    ['31.4E-1', '3.14E0'],
    ['11E-3', '1.1E-2'],
    ['-31.4E-1', '-3.14E0'],
    ['1E-1000', '1.0E-1000'],
    ['1.40', '1.4E0'],
    ['1.400E0', '1.4E0'],
    ['0.000500', '5.0E-4'],
    ['-0.000500', '-5.0E-4'],
    ['0.01', '1.0E-2'],
    ['0.1', '1.0E-1'],
    ['10e-99', '1.0E-98'],
    ['0.1e-99', '1.0E-100'],
    ['5.5E+0', '5.5E0'],
    ['5.5000005E+5', '5.5000005E5'],
    ['5.6E00', '5.6E0'],
    ['5.60000006E06', '5.60000006E6'],
    ['5.6E-01000', '5.6E-1000'],
    ['1.5e3', '1500'],
    ['1.5e-300', '1.5E-300'],
    ['1.5e300', '15' + '0'.repeat(299)],
    ['123.456', '1.23456E2'],
  ]
  for (const [lit, want] of literals) {
    it(`normalizes ${lit}`, () => {
      assert.equal(normalizeNumber(lit), want)
      assert.equal(canonicalizeJsonText(lit), want)
      assert.equal(canonicalJson(new JsonNumber(lit)), want)
    })
  }

  it('formats float64 values as Go does (shortest digits, then normalized)', () => {
    assert.equal(formatNumber(0), '0')
    assert.equal(formatNumber(-0), '0')
    assert.equal(formatNumber(42), '42')
    assert.equal(formatNumber(-7), '-7')
    assert.equal(formatNumber(0.1), '1.0E-1')
    assert.equal(formatNumber(2.5), '2.5E0')
    assert.equal(formatNumber(1e21), '1000000000000000000000')
    assert.equal(formatNumber(2 ** 60), '1152921504606847000') // Go: 1.152921504606847E+18
    assert.equal(formatNumber(Number.MAX_SAFE_INTEGER), '9007199254740991')
    assert.equal(formatNumber(5e-324), '5.0E-324')
    assert.equal(formatNumber(1.7976931348623157e308), '17976931348623157' + '0'.repeat(292)) // integers never get an exponent
    assert.equal(formatNumber(1.5e-7), '1.5E-7')
    assert.throws(() => formatNumber(NaN), { code: 'E_INVALID_STATE' })
    assert.throws(() => formatNumber(Infinity), { code: 'E_INVALID_STATE' })
  })

  it('keeps big integers exact from raw bytes (pvr decodes with UseNumber)', () => {
    const raw = utf8('{"#spec":"pantavisor-service-system@1","x.json":{"big":12345678901234567890123,"f":1.50}}')
    const p = parseState(raw, 't')
    assert.equal(text(canonicalBytes(p)), '{"#spec":"pantavisor-service-system@1","x.json":{"big":12345678901234567890123,"f":1.5E0}}')
    // filterParts of a ParsedState keeps the literal too, for export --parts
    assert.equal(canonicalJson(filterParts(p, ['x.json'])), '{"#spec":"pantavisor-service-system@1","x.json":{"big":12345678901234567890123,"f":1.5E0}}')
  })
})

describe('canonical key order and structure', () => {
  it('sorts keys by code point, not UTF-16 unit', () => {
    const keys = [
      '\ufb01',
      '\ud83d\ude00',
      'b',
      'a',
      '',
      'B',
      '\u00e9',
      '\u2190',
      '\ud834\udf06',
      '#spec',
      '_sigs/x.json',
      'bsp/run.json',
      'awconnect/run.json',
      '10',
      '9',
    ]
    const sorted = [...keys].sort(compareKeys)
    assert.deepEqual(sorted, [
      '',
      '#spec',
      '10',
      '9',
      'B',
      '_sigs/x.json',
      'a',
      'awconnect/run.json',
      'b',
      'bsp/run.json',
      '\u00e9',
      '\u2190',
      '\ufb01',
      '\ud834\udf06',
      '\ud83d\ude00',
    ])
    assert.equal(canonicalJson({ '\ud83d\ude00': 1, '\ufb01': 2 }), '{"\ufb01":2,"\ud83d\ude00":1}')
  })

  it('does not reorder integer-like keys (JS objects would)', () => {
    assert.equal(canonicalJson(JSON.parse('{"b":1,"10":2,"9":3,"a":4}')), '{"10":2,"9":3,"a":4,"b":1}')
  })

  it('writes nested values without whitespace and leaves undefined members out', () => {
    assert.equal(canonicalJson({ z: [1, null, true, false, { y: 'x', a: [] }], a: {}, u: undefined }), '{"a":{},"z":[1,null,true,false,{"a":[],"y":"x"}]}')
    assert.equal(canonicalJson([undefined]), '[null]')
    assert.equal(canonicalJson(10n ** 30n), '1000000000000000000000000000000')
    assert.throws(() => canonicalJson(undefined), { code: 'E_INVALID_STATE' })
    assert.throws(() => canonicalJson({ f: () => 1 }), { code: 'E_INVALID_STATE' })
  })

  it('keeps a __proto__ key as data', () => {
    const v = JSON.parse('{"__proto__":{"a":1},"b":2}')
    assert.equal(canonicalJson(v), '{"__proto__":{"a":1},"b":2}')
    assert.equal(canonicalizeJsonText('{"b":2,"__proto__":{"a":1}}'), '{"__proto__":{"a":1},"b":2}')
  })

  it('rejects circular values with a typed error', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    assert.throws(() => canonicalJson(a), { code: 'E_INVALID_STATE' })
  })

  it('nested duplicate keys: the last one wins, as in Go', () => {
    assert.equal(canonicalizeJsonText('{"a":{"k":1,"k":2}}'), '{"a":{"k":2}}')
  })
})
