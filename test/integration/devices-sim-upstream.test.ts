/**
 * The simulator behaves as the device does where the device surprises: each
 * test names the upstream Pantavisor file and function it follows
 * (pantavisor/pantavisor 303584a7). Where the real runtime could run the
 * scenario (pvkit, ../shared/pantavisor-device), its answer was checked too
 * and is quoted.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { PANTAVISOR_DEV_CA_PEM } from '../../main/devices/sim/dev-ca.js'
import { runCli } from '../helpers/cli.js'
import { vendoredUpstreamDir } from '../helpers/paths.js'
import { readExport, writeTarball } from '../helpers/revisions.js'
import { tempDir } from '../helpers/tmp.js'
import { leaveOutWithoutUpstream, skipWithoutUpstream, UPSTREAM_PVTX as PVTX, upstreamAbsent } from '../helpers/upstream.js'
import {
  curl,
  deviceObjects,
  deviceSteps,
  fullRevisionOf,
  has,
  json,
  makeRev,
  PVCONTROL,
  simFactory,
  startSim,
  waitJson,
  waitProgress,
  WIFI_TGZ,
} from './devices-harness.js'

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const NO_CURL = 'curl is not installed'
const FINAL = ['DONE', 'UPDATED', 'ERROR', 'WONTGO']

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

function putStep(sock: string, file: string, step: string): ReturnType<typeof curl> {
  return curl(sock, ['-X', 'PUT', '--upload-file', file, `http://localhost/steps/${step}`])
}

function command(sock: string, body: string): ReturnType<typeof curl> {
  return curl(sock, ['-X', 'POST', '--header', 'Content-Type: application/json', '--data', body, 'http://localhost/commands'])
}

/** Everything the server writes back to one request on a fresh connection, for `ms` after it is sent. */
function wire(sock: string, head: string, body: Buffer, ms = 1500): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock)
    let out = Buffer.alloc(0)
    c.on('data', d => {
      out = Buffer.concat([out, d])
    })
    c.on('error', reject)
    setTimeout(() => {
      c.destroy()
      resolve(out.toString('latin1'))
    }, ms)
    c.write(head)
    c.write(body)
  })
}

describe('device-sim as the device: trust', () => {
  it("a stock device trusts the Pantavisor Dev CA: pvwificonnect's signature verifies; --trust-ca none: refused", async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    // upstream signature.c _set_path_trust_crts: the trust store is PV_SECUREBOOT_TRUSTSTORE, default
    // "ca-certificates" (paths.h PVS_CERT_DEFAULT_STORE), which on upstream builds is pvs/trust/ca-certificates.crt
    const dir = await tempDir(t)
    await new Promise<void>((resolve, reject) => {
      execFile('tar', ['-xzf', WIFI_TGZ, '-C', dir, 'json'], e => (e === null ? resolve() : reject(e)))
    })
    const stock = await startSim(t, join(dir, 'stock'))
    const ok = await putStep(stock.socket, join(dir, 'json'), 'locals/wifi')
    assert.equal(ok.status, 200, ok.body)
    const none = await startSim(t, join(dir, 'none'), ['--trust-ca', 'none'])
    const refused = await putStep(none.socket, join(dir, 'json'), 'locals/wifi')
    assert.equal(refused.status, 422)
    assert.deepEqual(JSON.parse(refused.body), { Error: 'Secureboot: Signature validation failed' })
  })

  it('ships the same bytes as the vendored upstream certificate', async () => {
    const vendored = await readFile(join(vendoredUpstreamDir, 'pantavisor-dev-ca.crt'), 'utf8')
    assert.equal(PANTAVISOR_DEV_CA_PEM, vendored)
    assert.equal(sha(vendored), '04bd94ce95d647f7a94095dc972ad244a5296a1e021fbeb7edac41d09f63b1e8')
  })
})

