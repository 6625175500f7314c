// The `prometheus` source: one PromQL instant query per link metric per refresh (plus one for the
// agents' measurement timestamps), over undici, with a timeout and retries with backoff.
// Links that drop out of an answer (their agent died, Prometheus marked the series stale) keep
// their last value and measurement time, so they age into "stale" instead of vanishing; values
// older than `retain` are forgotten. When Prometheus is down the refresh throws and MatrixCache
// keeps serving the last good matrix.
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import type { VectorSample } from './prometheusResponse.js';
import { linkQueries, matrixFromSamples } from './prometheusLinkQueries.js';
import { FetchHealth } from './fetchHealth.js';
import { promInstantQuery, queryEndpoint, type PromQueryOptions } from './promQuery.js';
import type { MetricSource } from './source.js';

export interface PrometheusSourceOptions extends PromQueryOptions {
  /** Prometheus base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  interval: number;
  /** Label matcher added to every query, e.g. network="lpm-measurement". */
  matcher?: string;
  /** Query the shipped recording rules (default) or the raw gauges. */
  recordingRules?: boolean;
  /** Seconds a value missing from Prometheus' answers is still kept (to age into stale). */
  retain?: number;
}

export class PrometheusSource implements MetricSource {
  readonly type = 'prometheus';
  readonly interval: number;
  private previous: LinkMatrix | undefined;
  private readonly health = new FetchHealth();
  private readonly queryUrl: string;

  constructor(private readonly opts: PrometheusSourceOptions) {
    this.interval = opts.interval;
    this.queryUrl = queryEndpoint(opts.url);
  }

  fetch(signal: AbortSignal): Promise<LinkMatrix> {
    return this.health.track(async () => {
      const queries = linkQueries(this.opts.matcher ?? '', this.opts.recordingRules ?? true);
      const answers = await Promise.all(queries.map(async (q) => [q.key, await promInstantQuery(this.queryUrl, q.query, this.opts, signal)] as const));
      const now = Date.now() / 1000;
      const fresh = matrixFromSamples(new Map<LinkMetricKey | 'timestamp', VectorSample[]>(answers), now);
      const merged = this.mergeWithPrevious(fresh, now);
      this.previous = merged;
      return merged;
    });
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
    return { url: this.opts.url, ...this.health.status() };
  }
}
