/**
 * Page-aligned 1 MiB slots for large writes, reused.
 *
 * A WebAssembly.Memory is mapped by V8 with mmap, so its bytes start on a
 * page boundary (O_DIRECT needs aligned memory; Node's Buffers make no such
 * promise). Shared slots (a SharedArrayBuffer) let the hashing thread read a
 * slot where it lies, without a copy; but V8 copies into shared memory word
 * by word, and byte by byte at odd offsets (measured: 64 KiB pieces at odd
 * offsets, 240 ms/GiB into shared memory against 30 ms/GiB into plain), so
 * writers that hash elsewhere take plain slots. Slabs are never freed: a
 * process holds a handful of slots at a time.
 */
import { BugError } from '../../shared/errors.js'

// The WebAssembly global, as far as it is used here (the project's TypeScript libs do not declare it).
declare const WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBuffer | SharedArrayBuffer } }

export const SLOT_BYTES = 1 << 20
const SLOTS_PER_SLAB = 8

/**
 * A page-aligned buffer of `bytes` (rounded up to 64 KiB pages), not shared:
 * for O_DIRECT reads on worker threads, which keep their own.
 */
export function alignedBuffer(bytes: number): Buffer {
  const pages = Math.ceil(bytes / 65536)
  return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: false }).buffer, 0, bytes)
}

export interface Slot {
  /** The slot's bytes. */
  buf: Buffer
  /** Whether `buf` is shared memory (then `slab` names it for the hashing thread). */
  shared: boolean
  slab: number
  offset: number
}

const slabs: Array<ArrayBuffer | SharedArrayBuffer> = []
const free = { shared: [] as Slot[], plain: [] as Slot[] }

export function takeSlot(shared: boolean): Slot {
  const list = shared ? free.shared : free.plain
  if (list.length === 0) {
    const pages = (SLOT_BYTES * SLOTS_PER_SLAB) / 65536
    const mem = new WebAssembly.Memory({ initial: pages, maximum: pages, shared })
    const slab = slabs.push(mem.buffer) - 1
    for (let i = SLOTS_PER_SLAB - 1; i >= 0; i--) {
      list.push({ buf: Buffer.from(mem.buffer, i * SLOT_BYTES, SLOT_BYTES), shared, slab, offset: i * SLOT_BYTES })
    }
  }
  return list.pop() as Slot
}

export function giveSlot(s: Slot): void {
  ;(s.shared ? free.shared : free.plain).push(s)
}

/** The shared memory behind a slab (for the hashing thread). */
export function slabMemory(slab: number): SharedArrayBuffer {
  const m = slabs[slab]
  if (!(m instanceof SharedArrayBuffer)) throw new BugError(`slab ${slab} is not shared memory`)
  return m
}