describe('device-sim as the device: PUT /steps checks signatures and the parser only', () => {
  it('takes what parser/ takes, refuses what it refuses with 422 and removes the step', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    // upstream storage.c pv_storage_verify_state_json: pv_signature_verify, then pv_parser_get_state; nothing else.
    // parser_system1.c system1_parse_objects adds `"app/root.squashfs": 7` as an object: taken (pvkit: 200).
    await writeFile(join(dir, 'a.json'), '{"#spec":"pantavisor-service-system@1","app/root.squashfs":7,"app/run.json":{"name":"app","config":"missing.conf"}}')
    const taken = await putStep(sim.socket, join(dir, 'a.json'), 'locals/a')
    assert.equal(taken.status, 200, taken.body)
    assert.ok((await deviceSteps(sim.socket)).includes('locals/a'))
    // parser_system1.c do_action_for_group: an unknown group fails parse_platform (pvkit: 422, step deleted)
    await writeFile(join(dir, 'b.json'), '{"#spec":"pantavisor-service-system@1","app/run.json":{"name":"app","group":"nope"}}')
    const refused = await putStep(sim.socket, join(dir, 'b.json'), 'locals/b')
    assert.equal(refused.status, 422)
    assert.deepEqual(JSON.parse(refused.body), { Error: 'Parser: State JSON has bad format' })
    assert.equal((await deviceSteps(sim.socket)).includes('locals/b'), false)
  })
})

describe('device-sim as the device: commands', () => {
  it('an op is matched by prefix ("LOCAL" runs LOCAL_RUN); TRY_ONCE is taken and ignored; "" is UPDATE_METADATA, refused in local mode', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const rev = await fullRevisionOf(join(dir, 'src'), WIFI_TGZ, 'wifi')
    for (const o of (await readExport(rev.tarball)).objects) await putBytes(sim.socket, dir, o)
    await writeFile(join(dir, 'json'), rev.raw)
    assert.equal((await putStep(sim.socket, join(dir, 'json'), 'locals/w')).status, 200)
    // upstream ctrl/ctrl_cmd.h pv_ctrl_cmd_op_from_str: strncmp(op, name, strlen(op)), first in enum order
    const local = await command(sim.socket, '{"op":"LOCAL","payload":"locals/w"}')
    assert.equal(local.status, 200, local.body)
    // The revision holds the factory BSP and pvwificonnect but not pvr-sdk, a platform that restarts the system
    // (no group: upstream's default groups; state.c pv_state_compare_objects): removing it reboots to DONE.
    assert.equal((await waitProgress(sim.socket, 'locals/w', s => FINAL.includes(s), 40_000)).status, 'DONE')
    // pantavisor.c _pv_command: TRY_ONCE has no case: "unknown command received. Ignoring..." (pvkit: 200, nothing runs)
    assert.equal((await command(sim.socket, '{"op":"TRY_ONCE","payload":"0"}')).status, 200)
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal((await json(sim.socket, '/device-meta'))['pantavisor.revision'], 'locals/w')
    // ctrl_cmd.c pv_ctrl_cmd_add: UPDATE_METADATA while !pv->remote_mode (pvkit: 409)
    const meta = await command(sim.socket, '{"op":"","payload":""}')
    assert.equal(meta.status, 409)
    assert.deepEqual(JSON.parse(meta.body), { Error: 'Cannot do this operation while on local mode' })
    // utils/json.c pv_json_get_value_ref: "op" also matches a value; the next other token is the op (pvkit: RUN_GC ran)
    assert.equal((await command(sim.socket, '{"payload":"op","op":"RUN_GC"}')).status, 200)
    assert.equal((await command(sim.socket, '{"op":"LOCAL_RUN"}')).status, 400, 'no payload')
  })
})

async function putBytes(sock: string, dir: string, o: { sha: string; data: Buffer }): Promise<void> {
  const f = join(dir, `obj-${o.sha}`)
  await writeFile(f, o.data)
  const r = await putObject(sock, f, o.sha)
  assert.equal(r.status, 200, r.body)
}

