#!/usr/bin/env node
// `npm start`: the desktop app when Electron's binary can start here, otherwise
// browser mode (`fieldsync ui`), saying which on stderr. Extra arguments go to
// `fieldsync ui` (e.g. `npm start -- --no-mdns --port 8080`).
// FIELDSYNC_BROWSER_MODE=1 forces browser mode.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import process from 'node:process'

const root = path.resolve(import.meta.dirname, '..')
const args = process.argv.slice(2)
const say = s => process.stderr.write(`npm start: ${s}\n`)

function electronBinary() {
  const dir = path.join(root, 'node_modules', 'electron')
  const pathTxt = path.join(dir, 'path.txt')
  if (!existsSync(path.join(dir, 'dist')) || !existsSync(pathTxt))
    return { why: 'the Electron binary is not installed (node_modules/electron/dist is missing: no download was possible here)' }
  const bin = path.join(dir, 'dist', readFileSync(pathTxt, 'utf8').trim())
  if (!existsSync(bin)) return { why: `${bin} is missing` }
  const r = spawnSync(bin, ['--version'], { timeout: 15_000, encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } })
  if (r.error !== undefined || r.status !== 0)
    return { why: `${bin} does not run here (${r.error?.message ?? `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n')[0]}`})` }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY)
    return { why: 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)' }
  return { bin }
}

function ensureBuilt() {
  const need = [
    path.join(root, 'dist', 'main', 'cli', 'index.js'),
    path.join(root, 'dist', 'renderer', 'index.html'),
    path.join(root, 'dist', 'main', 'electron', 'preload.bundle.cjs'),
  ]
  if (need.every(f => existsSync(f))) return
  say('building first (npm run build)')
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

function run(cmd, argv, env = process.env) {
  const child = spawn(cmd, argv, { cwd: root, stdio: 'inherit', env })
  for (const sig of ['SIGINT', 'SIGTERM'])
    process.on(sig, () => {
      child.kill(sig)
    })
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal !== null ? 1 : 0))
  })
}

ensureBuilt()
const e = process.env.FIELDSYNC_BROWSER_MODE === '1' ? { why: 'FIELDSYNC_BROWSER_MODE=1' } : electronBinary()
if (e.bin !== undefined) {
  say(`starting the desktop app (Electron ${path.relative(root, e.bin)})`)
  const env = { ...process.env }
  delete env.ELECTRON_RUN_AS_NODE
  if (args.includes('--no-mdns')) env.FIELDSYNC_NO_MDNS = '1'
  run(e.bin, [root], env)
} else {
  say(`starting browser mode (fieldsync ui): ${e.why}`)
  run(process.execPath, [path.join(root, 'bin', 'fieldsync.cjs'), 'ui', ...args])
}
