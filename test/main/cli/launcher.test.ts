/**
 * bin/fieldsync.cjs: it runs the bundle of the command's group (route.cjs),
 * with a V8 code cache kept in a folder only the user can write, never
 * handing V8 a cache made for other code (V8 itself checks only the length
 * of the source), and works without a cache. The fake trees below hold a copy
 * of the real launcher and bundles of a few lines; the last test runs the
 * real build.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { GROUP_COMMANDS } from '../../../main/cli/commands/groups.js'
import { cliBin } from '../../helpers/paths.js'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A checkout with the real launcher and a bundle that runs `code`; every command line runs that bundle. */
function fakeTree(code: string): { root: string; bundle: string; cacheHome: string } {
  const root = mkdtempSync(join(tmpdir(), 'fieldsync-launcher-'))
  dirs.push(root)
  mkdirSync(join(root, 'bin'))
  mkdirSync(join(root, 'dist', 'cli'), { recursive: true })
  copyFileSync(cliBin, join(root, 'bin', 'fieldsync.cjs'))
  writeFileSync(join(root, 'dist', 'cli', 'route.cjs'), "exports.bundleFor = () => 'fieldsync'\n")
  const bundle = join(root, 'dist', 'cli', 'fieldsync.cjs')
  writeFileSync(bundle, code)
  return { root, bundle, cacheHome: join(root, 'cache') }
}

function run(root: string, cacheHome: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'fieldsync.cjs'), ...args], {
    env: { PATH: process.env.PATH, HOME: root, XDG_CACHE_HOME: cacheHome, ...env },
    encoding: 'utf8',
  })
  return { out: r.stdout, err: r.stderr, status: r.status }
}

const cacheFiles = (cacheHome: string): string[] => {
  const d = join(cacheHome, 'fieldsync')
  return existsSync(d) ? readdirSync(d).filter(f => f.endsWith('.v8')) : []
}

describe('cli launcher: bundle per group and V8 code cache', () => {
  it('saves a cache on the first run, in a folder only the user can write, and uses it on the next', () => {
    const t = fakeTree("process.stdout.write('hello')\n")
    assert.deepEqual(run(t.root, t.cacheHome), { out: 'hello', err: '', status: 0 })
    const files = cacheFiles(t.cacheHome)
    assert.equal(files.length, 1)
    const dir = join(t.cacheHome, 'fieldsync')
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    const file = join(dir, files[0])
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const before = statSync(file)
    // Accepted by V8: the launcher writes again only when there was none or V8 rejected it.
    assert.deepEqual(run(t.root, t.cacheHome), { out: 'hello', err: '', status: 0 })
    const again = statSync(file)
    assert.equal(again.ino, before.ino)
    assert.equal(again.mtimeMs, before.mtimeMs)
  })

  it('a rebuilt bundle of the same length runs its own code, not the cache of the old one', () => {
    const t = fakeTree("process.stdout.write('old')\n")
    assert.equal(run(t.root, t.cacheHome).out, 'old')
    writeFileSync(t.bundle, "process.stdout.write('new')\n")
    utimesSync(t.bundle, new Date(), new Date(Date.now() + 5000))
    assert.equal(run(t.root, t.cacheHome).out, 'new')
    assert.equal(cacheFiles(t.cacheHome).length, 1, 'the old build’s cache is removed')
  })

  it('the bundle imports ES modules through the launcher, from cached code too (the libp2p stack is loaded that way)', () => {
    const t = fakeTree("globalThis[Symbol.for('fieldsync.import')]('node:path').then(m => process.stdout.write(typeof m.join))\n")
    assert.equal(run(t.root, t.cacheHome).out, 'function')
    assert.equal(cacheFiles(t.cacheHome).length, 1)
    assert.equal(run(t.root, t.cacheHome).out, 'function')
  })

  it('a cache folder others can write is not used; FIELDSYNC_CODE_CACHE=0 and Node options turn the cache off', () => {
    const t = fakeTree("process.stdout.write('ok')\n")
    mkdirSync(join(t.cacheHome, 'fieldsync'), { recursive: true })
    chmodSync(join(t.cacheHome, 'fieldsync'), 0o777)
    assert.equal(run(t.root, t.cacheHome).out, 'ok')
    assert.deepEqual(cacheFiles(t.cacheHome), [])
    const u = fakeTree("process.stdout.write('ok')\n")
    assert.equal(run(u.root, u.cacheHome, { FIELDSYNC_CODE_CACHE: '0' }).out, 'ok')
    assert.equal(run(u.root, u.cacheHome, { NODE_OPTIONS: '--no-warnings' }).out, 'ok')
    assert.deepEqual(cacheFiles(u.cacheHome), [])
  })

  it('an unbuilt checkout says to run npm run build', () => {
    const t = fakeTree('')
    rmSync(join(t.root, 'dist'), { recursive: true })
    const r = run(t.root, t.cacheHome)
    assert.equal(r.status, 1)
    assert.match(r.err, /CLI bundle in .*dist\/cli is missing or broken .*run `npm run build`/)
  })

  it('the real build: every group’s commands run from their own bundle', () => {
    const cacheHome = mkdtempSync(join(tmpdir(), 'fieldsync-launcher-cache-'))
    dirs.push(cacheHome)
    for (const [group, commands] of Object.entries(GROUP_COMMANDS)) {
      for (const command of commands) {
        const r = spawnSync(process.execPath, [cliBin, command, '--help'], {
          env: { ...process.env, NODE_OPTIONS: '', XDG_CACHE_HOME: cacheHome },
          encoding: 'utf8',
        })
        assert.equal(r.status, 0, `${group}/${command}: ${r.stderr}`)
        assert.match(r.stdout, new RegExp(`^Usage: fieldsync ${command} `), `${group}/${command}`)
      }
    }
    // One cache per bundle run: the groups, and not the bundle with every group.
    assert.equal(readdirSync(join(cacheHome, 'fieldsync')).filter(f => f.endsWith('.v8')).length, Object.keys(GROUP_COMMANDS).length)
  })
})
