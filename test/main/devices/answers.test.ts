import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { answerError } from '../../../main/devices/drivers/answers.js'
import { deviceError, parseDeviceMeta, parseObjectList, parseProgress } from '../../../main/devices/drivers/types.js'
import { DeviceBusyError } from '../../../shared/errors.js'

describe('device answers', () => {
  it('device-meta as pv-ctrl writes it: "0" arrives as a number, storage as an object or a string', () => {
    const m = parseDeviceMeta(
      '{"pantavisor.revision":0,"pantavisor.status":"READY","pantavisor.mode":"local","storage":{"total":10,"free":8,"reserved":1,"real_free":7}}',
      'dev',
    )
    assert.deepEqual(m, { revision: '0', status: 'READY', mode: 'local', version: null, arch: null, model: null, freeBytes: 7 })
    assert.equal(parseDeviceMeta('{"pantavisor.dtmodel":"Raspberry Pi 4 Model B"}', 'dev').model, 'Raspberry Pi 4 Model B')
    assert.equal(parseDeviceMeta('{"storage":"{\\"real_free\\":42}"}', 'dev').freeBytes, 42)
    assert.throws(
      () => parseDeviceMeta('[1]', 'dev'),
      (e: { code?: string }) => e.code === 'E_PROTOCOL',
    )
  })

  it("a device's text is kept up to its cap: status-msg 4096, logs 64 KiB, status 64, device-meta values 256, error bodies 300", () => {
    const big = 'x'.repeat(1 << 20)
    const p = parseProgress(JSON.stringify({ status: 'S'.repeat(1000), 'status-msg': '\x1b[2J' + big, progress: 50, logs: big }), 'dev')
    assert.equal(p.statusMsg.slice(0, 4096), ('\x1b[2J' + big).slice(0, 4096), 'the text itself, escapes included: the terminal layer escapes them')
    assert.equal(p.statusMsg, `${('\x1b[2J' + big).slice(0, 4096)} [${big.length + 4 - 4096} more characters cut]`)
    assert.equal(p.logs?.length, 64 * 1024 + ` [${big.length - 64 * 1024} more characters cut]`.length)
    assert.ok(p.status.startsWith('S'.repeat(64) + ' ['))
    assert.ok((parseDeviceMeta(JSON.stringify({ 'pantavisor.status': big }), 'dev').status?.length ?? 0) < 300)
    assert.ok(deviceError(JSON.stringify({ Error: big })).length < 350)
    assert.ok(deviceError(big).length < 350)
    // Never half a surrogate pair.
    const emoji = parseProgress(JSON.stringify({ status: 'X', 'status-msg': 'a' + '😀'.repeat(3000) }), 'dev').statusMsg
    assert.ok(!/[\ud800-\udbff] \[/.test(emoji))
  })

  it('progress and object lists', () => {
    const p = parseProgress('{"status":"ERROR","status-msg":"Status goal not reached","progress":100,"retries":0,"logs":"x"}', 'dev')
    assert.deepEqual(p, { status: 'ERROR', statusMsg: 'Status goal not reached', progress: 100, retries: 0, logs: 'x' })
    assert.throws(
      () => parseProgress('{}', 'dev'),
      (e: { code?: string }) => e.code === 'E_PROTOCOL',
    )
    const l = parseObjectList('[{"sha256":"aa","size":"12"},{"sha256":"bb","size":"x"}]', 'dev')
    assert.equal(l.get('aa'), 12)
    assert.equal(l.get('bb'), -1)
  })

  it('status codes become typed errors', () => {
    const code = (s: number, kind: 'object' | 'step' | 'command' | 'other') => answerError(s, '{"Error":"m"}', kind, 'x', 'dev').code
    assert.equal(code(422, 'object'), 'E_OBJECT_HASH_MISMATCH')
    assert.equal(code(422, 'step'), 'E_DEVICE_REFUSED')
    assert.equal(code(507, 'object'), 'E_NO_SPACE')
    assert.equal(code(503, 'command'), DeviceBusyError.code)
    assert.equal(code(400, 'other'), 'E_DEVICE_REFUSED')
    const busy = answerError(503, '{"Error":"A command is already in progress. Try again"}', 'command', 'run', 'dev', 120)
    assert.ok(busy instanceof DeviceBusyError)
    assert.equal(busy.retryAfter, 120)
    assert.equal(deviceError('{"Error":"Object has bad checksum"}'), 'Object has bad checksum')
    assert.equal(deviceError('plain'), 'plain')
  })
})
