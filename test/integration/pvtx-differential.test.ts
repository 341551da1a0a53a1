/**
 * Differential: `fieldsync pvtx` and upstream's real pvtx binary (the device
 * kit in ../shared, run from there) on cases pvtx.sh does not cover. Each
 * case runs the same verbs on both, each in its own PVTXDIR and objects
 * folder, and compares exit statuses and `show` bytes (not only canonical
 * JSON), objects folders, status files and deployed trees. The documented
 * differences are tested as differences: bzip2 (the binary is built without
 * it), a key two signatures claim brought again (upstream writes it twice).
 *
 * Skips with one line when the binary is absent; fails instead under CI=true.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { decodeRecord } from '../../main/pvtx/status.js'
import { canonicalJson, parseJsonText } from '../../shared/state/index.js'
import { pvtxDataDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { assertRunnable, fieldsyncPvtxBin, has, missing, run, skipOrFail, upstreamBinaryPresent, upstreamPvtxBin, UPSTREAM_PVTX } from './pvtx-harness.js'

const reason = missing([
  [upstreamBinaryPresent(), `${UPSTREAM_PVTX} (upstream's pvtx, from the device kit in ../shared) is absent`],
  [has('bzip2'), 'bzip2 is not installed'],
])
const res = (f: string): string => join(pvtxDataDir, 'resources', f)
const SPEC = 'pantavisor-service-system@1'

type Side = 'up' | 'fs'
/** One verb; `{side}` in an argument is that side's own folder. Per-side arguments where the two differ. */
interface Step {
  args: string[] | Record<Side, string[]>
  stdin?: string
}
interface Outcome {
  code: number | null
  out: Buffer
  err: string
}

let work: string
let cleanup: (() => Promise<void>) | undefined
const bins: Record<Side, string> = { up: '', fs: '' }

function fakeSig(include: string[], exclude: string[] = []): Record<string, unknown> {
  return {
    '#spec': 'pvs@2',
    protected: Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'PVS', pvs: { include, exclude } })).toString('base64url'),
    signature: 'AAAA',
  }
}

/** A fresh pair of sides for one case: PVTXDIR, objects, queue and deploy folders under <case>/<side>. */
function sides(name: string): Record<Side, string> {
  const out = { up: join(work, name, 'up'), fs: join(work, name, 'fs') }
  for (const d of Object.values(out)) for (const f of ['objects', 'deploy', 'deploy2']) mkdirSync(join(d, f), { recursive: true })
  return out
}

async function runBoth(name: string, steps: Step[]): Promise<Record<Side, Outcome[]> & { dirs: Record<Side, string> }> {
  const dirs = sides(name)
  const result: Record<Side, Outcome[]> = { up: [], fs: [] }
  for (const side of ['up', 'fs'] as const) {
    for (const s of steps) {
      const args = (Array.isArray(s.args) ? s.args : s.args[side]).map(a => a.replaceAll('{side}', dirs[side]))
      const r = await run(join(bins[side], 'pvtx'), args, {
        env: { PVTXDIR: join(dirs[side], 'pvtxdir'), HOME: dirs[side], FIELDSYNC_HOME: join(dirs[side], 'library') },
        input: s.stdin === undefined ? undefined : readFileSync(s.stdin),
        cwd: dirs[side],
      })
      result[side].push({ code: r.code, out: r.stdout, err: r.stderr })
    }
  }
  return { ...result, dirs }
}

function assertSame(r: Record<Side, Outcome[]>, steps: Step[], opts: { skipOut?: number[] } = {}): void {
  r.up.forEach((u, i) => {
    const f = r.fs[i]
    const what = `step ${i} (${JSON.stringify(steps[i].args)}): upstream said ${u.err.trim()} / fieldsync said ${f.err.trim()}`
    assert.equal(f.code, u.code, `exit status, ${what}`)
    if (opts.skipOut?.includes(i) !== true) assert.equal(f.out.toString(), u.out.toString(), `stdout, ${what}`)
  })
}

