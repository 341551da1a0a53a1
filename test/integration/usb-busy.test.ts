/**
 * install.sh on a busy device (issue #13, USB): pv-ctrl answers a run
 * command 503 while an update or a command is in progress (ctrl/ctrl_cmd.c,
 * with Retry-After), and upstream pvcontrol exits 75 on it. install.sh keeps
 * asking with a growing interval, up to BUSY_WAIT seconds, then runs the
 * revision; past BUSY_WAIT it gives up with a message that says to run it
 * again later, having stored the step. The device: the simulator with
 * --busy-commands N (the next N run commands answer 503), not a race with an
 * update's timing.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { buildState, writeTarball } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { PVCONTROL, skipWithoutUpstream, upstreamAbsent } from '../helpers/upstream.js'
import { has, makeParts } from '../main/usb/helpers.js'
import { hasSimulator, startDevice } from './usb-pvctrl.js'

const NO_PVCONTROL = upstreamAbsent(PVCONTROL, 'upstream pvcontrol (PVCONTROL)') ?? (has('curl') ? null : 'curl is not installed (pvcontrol runs it)')
const shell = [['dash'], ['busybox', 'sh']].find(s => has(s[0])) ?? ['sh']

function sh(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise(resolve => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, ...env }, timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err })
    })
  })
}

async function stickWith(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const home = await tempDir(t, 'fieldsync-usb-home-')
  const src = await tempDir(t)
  const p = await makeParts(src)
  const state = buildState({ kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'app0', root: p.roots[0], config: p.configs[0] }] })
  const tar = join(src, 'rev-a.tar')
  await writeTarball(tar, JSON.stringify(state), [p.kernel, p.initrd, p.roots[0], p.configs[0]])
  assert.equal((await runCli(['import', '--name', 'rev-a', tar], { home })).code, 0)
  const stick = await tempDir(t, 'fieldsync-stick-')
  assert.equal((await runCli(['usb', 'export', 'rev-a', stick], { home })).code, 0)
  return stick
}

describe('usb: install.sh and a busy device', () => {
  it('keeps asking a busy device with a growing interval, then runs the revision to its end', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    if (!hasSimulator()) {
      t.skip('needs the device simulator (--busy-commands)')
      return
    }
    const stick = await stickWith(t)
    const dev = await startDevice(t, await tempDir(t), ['--busy-commands', '3'])
    const r = await sh([...shell, join(stick, 'install.sh'), 'rev-a'], {
      SOCKET: dev.sock,
      CURL_CMD: 'curl',
      PVCONTROL: [...shell, PVCONTROL].join(' '),
      INTERVAL: '0.1',
      TIMEOUT: '30',
      TMPDIR: '/tmp',
    })
    assert.equal(r.code, 0, r.out + r.err)
    const waits = [...r.out.matchAll(/the device is busy .*asking again in ([\d.]+) s/g)].map(m => Number(m[1]))
    assert.equal(waits.length, 3, r.out)
    assert.ok(waits[1] > waits[0] && waits[2] > waits[1], `a growing interval: ${waits.join(', ')}`)
    assert.match(r.out, /locals\/rev-a: (DONE|UPDATED)/)
  })

  it('past BUSY_WAIT it stops asking, with the step stored and a message to run it again later', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    if (!hasSimulator()) {
      t.skip('needs the device simulator (--busy-commands)')
      return
    }
    const stick = await stickWith(t)
    const dev = await startDevice(t, await tempDir(t), ['--busy-commands', '1000'])
    const r = await sh([...shell, join(stick, 'install.sh'), 'rev-a'], {
      SOCKET: dev.sock,
      CURL_CMD: 'curl',
      PVCONTROL: [...shell, PVCONTROL].join(' '),
      INTERVAL: '0.5',
      BUSY_WAIT: '2',
      TIMEOUT: '30',
      TMPDIR: '/tmp',
    })
    assert.equal(r.code, 1, r.out + r.err)
    assert.match(r.err, /the device stayed busy for 2 s and did not run locals\/rev-a: .*run this again later/)
    assert.equal((await dev.get('/steps/locals/rev-a')).status, 200, 'the step is stored: a rerun only runs it')
  })
})