describe('device-sim as the device: an object upload that runs out of space', () => {
  it('answers 200 then 507 on the same request, leaving a partial object: a client trusting the status is fooled, one checking GET /objects sizes is not', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'), ['--storage', '600000'])
    const data = randomBytes(800_000)
    const s = sha(data)
    await writeFile(join(dir, 'big'), data)
    // upstream ctrl/ctrl_upload.c ctrl_upload_complete_cb_caller: the completion callback
    // (ctrl_objects_ep.c ctrl_object_upload_complete_cb) sends 200 for a file that is not ok, then the
    // caller sends 507 on the same request. pvkit, byte for byte (a 45 MB object on a 40 MB storage):
    // "HTTP/1.1 200 OK ... Content-Length: 0\r\n\r\nHTTP/1.1 507 Insufficient Storage\r\nContent-Type: application/json\r\n
    //  Date: ...\r\nContent-Length: 0\r\nContent-Type: application/json\r\n\r\n{"Error":"Not enough disk space available"}"
    const raw = await wire(sim.socket, `PUT /objects/${s} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${data.length}\r\n\r\n`, data)
    assert.match(
      raw,
      /^HTTP\/1\.1 200 OK\r\n[^]*?Content-Length: 0\r\n\r\nHTTP\/1\.1 507 Insufficient Storage\r\nContent-Type: application\/json\r\nDate: [^\r]+\r\nContent-Length: 0\r\nContent-Type: application\/json\r\n\r\n\{"Error":"Not enough disk space available"\}$/,
    )
    // A client that trusts the status alone (curl -w %{http_code}, as pvcontrol does): 200, "uploaded".
    const put = await putObject(sim.socket, join(dir, 'big'), s)
    assert.equal(put.status, 200)
    if (!leaveOutWithoutUpstream(t, upstreamAbsent(PVCONTROL, 'upstream pvcontrol (PVCONTROL)'))) {
      const pv = await new Promise<number>(resolve => {
        execFile('sh', [PVCONTROL, 'objects', 'put', join(dir, 'big'), s], { env: { ...process.env, SOCKET: sim.socket, CURL_CMD: 'curl' } }, e => {
          resolve(e === null ? 0 : Number((e as { code?: number }).code ?? 1))
        })
      })
      assert.equal(pv, 0, 'pvcontrol objects put reports success')
    }
    // A client that checks what the device holds: the object is listed, but not with its size.
    const size = (await deviceObjects(sim.socket)).get(s)
    assert.ok(size !== undefined && size < data.length, `listed with ${String(size)} of ${data.length} bytes`)
  })
})

