#!/usr/bin/env node
// Bundles renderer/ (Preact, TSX) into dist/renderer/ with index.html and the stylesheet,
// and Electron's preload (with the shared/ code it imports) into one CommonJS file:
// a sandboxed preload can neither be an ES module nor require files.
// Usage: node scripts/build-renderer.mjs [--watch] [--dev]
import { build, context } from 'esbuild'
import { mkdir, copyFile, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'

const root = path.resolve(import.meta.dirname, '..')
const src = path.join(root, 'renderer')
const out = path.join(root, 'dist', 'renderer')
const watch = process.argv.includes('--watch')
const dev = process.argv.includes('--dev') || watch

const options = {
  entryPoints: [path.join(src, 'main.tsx')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome120'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  sourcemap: dev ? 'inline' : false,
  minify: !dev,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
}

await mkdir(out, { recursive: true })
const html = await readFile(path.join(src, 'index.html'), 'utf8')
await writeFile(path.join(out, 'index.html'), html)
await copyFile(path.join(src, 'styles.css'), path.join(out, 'styles.css'))

const preload = {
  entryPoints: [path.join(root, 'main', 'electron', 'preload.cts')],
  outfile: path.join(root, 'dist', 'main', 'electron', 'preload.bundle.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: ['node20'],
  external: ['electron'],
  logLevel: 'warning',
}

if (watch) {
  const ctx = await context(options)
  await ctx.watch()
  process.stderr.write(`build-renderer: watching ${path.relative(root, src)}\n`)
} else {
  await build(options)
}
await build(preload)
