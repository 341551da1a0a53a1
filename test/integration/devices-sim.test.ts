/**
 * The device simulator's pv-ctrl socket, driven with the exact requests the
 * upstream `pvcontrol` script makes (curl --unix-socket with its flags), and
 * by the real script when it is at ../shared/fixtures/upstream/pvcontrol or
 * $PVCONTROL: status codes and bodies as ctrl/*.c answers them.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { tempDir } from '../helpers/tmp.js'
import {
  curl,
  DEV_CA,
  deviceObjects,
  deviceSteps,
  fullRevisionOf,
  has,
  json,
  makeRev,
  PVCONTROL,
  sentObjects,
  startSim,
  waitJson,
  waitProgress,
  WIFI_TGZ,
} from './devices-harness.js'
import { skipWithoutUpstream, upstreamAbsent } from '../helpers/upstream.js'

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const NO_CURL = 'curl is not installed'

/** pvcontrol's object PUT: -T with Content-Length, Transfer-Encoding: identity. */
function putObject(sock: string, file: string, s: string): ReturnType<typeof curl> {
  return curl(sock, [
    '--max-time',
    '14400',
    '-X',
    'PUT',
    '-H',
    'Content-Type: application/octet-stream',
    '-H',
    'Transfer-Encoding: identity',
    '-T',
    file,
    `http://localhost/objects/${s}`,
  ])
}

function run(sock: string, step: string, op = 'LOCAL_RUN'): ReturnType<typeof curl> {
  return curl(sock, ['-X', 'POST', '--header', 'Content-Type: application/json', '--data', JSON.stringify({ op, payload: step }), 'http://localhost/commands'])
}

