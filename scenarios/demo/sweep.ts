// Waiting for the first full measurement sweep: every measured pair has an RTT and a bandwidth
// value in the extender's link matrix. Counting is pure; the wait polls the extender's cache.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LinkMatrix } from '../../src/linkMatrix.js';
import type { MatrixCache } from '../../extender/sources/source.js';

export interface SweepProgress {
  rtt: number;
  bandwidth: number;
  total: number;
}

export function sweepProgress(matrix: LinkMatrix | undefined, pairs: ReadonlyArray<readonly [string, string]>): SweepProgress {
  let rtt = 0;
  let bandwidth = 0;
  for (const [a, b] of pairs) {
    const m = matrix?.get(a, b);
    if (m?.rtt_seconds) rtt++;
    if (m?.bandwidth_bytes_per_second) bandwidth++;
  }
  return { rtt, bandwidth, total: pairs.length };
}

export const sweepDone = (p: SweepProgress) => p.rtt === p.total && p.bandwidth === p.total;

/**
 * Polls until the sweep is complete, the timeout passes (resolves false) or `signal` aborts
 * (rejects). `progress` gets a line whenever the counts change, and every 10 s regardless.
 */
export async function waitForFirstSweep(
  cache: MatrixCache,
  pairs: ReadonlyArray<readonly [string, string]>,
  opts: { timeoutMs: number; signal: AbortSignal; progress: (line: string) => void; pollMs?: number },
): Promise<boolean> {
  const started = Date.now();
  let last = '';
  let lastPrint = 0;
  for (;;) {
    opts.signal.throwIfAborted();
    const p = sweepProgress(cache.current?.matrix, pairs);
    const secs = Math.round((Date.now() - started) / 1000);
    const counts = `links with RTT ${p.rtt}/${p.total}, with bandwidth ${p.bandwidth}/${p.total}`;
    if (counts !== last || Date.now() - lastPrint >= 10_000) {
      opts.progress(`  ${counts} (${secs} s)`);
      last = counts;
      lastPrint = Date.now();
    }
    if (sweepDone(p)) return true;
    if (Date.now() - started >= opts.timeoutMs) return false;
    await sleep(opts.pollMs ?? 1000, undefined, { signal: opts.signal });
  }
}
