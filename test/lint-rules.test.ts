/**
 * The lint rules per runtime (eslint.config.js, docs/architecture.md) refuse
 * what they say they refuse: snippets linted as if they were files of each
 * folder. The whole tree passing `npm run lint` cannot show that a rule
 * fires; this can.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ESLint } from 'eslint'
import { repoRoot } from './helpers/paths.js'

const eslint = new ESLint({ cwd: repoRoot })

async function refusals(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: `${repoRoot}/${file}` })
  return r.messages.filter(m => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-console').map(m => m.message)
}

const refused = async (file: string, spec: string): Promise<void> => {
  const m = await refusals(file, `import x from '${spec}'\nexport default x\n`)
  assert.ok(m.length > 0, `${file} may not import ${spec}, but the lint let it`)
}
const allowed = async (file: string, spec: string): Promise<void> => {
  assert.deepEqual(await refusals(file, `import x from '${spec}'\nexport default x\n`), [], `${file} may import ${spec}`)
}

describe('lint: each runtime imports only what runs there', () => {
  it('shared/ is an allow-list: its own files and the pure packages, no Node built-in of any spelling', async () => {
    for (const spec of [
      'node:fs',
      'node:events',
      'events',
      'zlib',
      'worker_threads',
      'node:worker_threads',
      'buffer',
      'electron',
      'tar-stream',
      '../../main/store/library.js',
      '../renderer/app.js',
    ])
      await refused('shared/state/x.ts', spec)
    for (const spec of ['./canonical.js', '../errors.js', 'multiformats/cid', '@noble/hashes/sha2.js']) await allowed('shared/state/x.ts', spec)
  })

  it('renderer/ imports shared/, its own files and preact only', async () => {
    for (const spec of ['node:path', 'events', 'electron', '../main/app/index.js', 'libp2p']) await refused('renderer/screens/x.tsx', spec)
    for (const spec of ['preact', 'preact/hooks', '../../shared/errors.js', '../ui.js']) await allowed('renderer/screens/x.tsx', spec)
  })

  it('the preload imports electron and the bridge only; the bridge is pure', async () => {
    for (const spec of ['node:fs', '../app/index.js', '../../shared/errors.js']) await refused('main/electron/preload.cts', spec)
    for (const spec of ['electron', './bridge.js']) await allowed('main/electron/preload.cts', spec)
    for (const spec of ['electron', 'node:fs', '../app/index.js']) await refused('main/electron/bridge.ts', spec)
    await allowed('main/electron/bridge.ts', '../../shared/api/client.js')
  })

  it("Electron's main process may use electron and the composition root, not the other front ends; no console", async () => {
    for (const spec of ['electron', 'node:path', '../app/index.js']) await allowed('main/electron/main.ts', spec)
    for (const spec of ['../cli/cli.js', '../web/server.js', '../../renderer/app.js']) await refused('main/electron/main.ts', spec)
    assert.ok((await refusals('main/electron/main.ts', 'console.log(1)\n')).length > 0)
  })

  it('services import neither electron nor the composition root', async () => {
    for (const spec of ['electron', '../app/index.js', '../cli/cli.js']) await refused('main/store/x.ts', spec)
    await allowed('main/store/x.ts', 'node:fs')
  })
})
