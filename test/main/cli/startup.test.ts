/**
 * What `fieldsync ls` loads on an empty library: none of the code only other
 * commands need. A static import that drags the trust store, the CIDs, the
 * tar reader or the libp2p stack onto every command's path fails here before
 * it shows in `npm run bench -- startup`. The modules are watched loading in
 * the CLI unbundled (dist/main/cli/index.js, each source its own ES module):
 * in the CLI's bundle (scripts/build-cli.mjs) a module reached by import()
 * is run on first use only, so what runs there is what loads here.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { join, relative } from 'node:path'
import { cliBin, repoRoot, vendoredUpstreamDir } from '../../helpers/paths.js'
import { tempDir } from '../../helpers/tmp.js'

const HOOK = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent('export async function load (url, ctx, next) { const r = await next(url, ctx); process._rawDebug("LOADED " + url); return r }'))
`)}`

const unbundled = join(repoRoot, 'dist', 'main', 'cli', 'index.js')

/** The sources a command loads: repository paths (main/store/library.ts) and package files (node_modules/...). */
function sourcesLoaded(args: string[], home: string): string[] {
  const run = spawnSync(process.execPath, ['--import', HOOK, unbundled, '--home', home, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  assert.equal(run.status, 0, String(run.stderr))
  const out = run.stderr.toString()
  const files = [...out.matchAll(/^LOADED (file:\S+)$/gm)].map(m => relative(repoRoot, fileURLToPath(m[1])))
  return files.map(f => (f.startsWith('dist/') ? f.slice('dist/'.length).replace(/\.js$/, '.ts') : f))
}

describe('cli: start-up', () => {
  it('ls on an empty library loads no trust, CID, tar, validation or progress-bar code', async t => {
    const home = await tempDir(t)
    execFileSync(process.execPath, [cliBin, '--home', home, 'ls'])
    const sources = sourcesLoaded(['ls'], home)
    assert.ok(
      sources.some(s => s.endsWith('main/store/library.ts')),
      'the library is loaded (the map names its sources)',
    )
    for (const unwanted of [
      'main/trust/',
      'multiformats',
      'main/store/import/tar.ts',
      'shared/state/validate.ts',
      'shared/state/compose.ts',
      'cli-progress',
      'main/peers/',
      'libp2p',
      'main/store/hash-thread.ts',
    ]) {
      assert.deepEqual(
        sources.filter(s => s.includes(unwanted)),
        [],
        `ls loads ${unwanted}`,
      )
    }
  })

  it('ls on an empty library loads neither node:crypto nor worker_threads (as much CPU as opening the index)', async t => {
    const home = await tempDir(t)
    execFileSync(process.execPath, [cliBin, '--home', home, 'ls'])
    const probe = `data:text/javascript,${encodeURIComponent(
      `process.on('exit', () => process._rawDebug('BUILTINS ' + process.moduleLoadList.filter(m => m.startsWith('NativeModule ')).map(m => m.slice(13)).join(' ')))`,
    )}`
    const run = spawnSync(process.execPath, ['--import', probe, cliBin, '--home', home, 'ls'], { stdio: ['ignore', 'ignore', 'pipe'] })
    assert.equal(run.status, 0, String(run.stderr))
    const loaded = (/^BUILTINS (.*)$/m.exec(run.stderr.toString())?.[1] ?? '').split(' ')
    assert.ok(loaded.includes('fs'), `the probe saw the built-ins: ${loaded.join(' ')}`)
    assert.deepEqual(
      loaded.filter(m => m === 'crypto' || m === 'worker_threads'),
      [],
    )
  })

  it('ls with a revision loads the trust code then, and gives its signature summary', async t => {
    const home = await tempDir(t)
    execFileSync(process.execPath, [cliBin, '--home', home, 'import', join(vendoredUpstreamDir, 'pvwificonnect.tgz')])
    assert.ok(sourcesLoaded(['ls'], home).some(s => s.startsWith('main/trust/')))
    const ls = JSON.parse(execFileSync(process.execPath, [cliBin, '--home', home, '--json', 'ls']).toString()) as Array<{ signature: string }>
    assert.match(ls[0].signature, /pv-developer-01/)
  })
})
