/**
 * Page-aligned, shared 1 MiB slots for large writes, reused.
 *
 * A WebAssembly.Memory is mapped by V8 with mmap, so its bytes start on a
 * page boundary (O_DIRECT needs aligned memory; Node's Buffers make no such
 * promise), and a shared one is a SharedArrayBuffer, so the hashing thread
 * reads a slot where it lies, without a copy. Slabs are never freed: a
 * process holds a handful of slots at a time.
 */

// The WebAssembly global, as far as it is used here (the project's TypeScript libs do not declare it).
declare const WebAssembly: { Memory: new (d: { initial: number, maximum: number, shared: boolean }) => { buffer: SharedArrayBuffer } }

export const SLOT_BYTES = 1 << 20
const SLOTS_PER_SLAB = 8

export interface Slot {
  /** The slot's bytes (a view on shared memory). */
  buf: Buffer
  slab: number
  offset: number
}

const slabs: SharedArrayBuffer[] = []
const free: Slot[] = []

export function takeSlot (): Slot {
  if (free.length === 0) {
    const pages = (SLOT_BYTES * SLOTS_PER_SLAB) / 65536
    const mem = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
    const slab = slabs.push(mem.buffer) - 1
    for (let i = SLOTS_PER_SLAB - 1; i >= 0; i--) {
      free.push({ buf: Buffer.from(mem.buffer, i * SLOT_BYTES, SLOT_BYTES), slab, offset: i * SLOT_BYTES })
    }
  }
  return free.pop() as Slot
}

export function giveSlot (s: Slot): void { free.push(s) }

/** The memory behind a slab (for the hashing thread). */
export function slabMemory (slab: number): SharedArrayBuffer { return slabs[slab] }