describe('device-sim: pv-ctrl as pvcontrol drives it', () => {
  it('objects, steps with a commit message, run and progress NEW → INPROGRESS → TESTING → UPDATED; device-meta follows', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const rev = await makeRev(join(dir, 'src'), 'a', [{ name: 'app', bytes: 300_000 }])
    const meta0 = await json(sim.socket, '/device-meta')
    assert.equal(meta0['pantavisor.revision'], 0)
    assert.equal(meta0['pantavisor.mode'], 'local')
    assert.equal(typeof meta0.storage.real_free, 'number')
    assert.deepEqual(await sentObjects(sim.socket), new Map(), "a fresh device holds its factory revision's objects only")
    for (const o of rev.objects) {
      const r = await putObject(sim.socket, o.path, o.sha)
      assert.equal(r.status, 200, r.body)
    }
    // stdin with an explicit length, as `pvcontrol objects put -<size> <sha>` sends it
    const extra = randomBytes(100_000)
    const r0 = await curl(
      sim.socket,
      [
        '-X',
        'PUT',
        '-H',
        `Content-Length:${extra.length}`,
        '-H',
        'Content-Type: application/octet-stream',
        '-H',
        'Transfer-Encoding: identity',
        '-T',
        '-',
        `http://localhost/objects/${sha(extra)}`,
      ],
      extra,
    )
    assert.equal(r0.status, 200)
    const objs = await deviceObjects(sim.socket)
    for (const o of rev.objects) assert.equal(objs.get(o.sha), o.size)
    const got = await curl(sim.socket, ['-o', join(dir, 'back'), `http://localhost/objects/${rev.objects[0].sha}`])
    assert.equal(got.status, 200)
    assert.equal(sha(await readFile(join(dir, 'back'))), rev.objects[0].sha)
    await writeFile(join(dir, 'json'), rev.raw)
    const put = await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(dir, 'json'), 'http://localhost/steps/locals/a'])
    assert.equal(put.status, 200, put.body)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '--data', 'first install', 'http://localhost/steps/locals/a/commitmsg'])).status, 200)
    assert.equal((await json(sim.socket, '/steps/locals/a/progress')).status, 'NEW')
    assert.equal((await curl(sim.socket, ['http://localhost/steps/locals/a'])).body, rev.raw, 'GET /steps/<rev> gives the stored bytes')
    const list = await json<Array<{ name: string; commitmsg: string }>>(sim.socket, '/steps')
    assert.equal(list.find(s => s.name === 'locals/a')?.commitmsg, 'first install')
    assert.equal((await run(sim.socket, 'locals/a')).status, 200)
    const seen = new Set<string>()
    const end = await waitProgress(sim.socket, 'locals/a', s => {
      seen.add(s)
      return s === 'UPDATED' || s === 'DONE' || s === 'ERROR'
    })
    // The BSP differs from the factory revision: the device reboots, so DONE.
    assert.equal(end.status, 'DONE')
    assert.ok(seen.has('TESTING'))
    const meta = await json(sim.socket, '/device-meta')
    assert.equal(meta['pantavisor.revision'], 'locals/a')
    assert.equal((await json(sim.socket, '/steps/current/progress')).status, 'DONE')
  })

  it('an object whose bytes do not hash to its name: 422 "Object has bad checksum" and the file is removed; a valid one again: drained, 200', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const data = randomBytes(50_000)
    await writeFile(join(dir, 'obj'), data)
    const wrong = sha('something else')
    const r = await putObject(sim.socket, join(dir, 'obj'), wrong)
    assert.equal(r.status, 422)
    assert.deepEqual(JSON.parse(r.body), { Error: 'Object has bad checksum' })
    assert.equal((await deviceObjects(sim.socket)).has(wrong), false)
    assert.equal((await putObject(sim.socket, join(dir, 'obj'), sha(data))).status, 200)
    assert.equal((await putObject(sim.socket, join(dir, 'obj'), sha(data))).status, 200)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '-T', join(dir, 'obj'), 'http://localhost/objects/abc'])).status, 400)
  })

  it('steps: bad JSON or a bad signature: 422 and the revision removed; the dev CA trusted: accepted; bad names: 400', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'), ['--trust-ca', 'none'])
    await writeFile(join(dir, 'bad.json'), '{"#spec": "pantavisor-service-system@1", "app/root.squashfs": }')
    const r = await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(dir, 'bad.json'), 'http://localhost/steps/locals/bad'])
    assert.equal(r.status, 422)
    assert.deepEqual(JSON.parse(r.body), { Error: 'Parser: State JSON has bad format' })
    assert.equal((await deviceSteps(sim.socket)).includes('locals/bad'), false)
    const wifi = join(dir, 'wifi')
    await new Promise<void>((resolve, reject) => {
      execFile('sh', ['-c', `mkdir -p ${wifi} && tar xzf ${WIFI_TGZ} -C ${wifi} json`], e => (e === null ? resolve() : reject(e)))
    })
    const s = await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(wifi, 'json'), 'http://localhost/steps/locals/wifi'])
    assert.equal(s.status, 422, 'signed by a CA the device does not trust')
    assert.deepEqual(JSON.parse(s.body), { Error: 'Secureboot: Signature validation failed' })
    assert.equal((await deviceSteps(sim.socket)).includes('locals/wifi'), false)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(wifi, 'json'), `http://localhost/steps/locals/${'x'.repeat(65)}`])).status, 400)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(wifi, 'json'), 'http://localhost/steps/remotes/1'])).status, 400)
    const trusting = await startSim(t, join(dir, 'dev2'), ['--trust-ca', DEV_CA])
    const ok = await curl(trusting.socket, ['-X', 'PUT', '--upload-file', join(wifi, 'json'), 'http://localhost/steps/locals/wifi'])
    assert.equal(ok.status, 200, ok.body)
  })

  it('commands: 503 with Retry-After while a command is pending and while an update runs; unknown op 400', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    // A device's own delays (a command waits 1 s for the main loop; INPROGRESS lasts 3 s), so that the
    // second command and the one during the update surely arrive inside those windows, however loaded the machine.
    const sim = await startSim(t, join(dir, 'dev'), [], { fast: false })
    assert.equal((await curl(sim.socket, ['-X', 'POST', '--data', '{"op":"FLY","payload":""}', 'http://localhost/commands'])).status, 400)
    assert.equal((await run(sim.socket, '', 'ENABLE_SSH')).status, 200)
    const busy = await curl(sim.socket, ['-i', '-X', 'POST', '--data', '{"op":"ENABLE_SSH","payload":""}', 'http://localhost/commands'])
    assert.equal(busy.status, 503)
    assert.match(busy.body, /Retry-After: 120/i)
    assert.match(busy.body, /A command is already in progress/)
    const rev = await makeRev(join(dir, 'src'), 'b', [{ name: 'app', bytes: 100_000 }])
    for (const o of rev.objects) assert.equal((await putObject(sim.socket, o.path, o.sha)).status, 200)
    await writeFile(join(dir, 'json'), rev.raw)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(dir, 'json'), 'http://localhost/steps/locals/b'])).status, 200)
    // The pending command is taken by the device's main loop shortly: until then, 503.
    let ran = await run(sim.socket, 'locals/b')
    for (let i = 0; i < 400 && ran.status === 503; i++) {
      await new Promise(resolve => setTimeout(resolve, 25))
      ran = await run(sim.socket, 'locals/b')
    }
    assert.equal(ran.status, 200, ran.body)
    await waitProgress(sim.socket, 'locals/b', s => s === 'INPROGRESS' || s === 'TESTING')
    const during = await curl(sim.socket, ['-i', '-X', 'POST', '--data', '{"op":"LOCAL_RUN","payload":"locals/b"}', 'http://localhost/commands'])
    assert.equal(during.status, 503)
    assert.match(during.body, /Retry-After: 600/i)
  })

  it('a run with an object missing ends in ERROR; --outcome error rolls back; --outcome wontgo refuses', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const rev = await makeRev(join(dir, 'src'), 'c', [{ name: 'app', bytes: 100_000 }])
    await writeFile(join(dir, 'json'), rev.raw)
    const sim = await startSim(t, join(dir, 'dev'))
    for (const o of rev.objects.slice(1)) assert.equal((await putObject(sim.socket, o.path, o.sha)).status, 200)
    assert.equal(
      (await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(dir, 'json'), 'http://localhost/steps/locals/c'])).status,
      200,
      'the device does not check objects at PUT',
    )
    assert.equal((await run(sim.socket, 'locals/c')).status, 200)
    const p = await waitProgress(sim.socket, 'locals/c', s => s === 'ERROR' || s === 'DONE' || s === 'UPDATED')
    assert.equal(p.status, 'ERROR')
    for (const [outcome, want] of [
      ['error', 'ERROR'],
      ['wontgo', 'WONTGO'],
    ] as const) {
      const s2 = await startSim(t, join(dir, `dev-${outcome}`), ['--outcome', outcome])
      for (const o of rev.objects) assert.equal((await putObject(s2.socket, o.path, o.sha)).status, 200)
      assert.equal((await curl(s2.socket, ['-X', 'PUT', '--upload-file', join(dir, 'json'), 'http://localhost/steps/locals/c'])).status, 200)
      assert.equal((await run(s2.socket, 'locals/c')).status, 200)
      const q = await waitProgress(s2.socket, 'locals/c', s => ['ERROR', 'WONTGO', 'DONE', 'UPDATED'].includes(s))
      assert.equal(q.status, want)
      if (outcome === 'error') {
        // Rolled back to the factory revision (the rollback reboots the device: answers may be cut meanwhile).
        await waitJson<Record<string, unknown>>(s2.socket, '/device-meta', m => m['pantavisor.revision'] === 0, 5000)
      }
    }
  })

  it('garbage collection: RUN_GC drops unlinked objects and steps never run, keeps what the current revision links', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const rev = await makeRev(join(dir, 'src'), 'd', [{ name: 'app', bytes: 100_000 }])
    await writeFile(join(dir, 'json'), rev.raw)
    for (const o of rev.objects) assert.equal((await putObject(sim.socket, o.path, o.sha)).status, 200)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(dir, 'json'), 'http://localhost/steps/locals/d'])).status, 200)
    assert.equal((await run(sim.socket, 'locals/d')).status, 200)
    await waitProgress(sim.socket, 'locals/d', s => s === 'DONE' || s === 'UPDATED')
    const stray = randomBytes(10_000)
    await writeFile(join(dir, 'stray'), stray)
    assert.equal((await putObject(sim.socket, join(dir, 'stray'), sha(stray))).status, 200)
    assert.equal((await curl(sim.socket, ['-X', 'PUT', '--upload-file', join(dir, 'json'), 'http://localhost/steps/locals/never-run'])).status, 200)
    const gc = await curl(sim.socket, ['-X', 'POST', 'http://localhost/storage/gc'])
    assert.equal(gc.status, 200)
    assert.ok((JSON.parse(gc.body) as { reclaimed: number }).reclaimed >= stray.length)
    const objs = await deviceObjects(sim.socket)
    assert.equal(objs.has(sha(stray)), false)
    for (const o of rev.objects) assert.ok(objs.has(o.sha))
    const steps = await deviceSteps(sim.socket)
    assert.ok(steps.includes('locals/d'))
    assert.equal(steps.includes('locals/never-run'), false)
  })

  it('a progress file replaced while it is served: every answer is one whole version of it', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const sim = await startSim(t, await tempDir(t))
    const file = join(sim.dir, 'trails', '0', '.pv', 'progress')
    const versions = [
      JSON.stringify({ status: 'DONE', 'status-msg': 'short' }),
      JSON.stringify({ status: 'DONE', 'status-msg': 'a much longer message '.repeat(40) }),
    ]
    // Replaced as the device replaces it (a new file renamed over the old one), as fast as it goes;
    // the first replacement is in place before the first request (else the factory progress may answer).
    await writeFile(file + '.tmp', versions[1])
    await rename(file + '.tmp', file)
    let stop = false
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await writeFile(file + '.tmp', versions[i % 2])
        await rename(file + '.tmp', file)
      }
    })()
    try {
      for (let i = 0; i < 150; i++) {
        const r = await curl(sim.socket, ['-X', 'GET', 'http://localhost/steps/0/progress'])
        assert.equal(r.status, 200)
        assert.ok(versions.includes(r.body), `answer ${i}: ${r.body.length} bytes that are neither version`)
      }
    } finally {
      stop = true
      await writer
    }
  })

  it('stops cleanly on SIGTERM and SIGINT: exit 0, socket gone, objects kept under --dir', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const sim = await startSim(t, join(dir, sig))
      const data = randomBytes(1000)
      await writeFile(join(dir, 'o'), data)
      assert.equal((await putObject(sim.socket, join(dir, 'o'), sha(data))).status, 200)
      assert.equal(await sim.stop(sig), 0)
      assert.equal(existsSync(sim.socket), false)
      assert.ok(existsSync(join(dir, sig, 'objects', sha(data))))
    }
  })
})

