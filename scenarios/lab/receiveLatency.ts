// How long a datagram takes from the kernel to an emulator lane's JavaScript handler: the
// thread's wake-up and event-loop latency, which on a virtual machine is 0.1-0.4 ms and would
// otherwise be added to every emulated link's delay. The emulator's sending thread sends each lane
// a probe stamped with the monotonic clock every 50 ms; the lane notes when its handler sees it
// and dates each packet's arrival back by `estimate`: the median of the samples of the last 0.45 s
// (capped at 1 ms). The window is short because the latency depends on the load: wake-ups are
// slower on an idle machine (~0.4 ms here) than under traffic (~0.2 ms), and an estimate that
// lags makes a ping run after an idle spell read 0.3 ms under its RTT, or one after heavy traffic
// 0.4 ms over (a 2 s window, capped by a 20 s median, did both). Pure.

/** Milliseconds between two probes of a lane. */
export const PROBE_INTERVAL_MS = 50;

export class ReceiveLatencyProbe {
  private readonly samples: number[] = [];
  /** Milliseconds to date arrivals back by (see above; 0 until the first sample). */
  estimate = 0;
  count = 0;

  constructor(
    private readonly window = 9,
    private readonly maxMs = 1,
  ) {}

  /** Records one sample (ms). */
  add(ms: number): void {
    if (!(ms >= 0)) return;
    this.count++;
    this.samples.push(ms);
    if (this.samples.length > this.window) this.samples.shift();
    this.estimate = Math.min(this.maxMs, median(this.samples));
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Milliseconds on the monotonic clock every thread of the emulator shares (CLOCK_MONOTONIC). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
