#!/usr/bin/env node
// Bundles the `fieldsync` command (main/cli/index.ts and the main/ and shared/
// code it reaches) into dist/cli/ with esbuild, so that a command loads a few
// files instead of two hundred. Small pure-JS packages are bundled too; the
// native ones (better-sqlite3, ssh2) and the libp2p stack stay external, loaded
// by Node from node_modules (patch-package's fixes included). Code splitting
// keeps every dynamic import() a chunk of its own, loaded only by the
// commands that reach it: libp2p and ssh2 are imported by modules that only
// those commands load.
//
// A bundled module's `import.meta.url` is rewritten to the URL of its own
// compiled copy under dist/main|shared (tsc's output, which the build writes
// first), so that everything a module finds relative to itself (install.sh,
// the renderer, package.json, the worker threads, which run tsc's output)
// is where it was before bundling.
import { build } from 'esbuild'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
/** Packages Node loads at run time: native code, and the libp2p stack (large, patched, loaded only by LAN commands). */
const EXTERNAL = ['better-sqlite3', 'ssh2', 'cpu-features', 'libp2p', '@libp2p/*', '@chainsafe/*', '@multiformats/*', 'electron']
const outdir = path.join(root, 'dist', 'cli')

const importMetaUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.tsx?$/ }, async args => {
      const text = await readFile(args.path, 'utf8')
      if (!text.includes('import.meta.url')) return undefined
      const rel = path.relative(root, args.path).replace(/\.ts$/, '.js')
      const compiled = path
        .relative(outdir, path.join(root, 'dist', rel))
        .split(path.sep)
        .join('/')
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(compiled)}, import.meta.url).href`), loader: 'ts' }
    })
  },
}

// Chunk names carry a content hash: without a clean folder, every build would leave the last one's chunks behind.
await rm(outdir, { recursive: true, force: true })
await build({
  entryPoints: { fieldsync: path.join(root, 'main', 'cli', 'index.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: ['node20'],
  external: EXTERNAL,
  // Bundled CommonJS packages require() Node's built-ins: give the ES module bundle a require.
  banner: { js: "import { createRequire as __fieldsyncRequire } from 'node:module'; const require = __fieldsyncRequire(import.meta.url);" },
  outExtension: { '.js': '.mjs' },
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [importMetaUrl],
})
