/**
 * Receipts through a real FAT32 stick: a stick exported once installs on
 * several simulated devices (install.sh with upstream pvcontrol, as on a
 * site), each run writes its receipt back onto the stick, and `fieldsync usb
 * receipts` imports them into the devices' install histories and a report.
 * A receipt cut short or naming a revision the stick never carried is
 * reported and not imported.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { buildState, writeTarball } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { PVCONTROL, skipWithoutUpstream, upstreamAbsent } from '../helpers/upstream.js'
import { fatStick, has, makeParts } from '../main/usb/helpers.js'
import { startDevice } from './usb-pvctrl.js'

const NO_PVCONTROL = upstreamAbsent(PVCONTROL, 'upstream pvcontrol (PVCONTROL)') ?? (has('curl') ? null : 'curl is not installed (pvcontrol runs it)')
const SHELL = has('busybox') ? ['busybox', 'sh'] : ['dash']

function sh(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise(resolve => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, ...env }, timeout: 90_000 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err })
    })
  })
}

async function library(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const home = await tempDir(t, 'fieldsync-usb-home-')
  const src = await tempDir(t)
  const p = await makeParts(src)
  const state = buildState({ kernel: p.kernel, initrd: p.initrd, containers: [{ name: 'app0', root: p.roots[0], config: p.configs[0] }] })
  const tar = join(src, 'site.tar')
  await writeTarball(tar, JSON.stringify(state), [p.kernel, p.initrd, p.roots[0], p.configs[0]])
  const r = await runCli(['import', '--name', 'site', tar], { home })
  assert.equal(r.code, 0, r.stderr)
  return home
}

interface Imported {
  device: { id: string; nick: string }
  step: string | null
  progress: { status: string }
  added: boolean
  revision: { name: string }
  before: { revision: string; stateSha256: string | null }
}

describe('usb: receipts for a fleet', () => {
  it('install.sh leaves a receipt per device on a FAT32 stick; usb receipts imports them into the install histories and the report, once; damaged receipts are reported, not imported', async t => {
    if (skipWithoutUpstream(t, NO_PVCONTROL)) return
    const stick = await fatStick(t, 64)
    if (typeof stick === 'string') {
      t.skip(stick)
      return
    }
    t.diagnostic(`stick: ${stick.how}`)
    const home = await library(t)
    const ex = await runCli(['usb', 'export', 'site', stick.dir], { home })
    assert.equal(ex.code, 0, ex.stderr)

    // Three devices of the site; the third only stores the revision (--no-run).
    const devices = ['line-1', 'line-2', 'line-3']
    for (const [i, id] of devices.entries()) {
      const dev = await startDevice(t, await tempDir(t))
      const args = i === 2 ? ['--no-run', 'site'] : ['site']
      const r = await sh([...SHELL, join(stick.dir, 'install.sh'), ...args], {
        SOCKET: dev.sock,
        CURL_CMD: 'curl',
        PVCONTROL: [...SHELL, PVCONTROL].join(' '),
        INTERVAL: '0.1',
        TIMEOUT: '60',
        TMPDIR: '/tmp',
        DEVICE_ID: id,
        NICK: `press ${i + 1}`,
      })
      assert.equal(r.code, 0, `${dev.kind}: ${r.out}\n${r.err}`)
      assert.match(r.out, /receipt written: receipts\//)
    }
    const written = (await readdir(join(stick.dir, 'receipts'))).sort()
    assert.equal(written.length, 3, written.join(', '))
    assert.equal(
      written.some(n => n.endsWith('.tmp')),
      false,
    )

    // One receipt cut short (power lost while writing), one naming a revision this stick never carried.
    const first = await readFile(join(stick.dir, 'receipts', written[0]), 'utf8')
    await writeFile(join(stick.dir, 'receipts', 'zz-cut.json'), first.slice(0, Math.floor(first.length / 2)))
    await writeFile(join(stick.dir, 'receipts', 'zz-other.json'), first.replace('"name":"site"', '"name":"other"').replace(/"id":"line-1"/, '"id":"line-9"'))

    const report = join(await tempDir(t), 'site.csv')
    const r = await runCli(['--json', 'usb', 'receipts', stick.dir, '--report', report], { home })
    assert.equal(r.code, 1, 'damaged receipts make the import exit 1')
    const res = r.json() as { imported: Imported[]; damaged: Array<{ file: string; problem: string }> }
    assert.deepEqual(res.imported.map(x => x.device.id).sort(), devices)
    assert.ok(res.imported.every(x => x.added && x.revision.name === 'site' && x.step === 'locals/site'))
    assert.ok(
      res.imported.every(x => x.before.revision !== '' && x.before.stateSha256 !== null),
      'what each device ran before',
    )
    assert.deepEqual(
      res.imported
        .map(x => x.progress.status)
        .sort()
        .slice(2),
      ['NEW'],
    )
    for (const x of res.imported.filter(x => x.device.id !== 'line-3')) assert.match(x.progress.status, /^(DONE|UPDATED)$/)
    assert.deepEqual(res.damaged.map(d => d.file).sort(), ['receipts/zz-cut.json', 'receipts/zz-other.json'])

    // Each device's history holds its install via the stick, and nothing of the damaged receipts.
    for (const id of devices) {
      const show = await runCli(['--json', 'devices', 'show', id], { home })
      assert.equal(show.code, 0, show.stderr)
      const installs = (show.json() as { installs: Array<{ via: string; step: string; status: string; revisionName: string }> }).installs
      assert.equal(installs.length, 1, `${id}: one install`)
      assert.equal(installs[0].via, 'usb')
      assert.equal(installs[0].step, 'locals/site')
      assert.equal(installs[0].revisionName, 'site')
    }
    assert.notEqual((await runCli(['--json', 'devices', 'show', 'line-9'], { home })).code, 0, 'the damaged receipt added no device')

    // The report: one row per device, with the nick the device was given.
    const csv = (await readFile(report, 'utf8')).trim().split('\r\n')
    assert.equal(csv.length, 1 + devices.length)
    assert.ok(csv[0].startsWith('device,name,'))
    for (const [i, id] of devices.entries())
      assert.ok(
        csv.some(l => l.startsWith(`${id},press ${i + 1},`)),
        `${id} in the report`,
      )

    // Imported again: nothing added twice.
    const again = await runCli(['--json', 'usb', 'receipts', stick.dir], { home })
    assert.ok((again.json() as { imported: Imported[] }).imported.every(x => !x.added))
    for (const id of devices) {
      const installs = ((await runCli(['--json', 'devices', 'show', id], { home })).json() as { installs: unknown[] }).installs
      assert.equal(installs.length, 1)
    }
  })
})
