// The shared memory of the emulator's threads: counters per link, timing histograms per lane,
// each lane's control words (its sending thread sleeps on one), and the packet rings. Written by the thread that owns each
// value, read by the main thread for /metrics and the JSON report; nothing here is sent as a
// message. Doubles are written whole (aligned 8-byte stores are not torn on the machines we run on).
import { histogramSlots, LATENESS_BOUNDS, PROBE_ERROR_BOUNDS, SharedHistogram } from './latencyHistogram.js';
import type { PacketRingBuffers } from './packetRing.js';

/** Per-link counters (Float64 slots). */
export const LINK = { BYTES: 0, PACKETS: 1, DROP_LOSS: 2, DROP_QUEUE: 3, FREE_AT: 4, SLOTS: 8 } as const;

const LATENESS = histogramSlots(LATENESS_BOUNDS);
const PROBE = histogramSlots(PROBE_ERROR_BOUNDS);
/** Per-lane values (Float64 slots): receive latency estimate (ms), probe samples, then two histograms. */
export const LANE = {
  RECEIVE_ESTIMATE_MS: 0,
  RECEIVE_SAMPLES: 1,
  LATENESS: 2,
  PROBE_ERROR: 2 + LATENESS,
  SLOTS: 2 + LATENESS + PROBE,
} as const;

/**
 * Control words per lane (Int32, at lane * CTL.SLOTS): the generation the lane bumps after every
 * push (its sender sleeps on it), the stop flag, the sender's socket errors.
 */
export const CTL = { GEN: 0, STOP: 1, SEND_ERRORS: 2, SLOTS: 4 } as const;

export interface SharedBuffers {
  links: SharedArrayBuffer;
  lanes: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** Float64 per lane: when its sender will next wake (monotonic ms; -Infinity: it is awake). */
  wake: SharedArrayBuffer;
  /** The senders' common spin budget (Int32: lock, credit µs, last refill ms since `spinBase`). */
  spin: SharedArrayBuffer;
  /** Monotonic ms the spin budget's clock counts from. */
  spinBase: number;
}

const SPIN = { LOCK: 0, CREDIT_US: 1, LAST_MS: 2 } as const;

/**
 * The time all sending threads together may spend waiting out due times (spinning): `share` of
 * one CPU, saved up to `maxUs`. A sender asks for the whole wait before it spins; when the budget
 * cannot pay for it, it sleeps instead and its packet leaves late. Shared through a tiny lock.
 */
export class SpinBudget {
  private readonly a: Int32Array;

  constructor(
    private readonly buffers: Pick<SharedBuffers, 'spin' | 'spinBase'>,
    private readonly share = 0.25,
    private readonly maxUs = 5000,
  ) {
    this.a = new Int32Array(buffers.spin);
  }

  /** Takes `ms` of spinning from the budget at monotonic time `now` (ms); false when it cannot pay. */
  take(ms: number, now: number): boolean {
    const a = this.a;
    while (Atomics.compareExchange(a, SPIN.LOCK, 0, 1) !== 0);
    try {
      const t = Math.floor(now - this.buffers.spinBase);
      const credit = Math.min(this.maxUs, a[SPIN.CREDIT_US]! + Math.max(0, t - a[SPIN.LAST_MS]!) * this.share * 1000);
      a[SPIN.LAST_MS] = t;
      const want = Math.ceil(ms * 1000);
      if (credit < want) {
        a[SPIN.CREDIT_US] = Math.floor(credit);
        return false;
      }
      a[SPIN.CREDIT_US] = Math.floor(credit - want);
      return true;
    } finally {
      Atomics.store(a, SPIN.LOCK, 0);
    }
  }
}

export function createShared(links: number, lanes: number, now: number): SharedBuffers {
  const n = Math.max(1, lanes);
  const wake = new SharedArrayBuffer(8 * n);
  new Float64Array(wake).fill(-Infinity);
  return {
    links: new SharedArrayBuffer(8 * LINK.SLOTS * Math.max(1, links)),
    lanes: new SharedArrayBuffer(8 * LANE.SLOTS * n),
    control: new SharedArrayBuffer(4 * CTL.SLOTS * n),
    wake,
    spin: new SharedArrayBuffer(4 * 3),
    spinBase: now,
  };
}

/** Typed views on the shared buffers, the same in every thread. */
export class SharedViews {
  readonly links: Float64Array;
  readonly lanes: Float64Array;
  readonly control: Int32Array;
  readonly wake: Float64Array;

  constructor(readonly buffers: SharedBuffers) {
    this.links = new Float64Array(buffers.links);
    this.lanes = new Float64Array(buffers.lanes);
    this.control = new Int32Array(buffers.control);
    this.wake = new Float64Array(buffers.wake);
  }

  link(i: number, field: number): number {
    return this.links[i * LINK.SLOTS + field]!;
  }

  lateness(lane: number): SharedHistogram {
    return new SharedHistogram(this.lanes, lane * LANE.SLOTS + LANE.LATENESS, LATENESS_BOUNDS);
  }

  probeError(lane: number): SharedHistogram {
    return new SharedHistogram(this.lanes, lane * LANE.SLOTS + LANE.PROBE_ERROR, PROBE_ERROR_BOUNDS);
  }
}

/** One link as a lane and the sender see it. */
export interface LaneLink {
  /** Index into the plan's links (and the shared counters). */
  index: number;
  from: string;
  to: string;
  ring: PacketRingBuffers;
}

/** Time (ms) a probe is held by a lane, like a packet on a 1 ms link: the sender times its departure. */
export const PROBE_DELAY_MS = 1;
