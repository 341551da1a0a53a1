/** Which revisions are packages, and a package never sent as a whole state (main/devices/onto.ts). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { composeOntoDevice, installAs, isPackage } from '../../../main/devices/onto.js'
import type { DeviceDriver } from '../../../main/devices/drivers/types.js'
import { parseState } from '../../../shared/state/index.js'

const enc = new TextEncoder()
const whole = parseState(
  enc.encode(
    JSON.stringify({
      '#spec': 'pantavisor-service-system@1',
      'bsp/run.json': { addon: [], initrd: 'pantavisor', linux: 'kernel.img' },
      'bsp/kernel.img': 'a'.repeat(64),
      'bsp/pantavisor': 'b'.repeat(64),
    }),
  ),
  'whole',
)
const pkg = parseState(
  enc.encode(
    JSON.stringify({
      '#spec': 'pantavisor-service-system@1',
      'app/run.json': {
        '#spec': 'service-manifest-run@1',
        name: 'app',
        type: 'lxc',
        'root-volume': 'root.squashfs',
        config: 'lxc.container.conf',
        storage: {},
      },
      'app/root.squashfs': 'c'.repeat(64),
      'app/lxc.container.conf': 'd'.repeat(64),
    }),
  ),
  'pkg',
)

function driver(stepState?: DeviceDriver['stepState']): DeviceDriver {
  const no = async (): Promise<never> => {
    throw new Error('not called')
  }
  return { via: 'pv-ctrl', target: 'unix:/dev/null', open: no, close: no, meta: no, lacking: no, putObject: no, putStep: no, run: no, progress: no, stepState }
}

describe('packages onto a device', () => {
  it('a revision without bsp/run.json is a package, composed by default; --replace-state refuses it; --compose composes a whole revision', () => {
    assert.equal(isPackage(pkg), true)
    assert.equal(isPackage(whole), false)
    assert.equal(installAs(pkg, 'pkg', {}), 'package')
    assert.equal(installAs(whole, 'whole', {}), 'state')
    assert.equal(installAs(whole, 'whole', { compose: true }), 'package')
    assert.equal(installAs(whole, 'whole', { replaceState: true }), 'state')
    assert.throws(
      () => installAs(pkg, 'pkg', { replaceState: true }),
      (e: Error & { code?: string }) => e.code === 'E_USAGE' && /pkg has no BSP/.test(e.message),
    )
    assert.throws(() => installAs(whole, 'whole', { replaceState: true, compose: true }), /contradict/)
  })

  it('a device whose running state cannot be read, or is not a state, refuses the package: E_NOT_AVAILABLE naming the device and the cause', async () => {
    const signal = new AbortController().signal
    await assert.rejects(
      composeOntoDevice(driver(undefined), { raw: pkg.raw, name: 'pkg' }, {}, signal),
      (e: Error & { code?: string }) => e.code === 'E_NOT_AVAILABLE' && /cannot read that state; nothing was sent/.test(e.message),
    )
    await assert.rejects(
      composeOntoDevice(
        driver(async () => {
          throw new Error('404 no current step')
        }),
        { raw: pkg.raw, name: 'pkg' },
        {},
        signal,
      ),
      (e: Error & { code?: string }) => e.code === 'E_NOT_AVAILABLE' && /reading that state failed: 404 no current step; nothing was sent/.test(e.message),
    )
    await assert.rejects(
      composeOntoDevice(
        driver(async () => enc.encode('<html>')),
        { raw: pkg.raw, name: 'pkg' },
        {},
        signal,
      ),
      (e: Error & { code?: string }) => e.code === 'E_NOT_AVAILABLE' && /not a state JSON/.test(e.message),
    )
  })

  it('composes onto the running state: the BSP stays, the package is added, and the parts say so', async () => {
    const signal = new AbortController().signal
    const r = await composeOntoDevice(
      driver(async () => whole.raw),
      { raw: pkg.raw, name: 'pkg' },
      {},
      signal,
    )
    assert.ok('bsp/run.json' in r.state.json && 'app/run.json' in r.state.json)
    assert.deepEqual(r.composition.parts.added, ['app'])
    assert.equal(r.composition.changed, true)
    const again = await composeOntoDevice(
      driver(async () => r.raw),
      { raw: pkg.raw, name: 'pkg' },
      {},
      signal,
    )
    assert.equal(again.composition.changed, false)
    assert.equal(again.composition.result, again.composition.onto)
  })

  it('takes the signature verdict from a judge where one is given (the app: its signature worker), with the states it was composed from', async () => {
    const seen: Array<{ raw: Uint8Array; origins: Uint8Array[] }> = []
    const r = await composeOntoDevice(
      driver(async () => whole.raw),
      { raw: pkg.raw, name: 'pkg' },
      {
        judge: async (raw, origins) => {
          seen.push({ raw, origins })
          return {
            policy: 'lenient',
            pass: false,
            result: 'invalid',
            summary: 'INVALID: judged elsewhere',
            reason: 'x',
            device: '422',
            broken: [],
            report: {} as never,
          }
        },
      },
      new AbortController().signal,
    )
    assert.equal(seen.length, 1)
    assert.deepEqual(seen[0]?.raw, r.raw)
    assert.deepEqual(seen[0]?.origins, [whole.raw, pkg.raw])
    assert.deepEqual(r.composition.signature, { pass: false, summary: 'INVALID: judged elsewhere', device: '422', broken: [] })
  })
})
