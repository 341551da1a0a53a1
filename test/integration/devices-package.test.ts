/**
 * Packages onto a device (issue #14, item 4): a revision without a BSP is
 * composed onto the state the device runs, read over the connection in use
 * (pv-ctrl GET /steps/current as `pvtx begin current` does, or pvr-sdk's
 * json-get-url), and never sent as a whole state: upstream storage.c finds no
 * boot assets in a BSP-less state and the update ends ERROR "Internal error".
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { compose, parseState } from '../../shared/state/index.js'
import { runCli, type CliRun } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { readExport } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { DEV_CA, deviceSteps, importRev, json, sentObjects, simFactory, startSim, WIFI_TGZ, type Sim } from './devices-harness.js'

const WATCHDOG_TAR = join(vendoredUpstreamDir, 'pvtx', 'resources', 'watchdog_pinger.tar')

interface Plan {
  as: string
  step: string
  objectsToSend: number
  composition: {
    onto: string
    result: string
    changed: boolean
    parts: { added: string[]; replaced: string[]; removed: string[]; unchanged: string[] }
    signature: { pass: boolean; summary: string } | null
  } | null
}

function install(home: string, device: string, rev: string, args: string[] = []): Promise<CliRun> {
  return runCli(['--json', 'install', rev, '--device', device, '--poll', '50', ...args], { home, timeoutMs: 90_000 })
}

async function library(t: Parameters<typeof tempDir>[0]): Promise<{ dir: string; home: string }> {
  const dir = await tempDir(t)
  const home = join(dir, 'home')
  await importRev(home, WIFI_TGZ, 'wifi')
  await importRev(home, WATCHDOG_TAR, 'watchdog')
  // The packages are signed by the Pantavisor Dev CA: the library's policy must know it, as the device does.
  assert.equal((await runCli(['trust', 'add', DEV_CA], { home })).code, 0)
  return { dir, home }
}

/** Top-level parts of a state: container folders and the BSP. */
function parts(state: Record<string, unknown>): string[] {
  return [
    ...new Set(
      Object.keys(state)
        .filter(k => k !== '#spec')
        .map(k => k.split('/')[0]),
    ),
  ].sort()
}

async function current(sim: Sim): Promise<Record<string, unknown>> {
  return await json<Record<string, unknown>>(sim.socket, '/steps/current')
}

describe('install of a package onto what a device runs', () => {
  it('through pv-ctrl: watchdog_pinger, then pvwificonnect; the plan says what changes; the device keeps its BSP, pvr-sdk and both packages, and runs the state pvtx would compose', async t => {
    const { dir, home } = await library(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const dev = `unix:${sim.socket}`
    const factory = await current(sim)
    assert.ok('bsp/run.json' in factory)

    const dry = await install(home, dev, 'watchdog', ['--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    const plan = dry.json() as Plan
    assert.equal(plan.as, 'package')
    assert.ok(plan.composition !== null)
    assert.deepEqual(plan.composition.parts.added, ['watchdog_pinger'])
    assert.deepEqual(plan.composition.parts.removed, [])
    assert.equal(plan.composition.signature?.pass, true, plan.composition.signature?.summary)
    assert.equal((await sentObjects(sim.socket)).size, 0, 'a dry run sends nothing')
    const text = await runCli(['install', 'watchdog', '--device', dev, '--dry-run'], { home })
    assert.match(text.stdout, /a package: composed onto what the device runs/)
    assert.match(text.stdout, /parts added: {4}watchdog_pinger/)

    const r1 = await install(home, dev, 'watchdog')
    assert.equal(r1.code, 0, r1.stderr)
    // watchdog_pinger names no group and no restart policy: in upstream's default groups it restarts the
    // system, so the device reboots to DONE; pvwificonnect (restart_policy container) ends UPDATED (state.c).
    assert.equal((r1.json() as { status: string }).status, 'DONE')
    const r2 = await install(home, dev, 'wifi')
    assert.equal(r2.code, 0, r2.stderr)
    assert.equal((r2.json() as { status: string }).status, 'UPDATED')

    const now = await current(sim)
    assert.deepEqual(parts(now), [...new Set([...parts(factory), '_sigs', 'pvwificonnect', 'watchdog_pinger'])].sort())
    for (const k of Object.keys(factory)) assert.deepEqual(now[k], factory[k], `${k}: what the device ran stays`)
    // The same composition as pvtx's engine gives, from the factory state.
    const expected = compose(parseState(Buffer.from(JSON.stringify(factory)), 'factory'), [
      { add: (await readExport(WATCHDOG_TAR)).json },
      { add: (await readExport(WIFI_TGZ)).json },
    ])
    assert.deepEqual(now, JSON.parse(expected.text))
  })

  it("through pvr-sdk (the state from json-get-url, pvr's post of the composed state)", async t => {
    const { dir, home } = await library(t)
    const sim = await startSim(t, join(dir, 'dev'), ['--assume-pvr-sdk-progress'])
    const r = await install(home, sim.http, 'wifi')
    assert.equal(r.code, 0, r.stderr)
    assert.equal((r.json() as { status: string }).status, 'UPDATED')
    const now = await current(sim)
    assert.ok('bsp/run.json' in now, 'the BSP stays')
    assert.ok('pvwificonnect/run.json' in now)
    const factory = JSON.parse(simFactory().json.toString('utf8')) as Record<string, unknown>
    for (const k of Object.keys(factory)) assert.deepEqual(now[k], factory[k], `${k}: what the device ran stays`)
  })

  it('a package as the whole state (--replace-state) is refused before anything is sent', async t => {
    const { dir, home } = await library(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const steps = await deviceSteps(sim.socket)
    const r = await install(home, `unix:${sim.socket}`, 'wifi', ['--replace-state'])
    assert.equal(r.code, 2, 'a usage error')
    const e = (r.json() as { error: { code: string; message: string } }).error
    assert.equal(e.code, 'E_USAGE')
    assert.match(e.message, /no BSP/)
    assert.equal((await sentObjects(sim.socket)).size, 0)
    assert.deepEqual(await deviceSteps(sim.socket), steps)
  })
})
