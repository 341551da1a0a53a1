#!/usr/bin/env node
'use strict'
/**
 * `fieldsync`: runs the CLI bundle that a command line needs (one per
 * command group, dist/cli/route.cjs says which; scripts/build-cli.mjs builds
 * them, as part of `npm run build`), with a V8 code cache.
 *
 * Compiling the bundle is about a third of what a quick command costs
 * (`npm run bench -- startup`). Node 22 caches compiled code itself
 * (module.enableCompileCache); on Node 20 this file does the same: the first
 * run compiles and, on exit, saves V8's cache of what it compiled; the next
 * runs hand it to V8 and skip the compiling.
 *
 * The cache lives in the user's cache folder ($XDG_CACHE_HOME/fieldsync,
 * ~/.cache/fieldsync; ~/Library/Caches/fieldsync on macOS,
 * %LOCALAPPDATA%\fieldsync\Cache on Windows), in a folder only the user can
 * write: code from it runs as the user. V8 checks a cache against the
 * source's length only, so the file is named after the bundle's path, size,
 * modification time and inode, and Node's version: a rebuilt bundle never
 * runs an older build's code. A cache that cannot be read or written costs
 * speed, nothing else. FIELDSYNC_CODE_CACHE=0 turns it off, and so do
 * Node options (NODE_OPTIONS, flags), which V8 would reject the cache for.
 */
const fs = require('node:fs')
const path = require('node:path')
const Module = require('node:module')

const dist = path.join(__dirname, '..', 'dist', 'cli')

function main() {
  let bundle
  let stat
  try {
    bundle = path.join(dist, `${require(path.join(dist, 'route.cjs')).bundleFor(process.argv)}.cjs`)
    stat = fs.statSync(bundle)
  } catch (err) {
    process.stderr.write(
      `fieldsync: the CLI bundle in ${dist} is missing or broken (${String(err.message).split('\n')[0]}): run \`npm run build\` (or \`npm ci\`) in ${path.dirname(__dirname)}\n`,
    )
    process.exitCode = 1
    return
  }
  if (Module.enableCompileCache) {
    // Node >= 22.1 caches compiled code itself (and checks the source's content).
    if (process.env.FIELDSYNC_CODE_CACHE !== '0') Module.enableCompileCache(ownedDir(cacheRoot()))
    return require(bundle)
  }
  const cache = cacheFile(bundle, stat)
  if (cache === undefined) return require(bundle)
  return runCached(bundle, cache)
}

/** The cache file for this bundle, or undefined when no cache is to be used. */
function cacheFile(bundle, stat) {
  if (process.env.FIELDSYNC_CODE_CACHE === '0' || process.execArgv.length > 0 || process.env.NODE_OPTIONS) return undefined
  const dir = ownedDir(cacheRoot())
  if (dir === undefined) return undefined
  const prefix = `cli-${fnv1a(bundle)}-`
  return { dir, prefix, name: `${prefix}${stat.size}-${Math.trunc(stat.mtimeMs)}-${stat.ino}-${process.version}-${process.arch}.v8` }
}

function cacheRoot() {
  const os = require('node:os')
  if (process.platform === 'win32') return process.env.LOCALAPPDATA ? path.join(process.env.LOCALAPPDATA, 'fieldsync', 'Cache') : undefined
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'fieldsync')
  const xdg = process.env.XDG_CACHE_HOME
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'fieldsync')
}

/** `dir`, created if need be, if it is ours and nobody else can write it. */
function ownedDir(dir) {
  if (dir === undefined) return undefined
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = fs.lstatSync(dir)
    if (!st.isDirectory()) return undefined
    if (process.platform !== 'win32' && (st.uid !== process.getuid() || (st.mode & 0o022) !== 0)) return undefined
    return dir
  } catch {
    return undefined
  }
}

function runCached(bundle, cache) {
  const vm = require('node:vm')
  const file = path.join(cache.dir, cache.name)
  let cachedData
  try {
    cachedData = fs.readFileSync(file)
  } catch {
    cachedData = undefined
  }
  // The wrapper Node's CommonJS loader puts around a module, on the source's first line (line numbers stay).
  const source = `(function (exports, require, module, __filename, __dirname) { ${fs.readFileSync(bundle, 'utf8')}\n})`
  const script = new vm.Script(source, { filename: bundle, cachedData })
  // Code from a cache cannot run import() on Node 20: the bundle imports packages with this (scripts/build-cli.mjs).
  globalThis[Symbol.for('fieldsync.import')] = specifier => import(specifier)
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => save(cache, file, script))
  const mod = new Module(bundle, module)
  mod.filename = bundle
  script.runInThisContext()(mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle))
}

/** Write the cache (tmp file, then rename) and remove this bundle's older ones. */
function save(cache, file, script) {
  try {
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 })
    fs.renameSync(tmp, file)
    for (const f of fs.readdirSync(cache.dir)) {
      if (f.startsWith(cache.prefix) && f !== cache.name && f.endsWith('.v8')) fs.rmSync(path.join(cache.dir, f), { force: true })
    }
  } catch {
    // Read-only or full: the next run compiles again.
  }
}

/** A short, stable name for the bundle's path (FNV-1a, 32 bits), so that two checkouts keep a cache each. */
function fnv1a(s) {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0
  return h.toString(16).padStart(8, '0')
}

main()
