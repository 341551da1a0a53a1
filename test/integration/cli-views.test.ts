/**
 * `show` and `diff` have one model (shared/library/views.ts): the CLI's
 * `--json` is exactly what the app's `library.show`/`library.diff` answer,
 * and the CLI's text is that model rendered (main/cli/views.ts).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { RevisionDetail, RevisionDiff } from '../../shared/api/types.js'
import { silentLogger } from '../../shared/log.js'
import { App } from '../../main/app/index.js'
import { ApiCore } from '../../main/app/handlers/index.js'
import { diffText, showText } from '../../main/cli/views.js'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'

async function apiOn(t: Parameters<typeof tempDir>[0], home: string): Promise<ApiCore> {
  const app = new App({ home, log: silentLogger() })
  const core = new ApiCore({ app, log: silentLogger() }, { mode: 'browser' })
  await app.add('ui.api', core)
  await app.start()
  t.after(async () => {
    await app.stop()
  })
  return core
}

async function call<T>(core: ApiCore, channel: string, req: unknown): Promise<T> {
  const r = await core.dispatch(channel, req)
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`)
  return r.value as T
}

describe('show and diff: one model for the CLI and the app', () => {
  it('the CLI prints, as JSON and as text, the model the app returns', async t => {
    const home = await tempDir(t)
    for (const [file, name] of [
      ['pvwificonnect.tgz', 'wifi'],
      ['watchdog_pinger.tar', 'wd'],
      ['initial_state.json', 'initial'],
    ]) {
      const r = await runCli(['import', join(vendoredUpstreamDir, file), '--name', name], { home })
      assert.equal(r.code, 0, r.stderr)
    }
    const cli = async (args: string[]): Promise<{ json: unknown; text: string }> => {
      const j = await runCli(['--json', ...args], { home })
      assert.equal(j.code, 0, j.stderr)
      const x = await runCli(args, { home })
      assert.equal(x.code, 0, x.stderr)
      return { json: j.json(), text: x.stdout.replace(/\n$/, '') }
    }
    const shows = await Promise.all(['wifi', 'initial'].map(async rev => await cli(['show', rev])))
    const diff = await cli(['diff', 'wd', 'initial'])
    const core = await apiOn(t, home)
    for (const [i, rev] of ['wifi', 'initial'].entries()) {
      const model = await call<RevisionDetail>(core, 'library.show', { rev })
      assert.deepEqual(shows[i].json, model, `show ${rev}: the CLI's JSON is the API's answer`)
      assert.equal(shows[i].text, showText(model), `show ${rev}: the CLI's text renders the API's answer`)
    }
    const initial = shows[1].json as RevisionDetail
    assert.equal(initial.revision.complete, false, 'a bare state JSON: its objects are missing')
    assert.match(shows[1].text, /MISSING/)
    assert.ok(initial.parts.some(p => p.kind === 'bsp'))
    const model = await call<RevisionDiff>(core, 'library.diff', { a: 'wd', b: 'initial' })
    assert.deepEqual(diff.json, model)
    assert.equal(diff.text, diffText(model))
    assert.ok(model.added.length > 0 && model.removed.length > 0)
    assert.match(diff.text, new RegExp(`^wd -> initial\\n[\\s\\S]*${model.added.length} added, ${model.removed.length} removed`))
  })
})
