/**
 * Signatures on a real device in strict secureboot mode (pantavisor
 * signature.c pv_signature_verify: strict demands that every key outside
 * _sigs/, #spec included, is covered by a valid signature). The device
 * trusts a CA made by the test (its pvs trust store, /etc/pantavisor/pvs/
 * trust/ca-certificates.crt, paths.h); Fieldsync's own policy is left off
 * so that the device is the one that refuses.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { skipWithoutKit, startKitDevice } from '../helpers/pvkit.js'
import { tempDir } from '../helpers/tmp.js'
import { hasOpenssl, makeCert, makeKey, pvrSign } from '../main/trust/pki.js'
import { deviceJson } from './device.js'
import { PINGER, readPkg, variant, WIFI, writePkg } from './revisions.js'

describe('real device: strict secureboot', () => {
  it("a fully signed revision runs; one with an unsigned part is refused by the device, and Fieldsync reports the device's verdict", async t => {
    if (skipWithoutKit(t)) return
    if (!hasOpenssl()) {
      t.skip('no openssl')
      return
    }
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    assert.equal((await runCli(['trust', 'policy', 'disabled'], { home })).code, 0)
    const ca = makeCert(dir, 'Test Site CA', makeKey('rsa2048'), { ca: true })
    // RS256: the kit links Debian's mbedTLS, which reads ECDSA signatures as DER only; devices built
    // with meta-pantavisor patch it to take JWS's raw r||s too (main/trust/jws.ts models those).
    const leafKey = makeKey('rsa2048')
    const leaf = makeCert(dir, 'site signer', leafKey, { issuer: ca })
    // A whole state, every key covered: #spec and the BSP by one signature, the container by its own.
    const wifi = await readPkg(WIFI)
    const whole = variant(wifi, { bsp: 'strict' })
    delete whole.state['pvwificonnect/src.json']
    delete whole.state['_sigs/pvwificonnect.json']
    pvrSign(whole.state, 'pvwificonnect', { key: leafKey, x5c: [leaf], exclude: ['_sigs/pvwificonnect.json'] })
    pvrSign(whole.state, 'bsp', { key: leafKey, x5c: [leaf], include: ['#spec', 'bsp/**'], exclude: ['_sigs/bsp.json'] })
    assert.equal((await runCli(['import', await writePkg(dir, 'signed', whole), '--name', 'signed'], { home })).code, 0)
    // The same plus a container nobody signed.
    const pinger = await readPkg(PINGER)
    const extra = variant(whole, { with: [pinger] })
    for (const k of Object.keys(extra.state)) if (k.startsWith('_sigs/') && !['_sigs/bsp.json', '_sigs/pvwificonnect.json'].includes(k)) delete extra.state[k]
    assert.equal((await runCli(['import', await writePkg(dir, 'unsigned-part', extra), '--name', 'unsigned-part'], { home })).code, 0)

    // Fieldsync's verifier, given the CA the device trusts, says what the device will say.
    assert.equal((await runCli(['trust', 'add', ca.certFile], { home })).code, 0)
    assert.equal((await runCli(['verify-sig', 'signed', '--policy', 'strict'], { home })).code, 0)
    const mine = await runCli(['--json', 'verify-sig', 'unsigned-part', '--policy', 'strict'], { home })
    assert.equal(mine.code, 1, mine.stdout)
    assert.match(mine.stdout, /watchdog_pinger/)

    const dev = await startKitDevice(t, { env: ['PV_SECUREBOOT_MODE=lenient'], etc: { 'pantavisor/pvs/trust/ca-certificates.crt': ca.pem } })
    const a = await runCli(['--json', 'install', 'signed', '--device', `unix:${dev.socket}`, '--poll', '250'], { home, timeoutMs: 240_000 })
    assert.equal(
      a.code,
      0,
      a.stderr +
        (await dev.console())
          .split('\n')
          .filter(l => /signature|ERROR/.test(l))
          .slice(-10)
          .join('\n'),
    )
    assert.equal((a.json() as { status: string }).status, 'DONE')
    // Power-cycle into strict mode: it boots the signed revision.
    await dev.restart(['PV_SECUREBOOT_MODE=strict'])
    const b = await runCli(['--json', 'install', 'unsigned-part', '--device', `unix:${dev.socket}`, '--poll', '250'], { home, timeoutMs: 240_000 })
    assert.equal(b.code, 1, b.stderr)
    const out = b.json() as { status?: string; statusMsg?: string; step?: string; error?: { code: string; message: string } }
    // The device refuses the state when it is stored (422) or when it is run (WONTGO); either way Fieldsync says what the device said.
    t.diagnostic(`device verdict: ${out.error?.message ?? `${out.status ?? ''} ${out.statusMsg ?? ''}`}`)
    if (out.error !== undefined) {
      assert.equal(out.error.code, 'E_DEVICE_REFUSED')
      assert.match(out.error.message, /signature|covered/i)
    } else {
      const p = await deviceJson<{ status: string; 'status-msg': string }>(dev, `/steps/${out.step as string}/progress`)
      assert.equal(out.status, p.status)
      assert.equal(out.statusMsg, p['status-msg'])
      assert.match(`${p.status}`, /WONTGO|ERROR/)
    }
    const meta = await deviceJson<Record<string, unknown>>(dev, '/device-meta')
    assert.equal(String(meta['pantavisor.revision']), (a.json() as { step: string }).step, 'still runs the signed revision')
  })
})
