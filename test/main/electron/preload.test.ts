/**
 * The preload's API builder against the contract: every channel is exposed
 * as a method that invokes exactly that channel over the one IPC channel,
 * events are delivered to their listeners only, and nothing else is exposed.
 * Plus the IPC sender check.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { HOST_HELPERS } from '../../../shared/api/client.js'
import { CHANNELS, EVENTS, IPC_EVENT, IPC_INVOKE } from '../../../shared/api/contract.js'
import { createBridge, type IpcLike } from '../../../main/electron/bridge.js'
import { trustedSender } from '../../../main/electron/sender.js'
import { repoRoot } from '../../helpers/paths.js'

function fakeIpc() {
  const calls: unknown[][] = []
  let onEvent: ((e: unknown, ...a: unknown[]) => void) | undefined
  const ipc: IpcLike = {
    invoke: async (...args) => {
      calls.push(args)
      return { ok: true, value: args[1] }
    },
    on: (channel, fn) => {
      assert.equal(channel, IPC_EVENT)
      onEvent = fn
    },
  }
  return { ipc, calls, emit: (name: string, payload: unknown) => onEvent?.({}, name, payload) }
}

/** Every function reachable in the exposed object, as dotted paths. */
function surface(o: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'function') out.push(prefix + k)
    else if (v !== null && typeof v === 'object') out.push(...surface(v as Record<string, unknown>, `${prefix}${k}.`))
    else out.push(`${prefix}${k}:${typeof v}`)
  }
  return out.sort()
}

describe('preload API builder', () => {
  it('exposes every contract channel, on, and the host helpers: nothing else', () => {
    const { ipc } = fakeIpc()
    const api = createBridge(ipc, { getPathForFile: () => '/x' }) as unknown as Record<string, unknown>
    const expected = [...CHANNELS, 'on', ...HOST_HELPERS.map(h => `host.${h}`)].sort()
    assert.deepEqual(surface(api), expected)
    assert.ok(CHANNELS.length >= 25, `${CHANNELS.length} channels`)
  })

  it('without webUtils (a test or another host) there is no host object', () => {
    const api = createBridge(fakeIpc().ipc) as unknown as Record<string, unknown>
    assert.deepEqual(surface(api), [...CHANNELS, 'on'].sort())
  })

  it('each method invokes its own channel over the one IPC invoke channel, with the request as given', async () => {
    const { ipc, calls } = fakeIpc()
    const api = createBridge(ipc) as unknown as Record<string, Record<string, (r?: unknown) => Promise<unknown>>>
    for (const c of CHANNELS) {
      const [ns, m] = [c.slice(0, c.indexOf('.')), c.slice(c.indexOf('.') + 1)]
      const req = { probe: c }
      const env = await api[ns][m](req)
      assert.deepEqual(env, { ok: true, value: c })
      assert.deepEqual(calls.at(-1), [IPC_INVOKE, c, req])
    }
    // No argument: an empty object is sent.
    await api.library.list()
    assert.deepEqual(calls.at(-1), [IPC_INVOKE, 'library.list', {}])
    assert.equal(calls.length, CHANNELS.length + 1)
  })

  it('delivers events to their listeners, drops unknown ones, and unsubscribes', () => {
    const { ipc, emit } = fakeIpc()
    const api = createBridge(ipc)
    const got: unknown[] = []
    for (const e of EVENTS)
      api.on(e, p => {
        got.push([e, p])
      })
    const off = api.on('revision', p => {
      got.push(['second', p])
    })
    emit('revision', { id: 'a', complete: true })
    emit('not-an-event', { x: 1 })
    emit('__proto__', { x: 1 })
    off()
    emit('revision', { id: 'b', complete: false })
    emit('transfer', { id: 't' })
    assert.deepEqual(got, [
      ['revision', { id: 'a', complete: true }],
      ['second', { id: 'a', complete: true }],
      ['revision', { id: 'b', complete: false }],
      ['transfer', { id: 't' }],
    ])
    assert.throws(() => api.on('nope' as never, () => {}), /unknown event/)
    assert.throws(() => api.on('revision', 'x' as never), /function/)
  })

  it('the preload source exposes only createBridge as window.fieldsync', async () => {
    const src = await readFile(join(repoRoot, 'main', 'electron', 'preload.cts'), 'utf8')
    const exposed = [...src.matchAll(/exposeInMainWorld\(([^)]*)\)/g)].map(m => m[1])
    assert.deepEqual(exposed, ["'fieldsync', createBridge(ipcRenderer, webUtils"])
  })
})

describe('IPC sender check', () => {
  const mainFrame = { url: 'app://fieldsync/index.html' }
  const webContents = { mainFrame }
  const window = { webContents }
  it('accepts our window top frame on our scheme', () => {
    assert.equal(trustedSender({ sender: webContents, senderFrame: mainFrame }, window), true)
  })
  it('refuses other frames, other windows, other origins and missing frames', () => {
    assert.equal(trustedSender({ sender: webContents, senderFrame: { url: 'app://fieldsync/index.html' } }, window), false, 'a subframe')
    assert.equal(trustedSender({ sender: {}, senderFrame: mainFrame }, window), false, 'another webContents')
    const evil = { url: 'https://evil.example/' }
    assert.equal(trustedSender({ sender: { mainFrame: evil }, senderFrame: evil }, { webContents: { mainFrame: evil } }), false, 'remote page')
    assert.equal(trustedSender({ sender: webContents, senderFrame: null }, window), false)
    const lookalike = { url: 'app://fieldsync.evil/index.html' }
    assert.equal(trustedSender({ sender: { mainFrame: lookalike }, senderFrame: lookalike }, { webContents: { mainFrame: lookalike } }), false)
  })
})
