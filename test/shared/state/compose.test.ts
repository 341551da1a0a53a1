/**
 * The composition engine against upstream pvtx's own expected states (the
 * vendored data of test/pvtx/), plus the rules those do not pin down: raw
 * text kept, a key two signatures claim, the report of parts and keys.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson, compose, EMPTY_STATE_TEXT, parseJsonText, partOfKey, readStateDoc } from '../../../shared/state/index.js'
import { isCode } from '../../../shared/errors.js'
import { pvtxDataDir } from '../../helpers/paths.js'

const res = (f: string): Uint8Array => new Uint8Array(readFileSync(join(pvtxDataDir, 'resources', f)))
const expected = (f: string): string => canonicalJson(parseJsonText(readFileSync(join(pvtxDataDir, 'expected', f), 'utf8')))
const tarJson = (f: string): Uint8Array => new Uint8Array(execFileSync('tar', ['-xOf', join(pvtxDataDir, 'resources', f), 'json']))
const canon = (text: string): string => canonicalJson(parseJsonText(text))

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url')
}

/** A `_sigs/` value whose protected header claims these globs (the signature bytes are not checked here). */
function fakeSig(include: string[], exclude: string[] = []): Record<string, unknown> {
  return { '#spec': 'pvs@2', protected: b64url(JSON.stringify({ alg: 'RS256', typ: 'PVS', pvs: { include, exclude } })), signature: 'AAAA' }
}

const SPEC = 'pantavisor-service-system@1'
const sha = (c: string): string => c.repeat(64)

describe('compose: upstream pvtx expected states', () => {
  it('pvwificonnect onto initial_state.json gives state_after_pvwificonnect.json (canonical JSON, byte for byte)', () => {
    const r = compose(res('initial_state.json'), [{ add: tarJson('pvwificonnect.tgz'), label: 'pvwificonnect.tgz' }])
    assert.equal(canonicalJson(r.state.json), expected('state_after_pvwificonnect.json'))
    assert.deepEqual(r.parts, { added: ['pvwificonnect'], replaced: [], removed: [], unchanged: [] })
    assert.equal(r.keys.removed.length, 0)
    assert.ok(r.keys.added.includes('_sigs/pvwificonnect.json'))
    assert.deepEqual(r.warnings, [])
  })

  for (const name of ['awconnect', '_config/awconnect', '_sigs/awconnect.json']) {
    it(`remove ${name}: the whole part its signature defines goes (state_after_remove.json)`, () => {
      const r = compose(res('initial_state.json'), [{ remove: name }])
      assert.equal(canonicalJson(r.state.json), expected('state_after_remove.json'))
      assert.deepEqual(r.parts.removed, ['awconnect'])
      assert.ok(r.keys.removed.includes('_config/awconnect/etc/iptables/dump'))
    })
  }

  it('a config package removed by its signature (state_after_remove_config_pkg.json)', () => {
    const r = compose(res('state-1.json'), [{ remove: '_sigs/nginx-config.json' }])
    assert.equal(canonicalJson(r.state.json), expected('state_after_remove_config_pkg.json'))
  })

  it('an updated container replaces the old one, files it no longer has included (state_after_adding_existing.json)', () => {
    const r = compose(EMPTY_STATE_TEXT, [{ add: res('initial_state.json') }, { add: res('awconnect.json') }])
    assert.equal(canonicalJson(r.state.json), expected('state_after_adding_existing.json'))
    assert.deepEqual(
      r.parts.added,
      ['_hostconfig', 'awconnect', 'bsp', 'network-mapping.json', 'pv-avahi', 'pvr-sdk', 'storage-mapping.json'],
      'from the empty state every part is new; top-level files no signature covers are parts of their own',
    )
    const onto = compose(res('initial_state.json'), [{ add: res('awconnect.json') }])
    assert.deepEqual(onto.parts, { added: [], replaced: ['awconnect'], removed: [], unchanged: [] })
  })

  it('a BSP update replaces the BSP (state_bsp_update.json), from a base with device.json groups too', () => {
    for (const base of ['bsp_init.json', 'bsp_init_groups.json']) {
      const r = compose(EMPTY_STATE_TEXT, [{ add: res(base) }, { add: res('bsp_update.json') }])
      assert.equal(canonicalJson(r.state.json), expected('state_bsp_update.json'), base)
    }
  })

  it('two packages signing the same files: removing the first keeps what the second signs', () => {
    for (const [a, b, exp] of [
      ['config_a.json', 'config_b.json', 'state_after_install_config_b_remove_config_a.json'],
      ['config_a_glob.json', 'config_b_glob.json', 'state_after_install_config_b_remove_config_a_with_glob.json'],
    ]) {
      const r = compose(EMPTY_STATE_TEXT, [{ add: res(a) }, { add: res(b) }, { remove: '_sigs/config_a.json' }])
      assert.equal(canonicalJson(r.state.json), expected(exp), a)
    }
  })

  it('a package without its config takes the old config away (state_pvws_without_config.json)', () => {
    const one = compose(EMPTY_STATE_TEXT, [{ add: res('pvws_with_config.json') }])
    assert.equal(canonicalJson(one.state.json), expected('state_pvws_with_config.json'))
    const two = compose(one.raw, [{ add: res('pvws_without_config.json') }])
    assert.equal(canonicalJson(two.state.json), expected('state_pvws_without_config.json'))
    assert.ok(two.keys.removed.some(k => k.startsWith('_config/pvws/')))
  })

  it('adding the same state twice changes nothing the second time', () => {
    const once = compose(EMPTY_STATE_TEXT, [{ add: res('initial_state.json') }])
    const twice = compose(once.raw, [{ add: res('initial_state.json') }])
    assert.equal(twice.text, once.text)
    assert.equal(twice.changed, false)
    assert.deepEqual(twice.parts.replaced, [])
    assert.ok(twice.parts.unchanged.includes('awconnect'))
  })
})

