/**
 * The simulator behaves as the device does where the device surprises: each
 * test names the upstream Pantavisor file and function it follows
 * (pantavisor/pantavisor 303584a7). Where the real runtime could run the
 * scenario (pvkit, ../shared/pantavisor-device), its answer was checked too
 * and is quoted.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { PANTAVISOR_DEV_CA_PEM } from '../../main/devices/sim/dev-ca.js'
import { vendoredDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { curl, deviceSteps, has, startSim, WIFI_TGZ } from './devices-harness.js'

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const NO_CURL = 'curl is not installed'

function putStep (sock: string, file: string, step: string): ReturnType<typeof curl> {
  return curl(sock, ['-X', 'PUT', '--upload-file', file, `http://localhost/steps/${step}`])
}

describe('device-sim as the device: trust', () => {
  it('a stock device trusts the Pantavisor Dev CA: pvwificonnect\'s signature verifies; --trust-ca none: refused', async (t) => {
    if (!has('curl')) { t.skip(NO_CURL); return }
    // upstream signature.c _set_path_trust_crts: the trust store is PV_SECUREBOOT_TRUSTSTORE, default
    // "ca-certificates" (paths.h PVS_CERT_DEFAULT_STORE), which on upstream builds is pvs/trust/ca-certificates.crt
    const dir = await tempDir(t)
    await new Promise<void>((resolve, reject) => { execFile('tar', ['-xzf', WIFI_TGZ, '-C', dir, 'json'], e => e === null ? resolve() : reject(e)) })
    const stock = await startSim(t, join(dir, 'stock'))
    const ok = await putStep(stock.socket, join(dir, 'json'), 'locals/wifi')
    assert.equal(ok.status, 200, ok.body)
    const none = await startSim(t, join(dir, 'none'), ['--trust-ca', 'none'])
    const refused = await putStep(none.socket, join(dir, 'json'), 'locals/wifi')
    assert.equal(refused.status, 422)
    assert.deepEqual(JSON.parse(refused.body), { Error: 'Secureboot: Signature validation failed' })
  })

  it('ships the same bytes as the vendored upstream certificate', async () => {
    const vendored = await readFile(join(vendoredDir, 'upstream', 'pantavisor-dev-ca.crt'), 'utf8')
    assert.equal(PANTAVISOR_DEV_CA_PEM, vendored)
    assert.equal(sha(vendored), '04bd94ce95d647f7a94095dc972ad244a5296a1e021fbeb7edac41d09f63b1e8')
  })
})

describe('device-sim as the device: PUT /steps checks signatures and the parser only', () => {
  it('takes what parser/ takes, refuses what it refuses with 422 and removes the step', async (t) => {
    if (!has('curl')) { t.skip(NO_CURL); return }
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

