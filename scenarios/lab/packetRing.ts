// A single-producer single-consumer queue of datagrams in a SharedArrayBuffer: the emulator's
// receiving thread of a link pushes each admitted packet with its due time, the sending thread
// takes them out in order when they are due. A link never reorders (LinkShaper), so due times in
// one ring only grow and the head is always the link's next packet. Indices are free-running
// 32-bit counters (Atomics), slots a power of two; a full ring refuses the packet.

/** Bytes per slot: due time (f64), length (u32), 4 spare, then up to MAX_DATAGRAM bytes. */
const SLOT = 1536;
const HEADER = 16;
/** Largest datagram a ring carries: the underlay MTU of 1500 minus IP and UDP headers. */
export const MAX_DATAGRAM = SLOT - HEADER;
const HEAD = 0;
const TAIL = 1;

export interface PacketRingBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export class PacketRing {
  readonly slots: number;
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  private readonly u32: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly mask: number;

  /** A new ring of at least `minSlots` slots (rounded up to a power of two). */
  static create(minSlots: number): PacketRing {
    let slots = 1;
    while (slots < minSlots) slots *= 2;
    return new PacketRing({ control: new SharedArrayBuffer(8), data: new SharedArrayBuffer(slots * SLOT) });
  }

  /** The same ring seen from another thread. */
  constructor(readonly buffers: PacketRingBuffers) {
    this.slots = buffers.data.byteLength / SLOT;
    this.mask = this.slots - 1;
    this.ctl = new Int32Array(buffers.control);
    this.f64 = new Float64Array(buffers.data);
    this.u32 = new Uint32Array(buffers.data);
    this.bytes = new Uint8Array(buffers.data);
  }

  get size(): number {
    return (Atomics.load(this.ctl, TAIL) - Atomics.load(this.ctl, HEAD)) | 0;
  }

  /** Producer: queues `data` due at `due`; false when the ring is full or the datagram too large. */
  push(due: number, data: Uint8Array): boolean {
    const tail = Atomics.load(this.ctl, TAIL);
    if (((tail - Atomics.load(this.ctl, HEAD)) | 0) >= this.slots || data.length > MAX_DATAGRAM) return false;
    const i = tail & this.mask;
    this.f64[(i * SLOT) / 8] = due;
    this.u32[(i * SLOT) / 4 + 2] = data.length;
    this.bytes.set(data, i * SLOT + HEADER);
    Atomics.store(this.ctl, TAIL, (tail + 1) | 0);
    return true;
  }

  /** Consumer: due time of the next packet, or Infinity when the ring is empty. */
  peekDue(): number {
    const head = Atomics.load(this.ctl, HEAD);
    if (head === Atomics.load(this.ctl, TAIL)) return Infinity;
    return this.f64[((head & this.mask) * SLOT) / 8]!;
  }

  /** Consumer: the next packet's bytes, a view valid until `pop()`; undefined when empty. */
  peek(): Uint8Array | undefined {
    const head = Atomics.load(this.ctl, HEAD);
    if (head === Atomics.load(this.ctl, TAIL)) return undefined;
    const i = head & this.mask;
    return this.bytes.subarray(i * SLOT + HEADER, i * SLOT + HEADER + this.u32[(i * SLOT) / 4 + 2]!);
  }

  /** Consumer: done with the head packet. */
  pop(): void {
    const head = Atomics.load(this.ctl, HEAD);
    if (head !== Atomics.load(this.ctl, TAIL)) Atomics.store(this.ctl, HEAD, (head + 1) | 0);
  }
}

/**
 * Slots a link's ring needs: the full-size packets it can have in flight (queue, delay and jitter
 * at its rate; an unlimited link at 1 Gbit/s), with room to spare, from 1024 to 16384 (24 MiB).
 * Memory is only touched as slots are used. A ring that fills up drops like a full queue.
 */
export function ringSlotsFor(p: { rate: number | null; delay: number; jitter: number; queue: number }): number {
  const bytesPerSecond = p.rate ?? 125e6;
  const packets = (bytesPerSecond / 1472) * ((p.rate === null ? 0 : p.queue) + p.delay + p.jitter);
  return Math.min(16384, Math.max(1024, Math.ceil(2 * packets)));
}