describe('compose: raw text', () => {
  it('writes pvtx form: #spec first, no whitespace between members, each value as written', () => {
    const base = res('initial_state.json') // pretty-printed, two-space indents
    const r = compose(base, [{ add: tarJson('pvwificonnect.tgz') }])
    assert.ok(r.text.startsWith(`{"#spec":"${SPEC}","_config/awconnect/`), r.text.slice(0, 80))
    const runJson = /"bsp\/run.json": (\{[^}]*\})/.exec(new TextDecoder().decode(base))?.[1]
    assert.ok(runJson !== undefined && runJson.includes('\n'), 'the base holds a pretty-printed inline value')
    assert.ok(r.text.includes(`"bsp/run.json":${runJson}`), 'the inline value keeps its raw text, whitespace and all')
    assert.deepEqual(r.raw, new TextEncoder().encode(r.text))
  })

  it('a remove that matches nothing leaves the bytes as they were, with a warning', () => {
    const base = res('initial_state.json')
    const r = compose(base, [{ remove: 'nothing-here' }])
    assert.equal(r.changed, false)
    assert.deepEqual(r.raw, base)
    assert.match(r.warnings[0], /nothing-here.*nothing removed/)
  })

  it('keeps escapes in keys and strings as written', () => {
    const pkg = `{"#spec":"${SPEC}","_config/c/a\\u0020b.txt":"${sha('e')}","c/run.json":{"name":"c\\/x"}}`
    const r = compose(EMPTY_STATE_TEXT, [{ add: pkg }])
    assert.equal(r.text, `{"#spec":"${SPEC}","_config/c/a\\u0020b.txt":"${sha('e')}","c/run.json":{"name":"c\\/x"}}`)
    assert.deepEqual(r.keys.added, ['_config/c/a b.txt', 'c/run.json'])
  })

  it("keeps the base's #spec and says so when a package names another", () => {
    const base = `{"#spec":"pantavisor-multi-platform@1","a/x":"${sha('a')}"}`
    const r = compose(base, [{ add: `{"#spec":"${SPEC}","b/y":"${sha('b')}"}`, label: 'b.tgz' }])
    assert.ok(r.text.startsWith('{"#spec":"pantavisor-multi-platform@1",'))
    assert.match(r.warnings[0], /b\.tgz: "#spec" is "pantavisor-service-system@1"/)
  })

  it('refuses what is not a JSON object, or holds a key twice', () => {
    assert.throws(
      () => compose('[1]', []),
      (e: unknown) => isCode(e, 'E_INVALID_STATE'),
    )
    assert.throws(
      () => compose(EMPTY_STATE_TEXT, [{ add: '{"a":1,"a":2}', label: 'dup.json' }]),
      (e: unknown) => isCode(e, 'E_INVALID_STATE') && /dup\.json: key "a" appears more than once/.test((e as Error).message),
    )
    assert.throws(
      () => compose(EMPTY_STATE_TEXT, [{ remove: '' }]),
      (e: unknown) => isCode(e, 'E_BAD_INPUT'),
    )
  })
})

