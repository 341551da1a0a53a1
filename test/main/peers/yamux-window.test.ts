/**
 * The yamux patch (patches/@chainsafe+libp2p-yamux+*.patch): a receiver sends
 * a window update once half its window is used, as hashicorp/yamux does,
 * instead of one after every data frame; and the sender never stalls.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

// Frame types of the yamux spec.
const DATA = 0
const WINDOW_UPDATE = 1
const KiB = 1024

interface Sent {
  type: number
  length: number
}

const log = Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false, newScope: () => log })

function receiver(window: number): { stream: YamuxStream; updates: Sent[]; received: () => number } {
  const updates: Sent[] = []
  let received = 0
  const stream = new YamuxStream({
    id: '1',
    streamId: 1,
    direction: 'inbound',
    state: StreamState.Established,
    log: log as never,
    initialStreamWindowSize: window,
    maxStreamWindowSize: window,
    getRTT: () => -1,
    sendFrame: (header: { type: number; length: number }) => {
      updates.push({ type: header.type, length: header.length })
      return true
    },
  } as never)
  stream.addEventListener('message', evt => {
    received += evt.data.byteLength
  })
  return { stream, updates, received: () => received }
}

function deliver(stream: YamuxStream, bytes: number): void {
  stream.handleData({ header: { type: DATA, flag: 0, streamID: 1, length: bytes }, data: new Uint8Array(bytes) } as never)
}

describe('yamux window updates (patched)', () => {
  it('one update per half window, not one per frame', () => {
    const { stream, updates, received } = receiver(256 * KiB)
    for (let i = 0; i < 64; i++) deliver(stream, 16 * KiB)
    assert.equal(received(), 1024 * KiB)
    assert.ok(updates.every(u => u.type === WINDOW_UPDATE))
    assert.deepEqual(
      updates.map(u => u.length),
      Array(8).fill(128 * KiB),
    )
  })

  it('a sender that sends whenever it has window moves 16 MiB in frames of every size without stalling', () => {
    const window = 256 * KiB
    const { stream, updates, received } = receiver(window)
    let credit = window
    let sent = 0
    let seen = 0
    const total = 16 << 20
    for (let i = 0; sent < total; i++) {
      // Credit from updates sent so far.
      for (; seen < updates.length; seen++) credit += updates[seen].length
      const size = Math.min(credit, total - sent, [1, 1000, 16 * KiB, 64 * KiB, 200 * KiB][i % 5])
      assert.ok(size > 0, `stalled after ${sent} bytes: no window left and no update`)
      deliver(stream, size)
      credit -= size
      sent += size
    }
    assert.equal(received(), total)
    assert.ok(
      updates.every(u => u.length >= window / 2),
      'no update smaller than half the window',
    )
    assert.ok(updates.length <= total / (window / 2), `${updates.length} updates`)
  })

  it('a paused stream sends no update; resuming opens the whole window again', () => {
    const { stream, updates } = receiver(256 * KiB)
    stream.sendPause()
    for (let i = 0; i < 16; i++) deliver(stream, 16 * KiB)
    assert.equal(updates.length, 0)
    stream.sendResume()
    assert.deepEqual(
      updates.map(u => u.length),
      [256 * KiB],
    )
    // Less than half used after the resume: the sender still has more than half: no update yet.
    deliver(stream, 64 * KiB)
    assert.equal(updates.length, 1)
  })
})