describe('device-sim as the device: running a revision', () => {
  it('a state without a BSP ends in ERROR "Internal error" at once; the device keeps its revision', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    await new Promise<void>((resolve, reject) => {
      execFile('tar', ['-xzf', WIFI_TGZ, '-C', dir], e => (e === null ? resolve() : reject(e)))
    })
    for (const o of (await readExport(WIFI_TGZ)).objects) await putBytes(sim.socket, dir, o)
    assert.equal((await putStep(sim.socket, join(dir, 'json'), 'locals/app-only')).status, 200, 'the parser takes it')
    assert.equal((await command(sim.socket, '{"op":"LOCAL_RUN","payload":"locals/app-only"}')).status, 200)
    const seen = new Set<string>()
    const end = await waitJson<{ status: string; 'status-msg': string; progress: number }>(sim.socket, '/steps/locals/app-only/progress', p => {
      seen.add(p.status)
      return FINAL.includes(p.status)
    })
    // upstream update/update.c _finish_update_installation: pv_state_prepare_run fails (state.c
    // _link_trail_objects -> storage.c pv_storage_meta_link_boot: "bsp type not supported. no std,fit or
    // rpiab boot assets found") -> PV_UPDATE_PROGRESS_STATUS_ERROR, PV_UPDATE_PROGRESS_MSG_INTERNAL_ERROR
    assert.equal(end.status, 'ERROR')
    assert.equal(end['status-msg'], 'Internal error')
    assert.equal(end.progress, 100)
    assert.equal(seen.has('INPROGRESS'), false, 'it fails before the transition')
    assert.equal((await json(sim.socket, '/device-meta'))['pantavisor.revision'], 0)
  })

  it('an object missing from the container: INPROGRESS, then ERROR "Object validation went wrong" and a rollback', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    // A device's own delays (INPROGRESS lasts 3 s), so that a poll surely sees it however loaded the machine.
    const sim = await startSim(t, join(dir, 'dev'), [], { fast: false })
    const rev = await fullRevisionOf(join(dir, 'src'), WIFI_TGZ, 'wifi')
    const objects = (await readExport(rev.tarball)).objects
    const root = JSON.parse(rev.raw)['pvwificonnect/root.squashfs'] as string
    for (const o of objects.filter(x => x.sha !== root)) await putBytes(sim.socket, dir, o)
    await writeFile(join(dir, 'json'), rev.raw)
    assert.equal((await putStep(sim.socket, join(dir, 'json'), 'locals/w')).status, 200)
    assert.equal((await command(sim.socket, '{"op":"LOCAL_RUN","payload":"locals/w"}')).status, 200)
    const seen = new Set<string>()
    // ERROR and the rollback's reboot come together: the answer may only come once the device is back
    const end = await waitJson<{ status: string; 'status-msg': string }>(
      sim.socket,
      '/steps/locals/w/progress',
      p => {
        seen.add(p.status)
        return FINAL.includes(p.status)
      },
      40_000,
    )
    // upstream state.c _link_trail_objects ignores a failed link; pantavisor.c _pv_run then fails
    // pv_state_validate_checksum: pv_update_set_error_checksum ("Object validation went wrong"), PV_STATE_ROLLBACK
    // (pvkit, objects never uploaded: ERROR "Object validation went wrong")
    assert.equal(end.status, 'ERROR')
    assert.equal(end['status-msg'], 'Object validation went wrong')
    assert.ok(seen.has('INPROGRESS'))
    // the rollback reboots the device (12 s away with a device's delays)
    await waitJson<Record<string, unknown>>(sim.socket, '/device-meta', m => m['pantavisor.revision'] === 0, 30_000)
  })
})

describe('device-sim as the device: the factory revision and GET /steps/current', () => {
  it('a fresh device runs a full factory revision (BSP, objects on the device); GET /steps/current answers its stored bytes', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    const f = simFactory()
    // upstream ctrl/ctrl_steps_ep.c ctrl_steps_send: pv_ctrl_utils_send_json_file of trails/<name>/.pvr/json,
    // and trails/current is a link to the running revision (storage.c pv_storage_set_active)
    const cur = await curl(sim.socket, ['http://localhost/steps/current'])
    assert.equal(cur.status, 200)
    assert.equal(cur.body, f.json.toString())
    assert.ok('bsp/run.json' in JSON.parse(cur.body))
    const objs = await deviceObjects(sim.socket)
    for (const o of f.objects) assert.equal(objs.get(o.sha), o.data.length)
    assert.equal((await json(sim.socket, '/steps/current/progress'))['status-msg'], 'Factory revision')
  })

  it('--factory takes an export tarball or a state JSON; their bytes are what GET /steps/current and /steps/0 answer', async t => {
    if (!has('curl')) {
      t.skip(NO_CURL)
      return
    }
    const dir = await tempDir(t)
    const rev = await makeRev(join(dir, 'src'), 'fac', [{ name: 'app', bytes: 50_000 }])
    // Not canonical: whitespace and key order as a person wrote it; the device keeps it as it is.
    const pretty = JSON.stringify(JSON.parse(rev.raw), null, 2)
    await writeTarball(join(dir, 'factory.tgz'), pretty, rev.objects, { gzip: true })
    const sim = await startSim(t, join(dir, 'dev'), ['--factory', join(dir, 'factory.tgz')])
    assert.equal((await curl(sim.socket, ['http://localhost/steps/current'])).body, pretty)
    assert.equal((await curl(sim.socket, ['http://localhost/steps/0'])).body, pretty)
    const objs = await deviceObjects(sim.socket)
    for (const o of rev.objects) assert.equal(objs.get(o.sha), o.size)
    await writeFile(join(dir, 'state.json'), pretty)
    const bare = await startSim(t, join(dir, 'dev2'), ['--factory', join(dir, 'state.json')])
    assert.equal((await curl(bare.socket, ['http://localhost/steps/current'])).body, pretty)
    // a tarball whose object does not hash to its name: the device does not start
    await writeTarball(join(dir, 'bad.tar'), rev.raw, [{ sha: rev.objects[0].sha, data: randomBytes(100) }])
    const bad = await runCli(['--json', 'device-sim', '--dir', join(dir, 'dev3'), '--no-mdns', '--no-http', '--factory', join(dir, 'bad.tar')], {
      home: join(dir, 'home'),
    })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /does not hash to its name/)
  })
})

