/**
 * The error table both ways: every code has its class and its HTTP status,
 * an error that crosses IPC, HTTP or the wire as {code, message} comes back
 * as its own class, and the renderer's client throws that class.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildApi, unwrapApi } from '../../shared/api/client.js'
import {
  BugError,
  DeviceBusyError,
  ERROR_TABLE,
  ErrorCodes,
  errorFromWire,
  FieldsyncError,
  HostKeyMismatchError,
  httpStatusOf,
  isErrorCode,
  NotFoundError,
  ProtocolError,
  toWireError,
  type ErrorCode,
} from '../../shared/errors.js'
import { statusFor } from '../../main/web/security.js'

const codes = Object.values(ErrorCodes) as ErrorCode[]

describe('the error table', () => {
  it('has one row per code, whose class carries that code and its own name', () => {
    assert.deepEqual(Object.keys(ERROR_TABLE).sort(), [...codes].sort())
    const names = new Set<string>()
    for (const code of codes) {
      const { cls } = ERROR_TABLE[code]
      assert.equal(cls.code, code, `${cls.name}.code`)
      const e = new cls('m')
      assert.ok(e instanceof FieldsyncError && e instanceof cls)
      assert.equal(e.code, code)
      assert.equal(e.name, cls.name)
      assert.match(cls.name, /Error$/)
      names.add(cls.name)
    }
    assert.equal(names.size, codes.length, 'no class serves two codes')
  })

  it('gives every code an HTTP error status; only failures of this process are 500', () => {
    for (const code of codes) {
      const s = httpStatusOf(code)
      assert.ok(s >= 400 && s <= 599, `${code}: ${s}`)
      assert.equal(statusFor(code), s, "browser mode answers with the table's status")
    }
    assert.deepEqual(codes.filter(c => httpStatusOf(c) === 500).sort(), ['E_DB_TOO_NEW', 'E_INTERNAL', 'E_READ_ONLY'])
    // Device codes were HTTP 500 before they were in the table.
    assert.equal(httpStatusOf(ErrorCodes.DeviceBusy), 503)
    assert.equal(httpStatusOf(ErrorCodes.HostKeyMismatch), 502)
    assert.equal(httpStatusOf(ErrorCodes.DeviceUnreachable), 502)
    assert.equal(httpStatusOf(ErrorCodes.NotFound), 404)
    assert.equal(httpStatusOf('E_NOT_A_CODE'), 500)
  })

  it('rebuilds every code into its class, with message and details, after a trip through JSON', () => {
    for (const code of codes) {
      const { cls } = ERROR_TABLE[code]
      const wire = JSON.parse(JSON.stringify(toWireError(new cls(`${code} happened`, { n: 1 }))))
      const back = errorFromWire(wire)
      assert.ok(back instanceof cls, `${code} comes back as ${cls.name}, not ${back.constructor.name}`)
      assert.equal(back.code, code)
      assert.equal(back.message, `${code} happened`)
      assert.deepEqual(back.details, { n: 1 })
    }
  })

  it("keeps a busy device's Retry-After across the wire", () => {
    const back = errorFromWire(JSON.parse(JSON.stringify(toWireError(new DeviceBusyError('busy', { retryAfter: 120 })))))
    assert.ok(back instanceof DeviceBusyError)
    assert.equal(back.retryAfter, 120)
    assert.equal(new DeviceBusyError('busy').retryAfter, null)
  })

  it('turns a code this version does not know into a ProtocolError that names it', () => {
    const back = errorFromWire({ code: 'E_FROM_THE_FUTURE', message: 'new' })
    assert.ok(back instanceof ProtocolError)
    assert.equal(back.details?.code, 'E_FROM_THE_FUTURE')
    assert.equal(isErrorCode('E_FROM_THE_FUTURE'), false)
    assert.equal(isErrorCode(ErrorCodes.NotFound), true)
  })

  it("reports SQLite's 'database is locked' as E_BUSY that says another process holds the index, not as an internal error", () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']) {
      const w = toWireError(Object.assign(new Error('database is locked'), { code }))
      assert.equal(w.code, ErrorCodes.Busy)
      assert.match(w.message, /another Fieldsync process held it .*database is locked.*run the command again/)
    }
  })

  it('reports a plain Error as E_INTERNAL, and a broken invariant is a BugError with that code', () => {
    assert.equal(toWireError(new Error('x')).code, ErrorCodes.Internal)
    assert.equal(new BugError('lease used after release').code, ErrorCodes.Internal)
  })
})

describe("the renderer's client", () => {
  it('throws the class of the error the core answered, not a bare FieldsyncError', async () => {
    const answers: Record<string, FieldsyncError> = {
      'library.show': new NotFoundError('revision abc: removed meanwhile'),
      'devices.add': new HostKeyMismatchError('10.0.0.7: host key changed'),
      'devices.install': new DeviceBusyError('busy', { retryAfter: 5 }),
    }
    const api = unwrapApi(
      buildApi(
        async channel => {
          const e = answers[channel]
          return { ok: false, error: JSON.parse(JSON.stringify(e.toWire())) }
        },
        () => () => {},
      ),
    )
    await assert.rejects(api.library.show({ rev: 'abc' }), NotFoundError)
    await assert.rejects(api.devices.add({ address: '10.0.0.7' }), HostKeyMismatchError)
    await assert.rejects(api.devices.install({ rev: 'a', device: 'b' }), (e: unknown) => e instanceof DeviceBusyError && e.retryAfter === 5)
  })
})
