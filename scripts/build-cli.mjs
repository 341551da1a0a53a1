#!/usr/bin/env node
// Bundles the `fieldsync` command (main/cli/index.ts and the main/ and shared/
// code it reaches) into CommonJS files in dist/cli/ with esbuild:
//   fieldsync-<group>.cjs  one per command group (main/cli/commands/groups.ts):
//                          the CLI with that group's commands only;
//   fieldsync.cjs          every group, for help, --version and an unknown command;
//   route.cjs              which of them a command line runs (main/cli/route.ts).
// bin/fieldsync.cjs asks route.cjs, then runs that bundle with a V8 code
// cache. One CommonJS file, not two hundred ES modules: Node loads it
// synchronously, and V8 can be handed a code cache for it, which an ES
// module cannot have on Node 20. A bundle per group keeps what a quick
// command reads and deserializes small. Together they take `fieldsync ls`
// from 1.7x to about 1.4x the start-up of `node -e 0` (`npm run bench --
// startup`).
//
// Within a bundle, what a command does not use is not run: esbuild wraps
// every module reached through a dynamic import() in a function called on
// first use, and V8 compiles a function only when it is called. Small
// pure-JS packages are bundled; the native ones (better-sqlite3, ssh2) stay
// external and are required inside the modules that use them; the libp2p
// stack, ES modules only, stays external and is loaded with import()
// (main/peers/libp2p.ts, main/peers/identity.ts), by the LAN commands alone.
//
// A bundled module's `import.meta.url` is rewritten to the URL of its own
// compiled copy under dist/main|shared (tsc's output, which the build writes
// first), so that everything a module finds relative to itself (install.sh,
// the renderer, package.json, the worker threads, which run tsc's output)
// is where it was before bundling.
import { build } from 'esbuild'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const root = path.resolve(import.meta.dirname, '..')
/** Packages Node loads at run time: native code, and the libp2p stack (ES modules only, large, patched). */
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
      const url = `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(compiled)})).href`
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' }
    })
  },
}

/**
 * In group G's bundle, the loaders of the other groups (main/cli/commands/index.ts)
 * lead to a module that says so: bin/fieldsync.cjs never runs their commands
 * with this bundle.
 */
function onlyGroup(group) {
  return {
    name: 'only-group',
    setup(b) {
      b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, args => {
        if (args.kind !== 'dynamic-import' || !args.importer.endsWith(path.join('cli', 'commands', 'index.ts'))) return undefined
        return args.path === `./${group}.js` ? undefined : { path: args.path, namespace: 'other-group' }
      })
      b.onLoad({ filter: /.*/, namespace: 'other-group' }, args => ({
        contents: `throw new Error(${JSON.stringify(`command group ${args.path} is not in the bundle of group ${group}: bin/fieldsync.cjs ran the wrong bundle (a bug)`)})`,
        loader: 'js',
      }))
    },
  }
}

/**
 * The bundle's import() of a package (the libp2p stack, ssh2, node:zlib) goes
 * through the launcher: V8 code from a cache has lost what Node needs to run
 * an import() (Node 20), so bin/fieldsync.cjs, compiled by Node itself,
 * lends its own. Without the launcher (a plain require), the bundle's own
 * import() does it.
 */
const IMPORT = 'globalThis[Symbol.for("fieldsync.import")]'
const banner = `var __fieldsyncImport = ${IMPORT} || ((specifier) => import(specifier));`

const options = {
  outdir,
  write: false,
  banner: { js: banner },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: ['node20'],
  external: EXTERNAL,
  outExtension: { '.js': '.cjs' },
  sourcemap: 'linked',
  logLevel: 'warning',
}
const index = path.join(root, 'main', 'cli', 'index.ts')
const { GROUP_COMMANDS } = await import(pathToFileURL(path.join(root, 'dist', 'main', 'cli', 'commands', 'groups.js')).href)

await rm(outdir, { recursive: true, force: true })
const results = await Promise.all([
  build({ ...options, entryPoints: { route: path.join(root, 'main', 'cli', 'route.ts') } }),
  build({ ...options, entryPoints: { fieldsync: index }, plugins: [importMetaUrl] }),
  ...Object.keys(GROUP_COMMANDS).map(group =>
    build({ ...options, entryPoints: { [`fieldsync-${group}`]: index }, plugins: [importMetaUrl, onlyGroup(group)] }),
  ),
])
await mkdir(outdir, { recursive: true })
for (const { outputFiles } of results) {
  for (const f of outputFiles) {
    let text = f.text
    if (f.path.endsWith('.cjs')) {
      text = text.replace(/\bimport\("([^"]+)"\)/g, '__fieldsyncImport("$1")')
      const left = text.match(/(?<![\w$.])import\(\s*["'`]/g)?.length ?? 0
      if (left !== 0) throw new Error(`${f.path}: ${left} import() left that code from a cache cannot run`)
    }
    await writeFile(f.path, text)
  }
}