/** Why upstream's pvtx cannot run here, or null. */
function pvtxProblem(): string | null {
  const absent = upstreamAbsent(PVTX, 'upstream pvtx, from the device kit (PVTX)')
  if (absent !== null) return absent
  if (process.getuid?.() !== 0 || !has('unshare')) return "needs root and unshare (pvtx only knows the device's own socket paths)"
  return null
}

/**
 * Run pvtx commands in a private mount namespace whose /run/pantavisor/pv/pv-ctrl
 * is the simulator's socket (pvtx connects to fixed paths only). The kit
 * stores libpvtx's soname links as plain files: a link of our own stands in.
 */
async function pvtx(dir: string, sock: string, script: string): Promise<{ code: number; out: string; err: string }> {
  const lib = join(dir, 'pvtx-lib')
  await mkdir(lib, { recursive: true })
  await symlink(join(dirname(PVTX), '..', 'lib', 'libpvtx.so.0.1.0'), join(lib, 'libpvtx.so.0.1')).catch(() => {})
  await mkdir(join(dir, 'pvtx-txn'), { recursive: true })
  const setup = `mount -t tmpfs tmpfs /run && mkdir -p /run/pantavisor/pv && ln -s '${sock}' /run/pantavisor/pv/pv-ctrl && `
  return await new Promise(resolve => {
    execFile(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', setup + script],
      {
        env: { ...process.env, PVTX, LD_LIBRARY_PATH: lib, PVTXDIR: join(dir, 'pvtx-txn') },
        timeout: 60_000,
      },
      (e, out, err) => {
        resolve({ code: e === null ? 0 : Number((e as { code?: number }).code ?? 1), out, err })
      },
    )
  })
}

describe('device-sim as the device: composing onto the running state with upstream pvtx', () => {
  it("pvtx begin current, add pvwificonnect.tgz, commit: the step is the device's state plus the package, and it runs to UPDATED", async t => {
    if (skipWithoutUpstream(t, pvtxProblem() ?? (has('curl') ? null : NO_CURL))) return
    const dir = await tempDir(t)
    const sim = await startSim(t, join(dir, 'dev'))
    // upstream pvtx/src/pvtx_txn.c: "begin current" is pv_pvtx_ctrl_steps_get(ctrl, "current"), a GET /steps/current
    // that pvtx_ctrl.c read_data reads with one blocking and one non-blocking read: ctrl/ctrl_steps_ep.c
    // ctrl_steps_send (libevent) writes the stored bytes with their head at once.
    const r = await pvtx(dir, sim.socket, `"$PVTX" begin current && "$PVTX" add '${WIFI_TGZ}' && "$PVTX" commit`)
    assert.equal(r.code, 0, `${r.out}\n${r.err}`)
    const step = r.out.trim().split('\n').pop() ?? ''
    assert.match(step, /^locals\/pvtx-/)
    const state = await json<Record<string, unknown>>(sim.socket, `/steps/${step}`)
    const factory = JSON.parse(simFactory().json.toString()) as Record<string, unknown>
    for (const k of Object.keys(factory)) assert.deepEqual(state[k], factory[k], `${k} from the running state`)
    assert.ok('pvwificonnect/run.json' in state && '_sigs/pvwificonnect.json' in state)
    assert.equal((await command(sim.socket, JSON.stringify({ op: 'LOCAL_RUN', payload: step }))).status, 200)
    assert.equal((await waitProgress(sim.socket, step, s => FINAL.includes(s))).status, 'UPDATED')
  })
})