describe('device-sim: the real pvcontrol script', () => {
  const sh = (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> =>
    new Promise(resolve => {
      execFile('sh', [PVCONTROL, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (e, out, err) => {
        resolve({ code: e === null ? 0 : Number((e as { code?: number }).code ?? 1), out, err })
      })
    })

  it("steps install of the upstream pvwificonnect.tgz (on the device's BSP), cmd run, show-progress to DONE; exit codes 60 (bad checksum) and 75 (busy)", async t => {
    if (skipWithoutUpstream(t, upstreamAbsent(PVCONTROL, 'upstream pvcontrol (PVCONTROL)'))) return
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const wifi = await fullRevisionOf(join(dir, 'src'), WIFI_TGZ, 'wifi-full')
    // The first run command finds the device busy (503: --busy-commands, not a race with the update's timing).
    const sim = await startSim(t, join(dir, 'dev'), ['--trust-ca', DEV_CA, '--busy-commands', '1'])
    const env = { SOCKET: sim.socket, CURL_CMD: 'curl' }
    const inst = await sh(['-m', 'from pvcontrol', 'steps', 'install', wifi.tarball, 'locals/wifi'], env)
    assert.equal(inst.code, 0, inst.err)
    assert.deepEqual(JSON.parse(inst.out), { revision: 'locals/wifi' })
    assert.equal((await sh(['cmd', 'run', 'locals/wifi'], env)).code, 75, 'busy: 503')
    assert.equal((await sh(['cmd', 'run', 'locals/wifi'], env)).code, 0)
    // The revision has no pvr-sdk, which the device ran in upstream's default groups (a system restart
    // policy): removing it reboots (state.c pv_state_compare_objects), and the update ends DONE.
    await waitProgress(sim.socket, 'locals/wifi', s => s === 'DONE', 40_000)
    const p = await sh(['steps', 'show-progress', 'locals/wifi'], env)
    assert.equal(JSON.parse(p.out).status, 'DONE')
    const meta = await sh(['devmeta', 'ls'], env)
    assert.equal(JSON.parse(meta.out)['pantavisor.revision'], 'locals/wifi')
    await writeFile(join(dir, 'x'), 'not what the name says')
    assert.equal((await sh(['objects', 'put', join(dir, 'x'), sha('y')], env)).code, 60)
  })
})
