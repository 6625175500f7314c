// HTTP load: `concurrency` workers over an undici Pool (one keep-alive connection each, as
// kube-scheduler keeps its connection to an extender), each sending the same POST body back to
// back until the duration is over and at least `minRequests` answered. Every answer must be
// HTTP 200 (anything else is an error to kube-scheduler, so it fails the run).
import { Pool } from 'undici';

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:1234 */
  url: string;
  path: string;
  body: string;
  concurrency: number;
  durationMs: number;
  minRequests: number;
  /** Requests sent and discarded first (JIT, connection setup). */
  warmup: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  /** Bytes of one answer. */
  responseBytes: number;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(opts.url, { connections: opts.concurrency, pipelining: 1, bodyTimeout: 120_000, headersTimeout: 120_000 });
  const body = Buffer.from(opts.body);
  let responseBytes = 0;
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await pool.request({
      method: 'POST',
      path: opts.path,
      body,
      headers: { 'content-type': 'application/json' },
    });
    const buf = Buffer.from(await res.body.arrayBuffer());
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${opts.path}: HTTP ${res.statusCode}: ${buf.toString('utf8', 0, 200)}`);
    responseBytes = buf.length;
    return ms;
  };
  try {
    for (let i = 0; i < opts.warmup; i++) await once();
    const latencies: number[] = [];
    const start = performance.now();
    const deadline = start + opts.durationMs;
    const worker = async () => {
      while (performance.now() < deadline || latencies.length < opts.minRequests) latencies.push(await once());
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      seconds,
      requestsPerSecond: latencies.length / seconds,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies[latencies.length - 1]!,
      responseBytes,
    };
  } finally {
    await pool.close();
  }
}