describe('compose: signatures define parts', () => {
  const state = (o: Record<string, unknown>): string => JSON.stringify({ '#spec': SPEC, ...o })

  it("a package's signature takes away the whole part the base's signature of that name signs", () => {
    const base = state({
      '_config/app/old.conf': sha('1'),
      '_sigs/app.json': fakeSig(['app/**', '_config/app/**']),
      'app/old.bin': sha('2'),
      'app/run.json': { name: 'app' },
      'other/run.json': { name: 'other' },
    })
    const pkg = state({ '_sigs/app.json': fakeSig(['app/**']), 'app/run.json': { name: 'app', v: 2 } })
    const r = compose(base, [{ add: pkg }])
    assert.deepEqual(Object.keys(r.state.json), ['#spec', '_sigs/app.json', 'app/run.json', 'other/run.json'])
    assert.deepEqual(r.parts, { added: [], replaced: ['app'], removed: [], unchanged: [] })
    assert.deepEqual(r.keys.removed, ['_config/app/old.conf', 'app/old.bin'])
  })

  it('an unsigned package replaces only the keys it carries', () => {
    const base = state({ 'app/a': sha('1'), 'app/b': sha('2') })
    const r = compose(base, [{ add: state({ 'app/a': sha('3') }) }])
    assert.deepEqual(r.state.json, { '#spec': SPEC, 'app/a': sha('3'), 'app/b': sha('2') })
    assert.deepEqual(r.keys, { added: [], replaced: ['app/a'], removed: [] })
  })

  it('a key two signatures claim survives removing one of them, and a package bringing it again is written once, with its value', () => {
    const base = state({ '_config/x/shared.conf': sha('1'), '_sigs/a.json': fakeSig(['_config/x/**']), '_sigs/b.json': fakeSig(['_config/x/**']) })
    const gone = compose(base, [{ remove: '_sigs/a.json' }])
    assert.deepEqual(Object.keys(gone.state.json), ['#spec', '_config/x/shared.conf', '_sigs/b.json'])
    const again = compose(base, [{ add: state({ '_config/x/shared.conf': sha('9') }) }])
    assert.equal(again.text.split('"_config/x/shared.conf"').length, 2, 'the key appears once')
    assert.equal(again.state.json['_config/x/shared.conf'], sha('9'))
  })

  it('names a part by the first signature whose name starts with it (upstream: a prefix, not a folder)', () => {
    const base = state({ '_sigs/awconnect.json': fakeSig(['awconnect/**']), 'awconnect/run.json': {}, 'awx/run.json': {} })
    const r = compose(base, [{ remove: 'aw' }])
    assert.deepEqual(Object.keys(r.state.json), ['#spec', '_sigs/awconnect.json'])
  })

  it('refuses a signature whose protected header is not base64url', () => {
    const base = state({ '_sigs/a.json': { '#spec': 'pvs@2', protected: '***', signature: 'x' }, 'a/x': sha('1') })
    assert.throws(
      () => compose(base, [{ remove: 'a' }]),
      (e: unknown) => isCode(e, 'E_BAD_INPUT') && /_sigs\/a\.json/.test((e as Error).message),
    )
  })
})

describe('partOfKey', () => {
  it('puts a key under the signature that covers it, else its folder', () => {
    const sigs = readStateDoc(res('initial_state.json'), 'initial').members.filter(m => m.rawKey.startsWith('_sigs/'))
    assert.equal(sigs.length, 5)
    const list = [{ part: 'bsp', prefixes: ['bsp/', 'device.json'] }]
    assert.equal(partOfKey('device.json', list), 'bsp')
    assert.equal(partOfKey('_config/awconnect/x', list), 'awconnect')
    assert.equal(partOfKey('_sigs/awconnect.json', list), 'awconnect')
    assert.equal(partOfKey('awconnect/run.json', list), 'awconnect')
    assert.equal(partOfKey('top.json', list), 'top.json')
  })
})

describe("compose: canonical outputs match pvtx.sh's checks", () => {
  it('a state with spaces in key names survives add (state_with_spaces.json)', () => {
    const r = compose(EMPTY_STATE_TEXT, [{ add: res('state_with_spaces.json') }])
    assert.equal(canon(r.text), canon(new TextDecoder().decode(res('state_with_spaces.json'))))
  })
})
