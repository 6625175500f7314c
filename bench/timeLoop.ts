// Runs a synchronous function back to back for a while: ops/s and per-call latency quantiles.
import { quantile } from './loadGenerator.js';

export interface LoopResult {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  /** Milliseconds per call. */
  p50: number;
  p99: number;
}

export function timeLoop(fn: () => unknown, opts: { durationMs: number; minOps: number; warmup: number }): LoopResult {
  for (let i = 0; i < opts.warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  const deadline = start + opts.durationMs;
  let now = start;
  while (now < deadline || times.length < opts.minOps) {
    fn();
    const t = performance.now();
    times.push(t - now);
    now = t;
  }
  const seconds = (now - start) / 1000;
  times.sort((a, b) => a - b);
  return { ops: times.length, seconds, opsPerSecond: times.length / seconds, p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}
