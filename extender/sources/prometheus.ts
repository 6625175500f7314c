// The `prometheus` source: one PromQL instant query per link metric per refresh (plus one for the
// agents' measurement timestamps), over undici, with a timeout and retries with backoff.
// Links that drop out of an answer (their agent died, Prometheus marked the series stale) keep
// their last value and measurement time, so they age into "stale" instead of vanishing; values
// older than `retain` are forgotten. When Prometheus is down the refresh throws and MatrixCache
// keeps serving the last good matrix.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import { instantVector, PromQueryError, type VectorSample } from '../../src/prometheus/apiResponse.js';
import { linkQueries, matrixFromSamples } from '../../src/prometheus/linkQueries.js';
import type { MetricSource } from './source.js';

export interface PrometheusSourceOptions {
  /** Prometheus base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  interval: number;
  /** Seconds per query attempt. */
  timeout: number;
  /** Label matcher added to every query, e.g. network="lpm-measurement". */
  matcher?: string;
  /** Query the shipped recording rules (default) or the raw gauges. */
  recordingRules?: boolean;
  /** Attempts per query (first try included). */
  attempts?: number;
  /** Seconds before the first retry; doubled each time, with jitter. */
  backoff?: number;
  /** Seconds a value missing from Prometheus' answers is still kept (to age into stale). */
  retain?: number;
}

export class PrometheusSource implements MetricSource {
  readonly type = 'prometheus';
  readonly interval: number;
  private previous: LinkMatrix | undefined;
  private lastSuccess: number | undefined;
  private lastError: string | undefined;
  private readonly queryUrl: string;

  constructor(private readonly opts: PrometheusSourceOptions) {
    this.interval = opts.interval;
    this.queryUrl = new URL('api/v1/query', opts.url.endsWith('/') ? opts.url : `${opts.url}/`).toString();
  }

  async fetch(signal: AbortSignal): Promise<LinkMatrix> {
    try {
      const queries = linkQueries(this.opts.matcher ?? '', this.opts.recordingRules ?? true);
      const answers = await Promise.all(queries.map(async (q) => [q.key, await this.query(q.query, signal)] as const));
      const now = Date.now() / 1000;
      const fresh = matrixFromSamples(new Map<LinkMetricKey | 'timestamp', VectorSample[]>(answers), now);
      const merged = this.mergeWithPrevious(fresh, now);
      this.previous = merged;
      this.lastSuccess = now;
      this.lastError = undefined;
      return merged;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  /** One instant query with retries; PromQL errors (bad_data) are not retried. */
  private async query(query: string, signal: AbortSignal): Promise<VectorSample[]> {
    const attempts = this.opts.attempts ?? 3;
    let delay = (this.opts.backoff ?? 0.25) * 1000;
    let lastErr: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) {
        await sleep(delay * (0.5 + Math.random()), undefined, { signal });
        delay *= 2;
      }
      try {
        const res = await request(this.queryUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ query }).toString(),
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.opts.timeout * 1000)]),
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

  private mergeWithPrevious(fresh: LinkMatrix, now: number): LinkMatrix {
    if (!this.previous) return fresh;
    const retain = this.opts.retain ?? 3600;
    const merged = new LinkMatrix(fresh.builtAt);
    for (const { source, target, metrics } of this.previous.entries())
      for (const [key, v] of Object.entries(metrics) as Array<[LinkMetricKey, { value: number; timestamp: number }]>)
        if (now - v.timestamp <= retain) merged.set(source, target, key, v);
    // fresh values win: LinkMatrix.set never lets an older timestamp replace a newer one
    for (const { source, target, metrics } of fresh.entries())
      for (const [key, v] of Object.entries(metrics) as Array<[LinkMetricKey, { value: number; timestamp: number }]>)
        merged.set(source, target, key, v);
    return merged;
  }

  status(): unknown {
    return { url: this.opts.url, lastSuccess: this.lastSuccess ?? null, lastError: this.lastError ?? null };
  }
}
