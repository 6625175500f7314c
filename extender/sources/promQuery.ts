// One PromQL instant query over undici, with a timeout per attempt and retries with backoff:
// what every Prometheus reader of the extender (link matrix, traffic weights) does per refresh.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { instantVector, PromQueryError, type VectorSample } from './prometheusResponse.js';

export interface PromQueryOptions {
  /** Seconds per attempt. */
  timeout: number;
  /** Attempts (first try included), default 3. */
  attempts?: number;
  /** Seconds before the first retry, default 0.25; doubled each time, with jitter. */
  backoff?: number;
}

/** `base` (e.g. http://prometheus:9090, with or without a path prefix) -> its /api/v1/query URL. */
export function queryEndpoint(base: string): string {
  return new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`).toString();
}

/** The query's samples; PromQL errors (bad_data) are thrown at once, other failures after the retries. */
export async function promInstantQuery(
  endpoint: string,
  query: string,
  opts: PromQueryOptions,
  signal: AbortSignal,
): Promise<VectorSample[]> {
  const attempts = opts.attempts ?? 3;
  let delay = (opts.backoff ?? 0.25) * 1000;
  let lastErr: Error | undefined;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) {
      await sleep(delay * (0.5 + Math.random()), undefined, { signal });
      delay *= 2;
    }
    try {
      const res = await request(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ query }).toString(),
        signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeout * 1000)]),
      });
      const text = await res.body.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`HTTP ${res.statusCode}: not JSON: ${text.slice(0, 120)}`);
      }
      // Prometheus answers 400/422 with a JSON error body: instantVector turns it into PromQueryError
      return instantVector(body, query);
    } catch (err) {
      if (err instanceof PromQueryError || signal.aborted) throw err;
      lastErr = new Error(`${query}: ${(err as Error).message}`);
    }
  }
  throw lastErr ?? new Error(`${query}: no attempt made`);
}
