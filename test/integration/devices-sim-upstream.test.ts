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
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { PANTAVISOR_DEV_CA_PEM } from '../../main/devices/sim/dev-ca.js'
import { vendoredDir } from '../helpers/paths.js'
import { tempDir } from '../helpers/tmp.js'
import { curl, has, startSim, WIFI_TGZ } from './devices-harness.js'

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