/** Every file under `dir` (relative name -> sha256 and link count), links and folders by kind. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) {
        out[relative(dir, p) + '/'] = 'dir'
        walk(p)
      } else if (e.isFile()) {
        out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex') + (statSync(p).nlink > 1 ? ' linked' : '')
      } else out[relative(dir, p)] = 'other'
    }
  }
  walk(dir)
  return out
}

const canon = (b: Buffer): string => canonicalJson(parseJsonText(b.toString()))

describe('fieldsync pvtx against upstream pvtx (the binary)', { skip: skipOrFail(reason), timeout: 600_000 }, () => {
  before(async () => {
    if (reason !== null) return
    work = await tempDir(
      {
        after: (fn: () => Promise<void>) => {
          cleanup = fn
        },
      },
      'fieldsync-pvtx-diff-',
    )
    bins.up = upstreamPvtxBin(join(work, 'bin-up'))
    bins.fs = fieldsyncPvtxBin(join(work, 'bin-fs'))
  })
  after(async () => {
    await cleanup?.()
  })

  it('signature-covered removal: a part named by its config or its signature goes whole, device.json with bsp', async () => {
    assertRunnable(reason)
    const steps: Step[] = [
      { args: ['begin', 'empty', '{side}/objects'] },
      { args: ['add', res('initial_state.json')] },
      { args: ['remove', '_config/pv-avahi'] },
      { args: ['show'] },
      { args: ['remove', '_sigs/bsp.json'] },
      { args: ['show'] },
      { args: ['remove', 'no-such-part'] },
      { args: ['show'] },
    ]
    const r = await runBoth('removal', steps)
    assertSame(r, steps)
    const after = JSON.parse(r.fs[5].out.toString()) as Record<string, unknown>
    assert.ok(
      !('device.json' in after) && !Object.keys(after).some(k => k.startsWith('pv-avahi/') || k.startsWith('bsp/')),
      'bsp, its device.json and pv-avahi are gone',
    )
  })

  it("a package over a part whose signature differs: same name (the base's globs decide) and another name (the old signature stays)", async () => {
    assertRunnable(reason)
    const base = JSON.parse(readFileSync(res('initial_state.json'), 'utf8')) as Record<string, unknown>
    const pkgSame = {
      '#spec': SPEC,
      '_sigs/awconnect.json': fakeSig(['awconnect/**']),
      'awconnect/run.json': { ...(base['awconnect/run.json'] as object), v: 2 },
      'awconnect/root.squashfs': 'f'.repeat(64),
    }
    const pkgOther = {
      '#spec': SPEC,
      '_sigs/awconnect-v2.json': fakeSig(['awconnect/**', '_config/awconnect/**']),
      'awconnect/run.json': { name: 'awconnect', v: 3 },
    }
    writeFileSync(join(work, 'pkg-same.json'), JSON.stringify(pkgSame, null, 1))
    writeFileSync(join(work, 'pkg-other.json'), JSON.stringify(pkgOther))
    const steps: Step[] = [
      { args: ['begin', res('initial_state.json')] },
      { args: ['show'] },
      { args: ['add', join(work, 'pkg-same.json')] },
      { args: ['show'] },
      { args: ['abort'] },
      { args: ['begin', res('initial_state.json')] },
      { args: ['add', join(work, 'pkg-other.json')] },
      { args: ['show'] },
    ]
    const r = await runBoth('other-signature', steps)
    assertSame(r, steps)
    assert.equal(r.fs[1].out.toString(), readFileSync(res('initial_state.json'), 'utf8') + '\n', "begin FILE keeps the file's bytes")
    const same = JSON.parse(r.fs[3].out.toString()) as Record<string, unknown>
    assert.ok(!Object.keys(same).some(k => k.startsWith('_config/awconnect/')), "the base's signature took _config/awconnect with it")
    const other = JSON.parse(r.fs[7].out.toString()) as Record<string, unknown>
    assert.ok('_sigs/awconnect.json' in other && '_sigs/awconnect-v2.json' in other, 'a signature of another name leaves the old one')
  })

  it("bzip2 packages: fieldsync reads them as upstream reads the same tar (upstream's binary is built without bzip2)", async () => {
    assertRunnable(reason)
    const bz = join(work, 'watchdog_pinger.tar.bz2')
    writeFileSync(bz, execFileSync('bzip2', ['-c', res('watchdog_pinger.tar')], { maxBuffer: 1 << 26 }))
    const wifiTar = join(work, 'pvwificonnect.tar')
    writeFileSync(wifiTar, execFileSync('gzip', ['-dc', res('pvwificonnect.tgz')], { maxBuffer: 1 << 26 }))
    const wifiBz = join(work, 'pvwificonnect.tar.bz2')
    writeFileSync(wifiBz, execFileSync('bzip2', ['-c', wifiTar], { maxBuffer: 1 << 26 }))
    const steps: Step[] = [
      { args: ['begin', res('initial_state.json'), '{side}/objects'] },
      { args: { up: ['add', res('watchdog_pinger.tar')], fs: ['add', bz] } },
      { args: ['add', '-'], stdin: wifiTar }, // plain tar on stdin: upstream's gzread passes it through
      { args: ['show'] },
    ]
    const r = await runBoth('bzip2', steps)
    assertSame(r, steps)
    assert.deepEqual(tree(join(r.dirs.fs, 'objects')), tree(join(r.dirs.up, 'objects')), 'the same objects, same bytes')
    assert.equal(Object.keys(tree(join(r.dirs.fs, 'objects'))).length, 6)
    // and bzip2 on stdin, which upstream reads as gzip only
    const more: Step[] = [
      { args: ['abort'] },
      { args: ['begin', 'empty', '{side}/objects'] },
      { args: { up: ['add', '-'], fs: ['add', '-'] }, stdin: wifiBz },
      { args: ['show'] },
    ]
    const r2 = await runBoth('bzip2-stdin', more)
    assert.equal(r2.fs[2].code, 0, r2.fs[2].err)
    assert.notEqual(r2.up[2].code, 0, "upstream's binary cannot read bzip2 (if it can now, this difference is gone)")
    assert.equal(canon(r2.fs[3].out), canonicalJson(parseJsonText(execFileSync('tar', ['-xOf', wifiTar, 'json']).toString())))
  })

  it('a key two signatures claim, brought again: upstream writes it twice, fieldsync once, with the same value a JSON reader sees', async () => {
    assertRunnable(reason)
    const steps: Step[] = [
      { args: ['begin', 'empty'] },
      { args: ['add', res('config_a.json')] },
      { args: ['add', res('config_b.json')] },
      { args: ['add', res('config_b.json')] },
      { args: ['show'] },
    ]
    const r = await runBoth('duplicates', steps)
    assertSame(r, steps, { skipOut: [4] })
    const up = r.up[4].out.toString()
    const fs = r.fs[4].out.toString()
    const dupKey = (text: string): number => {
      const seen = new Map<string, number>()
      parseJsonText(text, {
        onTopMember: k => {
          seen.set(k, (seen.get(k) ?? 0) + 1)
        },
      })
      return Math.max(...seen.values())
    }
    assert.ok(dupKey(up) > 1, 'upstream repeats a key')
    assert.equal(dupKey(fs), 1, 'fieldsync writes each key once')
    assert.equal(canon(r.fs[4].out), canon(r.up[4].out), 'same state for any JSON reader (the last copy wins)')
  })

  it('queue: the same steps, status file, state and objects', async () => {
    assertRunnable(reason)
    const steps: Step[] = [
      { args: ['queue', 'new', '{side}/queue', '{side}/objects'] },
      { args: ['queue', 'remove', '_sigs/awconnect.json'] },
      { args: ['queue', 'unpack', '-'], stdin: res('pvwificonnect.tgz') },
      { args: ['queue', 'unpack', res('watchdog_pinger.tar')] },
      { args: ['begin', res('initial_state.json')] },
      { args: ['queue', 'process'] },
      { args: ['show'] },
    ]
    const r = await runBoth('queue', steps)
    assertSame(r, steps)
    assert.deepEqual(readdirSync(join(r.dirs.fs, 'queue')).sort(), readdirSync(join(r.dirs.up, 'queue')).sort())
    const status = (side: Side): unknown => {
      const rec = decodeRecord(readFileSync(join(r.dirs[side], 'pvtxdir', '.status')))
      return JSON.parse(JSON.stringify(rec).replaceAll(r.dirs[side], '<side>'))
    }
    assert.deepEqual(status('fs'), status('up'))
    assert.deepEqual(tree(join(r.dirs.fs, 'objects')), tree(join(r.dirs.up, 'objects')))
  })

  it('deploy: the same revision folder (files, hard links, .pvr, .pv BSP links), and the same refusal when an object is missing', async () => {
    assertRunnable(reason)
    const bsp = JSON.parse(readFileSync(res('initial_state.json'), 'utf8')) as Record<string, unknown>
    // a BSP whose run.json names files the package carries (kernel and initrd: watchdog's objects)
    const wd = JSON.parse(execFileSync('tar', ['-xOf', res('watchdog_pinger.tar'), 'json']).toString()) as Record<string, unknown>
    const shas = Object.values(wd).filter((v): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))
    const bspPkg = {
      '#spec': SPEC,
      'bsp/run.json': { ...(bsp['bsp/run.json'] as object), linux: 'kernel.img', initrd: 'pantavisor', fdt: 'x.dtb' },
      'bsp/kernel.img': shas[0],
      'bsp/pantavisor': shas[1],
    }
    writeFileSync(join(work, 'bsp-pkg.json'), JSON.stringify(bspPkg))
    const steps: Step[] = [
      { args: ['begin', 'empty', '{side}/objects'] },
      { args: ['add', res('watchdog_pinger.tar')] },
      { args: ['add', res('pvwificonnect.tgz')] },
      { args: ['add', join(work, 'bsp-pkg.json')] },
      { args: ['deploy', '{side}/deploy'] },
      { args: ['show'] },
      { args: ['abort'] },
      { args: ['begin', res('initial_state.json'), '{side}/objects'] },
      { args: ['deploy', '{side}/deploy2'] },
    ]
    const r = await runBoth('deploy', steps)
    assertSame(r, steps, { skipOut: [4] })
    const t = (side: Side): Record<string, string> =>
      JSON.parse(JSON.stringify(tree(join(r.dirs[side], 'deploy'))).replaceAll(r.dirs[side], '<side>')) as Record<string, string>
    const config = (side: Side): string => readFileSync(join(r.dirs[side], 'deploy', '.pvr', 'config'), 'utf8').replace(r.dirs[side], '<side>')
    assert.equal(config('fs'), config('up'))
    const fsTree = t('fs')
    const upTree = t('up')
    delete fsTree['.pvr/config']
    delete upTree['.pvr/config']
    assert.deepEqual(fsTree, upTree)
    assert.ok(fsTree['.pv/pv-kernel.img']?.endsWith('linked'), 'the BSP kernel is linked under .pv/')
    assert.notEqual(r.fs[8].code, 0, "initial_state.json's objects are nowhere: deploy fails")
  })

  it('exit statuses scripts test: no transaction, the wrong kind, one already running', async () => {
    assertRunnable(reason)
    const steps: Step[] = [
      { args: ['abort'] },
      { args: ['show'] },
      { args: ['add', res('os.json')] },
      { args: ['remove', 'x'] },
      { args: ['commit'] },
      { args: ['deploy', '{side}/d'] },
      { args: ['begin', 'empty', '{side}/objects'] },
      { args: ['begin', 'empty'] },
      { args: ['commit'] },
      { args: ['queue', 'new', '{side}/q', '{side}/objects'] },
      { args: ['abort'] },
      { args: ['begin', 'empty'] },
      { args: ['remove'] },
      { args: ['deploy', '{side}/d'] },
    ]
    const r = await runBoth('exits', steps)
    assertSame(r, steps)
    assert.deepEqual(
      r.fs.map(o => o.code),
      [0, 11, 1, 3, 11, 11, 0, 255, 12, 12, 0, 0, 4, 255],
    )
  })
})
