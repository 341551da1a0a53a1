/**
 * A site for the e2e tests of fleets: a library holding watchdog_pinger (the
 * upstream package composed into a full revision), simulated devices added
 * to the app by address and named, optionally tagged, optionally a spare
 * device that answers nothing, and a browser (not yet on the app's page).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { fullRevisionOf } from '../integration/devices-harness.js'
import { apiCall, openBrowser, startUi, stopChild, type BrowserSession, type UiProcess } from './helpers.js'
import { startSim, type Sim } from './sim.js'

export interface Site {
  work: string
  home: string
  /** The app; a test that restarts it puts the new one here. */
  ui: UiProcess
  b: BrowserSession
  sims: Sim[]
  /** The devices' ids, in the order of their names. */
  ids: string[]
  /** The names the app gave the devices when they were added (before the alias). */
  addedNames: string[]
  /** The app's token header. */
  H: () => Record<string, string>
  close: () => Promise<void>
}

export async function startSite(o: { names: readonly string[]; simArgs: readonly string[]; tag?: string; spare?: boolean }): Promise<Site> {
  const cleanups: Array<() => Promise<void>> = []
  const work = await tempDir({
    after: (fn: () => Promise<void>) => {
      cleanups.push(fn)
    },
  })
  const home = join(work, 'home')
  const full = await fullRevisionOf(join(work, 'src'), join(vendoredUpstreamDir, 'watchdog_pinger.tar'), 'watchdog_pinger-full')
  const r = await runCli(['import', full.tarball, '--name', 'watchdog_pinger'], { home })
  assert.equal(r.code, 0, r.stderr)
  const sims: Sim[] = []
  for (const name of o.names) sims.push(await startSim(join(work, name), [...o.simArgs, '--name', name]))
  const site = { work, home, sims, ids: [] as string[], addedNames: [] as string[] } as Site
  site.ui = await startUi(home)
  site.H = () => ({ 'x-fieldsync-token': site.ui.token })
  for (const [i, s] of sims.entries()) {
    const added = await apiCall(site.ui.base, 'devices.add', { address: s.http }, site.H())
    assert.equal(added.status, 200, JSON.stringify(added.json))
    site.ids.push(added.json.value.deviceId)
    site.addedNames.push(added.json.value.name)
    const named = await apiCall(site.ui.base, 'devices.rename', { device: site.ids[i], alias: o.names[i] }, site.H())
    assert.equal(named.status, 200, JSON.stringify(named.json))
  }
  if (o.tag !== undefined) assert.equal((await apiCall(site.ui.base, 'devices.tag', { devices: site.ids, tags: [o.tag] }, site.H())).status, 200)
  if (o.spare === true) {
    // A device of the site that answers nothing at its address, named "spare", without the tag.
    const spare = await apiCall(site.ui.base, 'devices.add', { address: '127.0.0.1:9', offline: true }, site.H())
    assert.equal(spare.status, 200, JSON.stringify(spare.json))
    assert.equal((await apiCall(site.ui.base, 'devices.rename', { device: spare.json.value.deviceId, alias: 'spare' }, site.H())).status, 200)
  }
  site.b = await openBrowser()
  site.close = async () => {
    await site.b.close()
    await site.ui.stop()
    for (const s of sims) await stopChild(s.child)
    for (const c of cleanups.reverse()) await c()
  }
  return site
}
