// The traffic source: one PromQL query per refresh giving bytes/s between apps (by default Istio's
// request and response bytes, as NetMARKS reads them), kept as a TrafficMatrix whose rules make the
// pods of talking apps each other's peers, weighted by their traffic. Runs in a MatrixCache like
// the link sources: a failed refresh keeps the last good matrix.
import { trafficFromSamples, type TrafficLabels, type TrafficMatrix } from '../peers/trafficMatrix.js';
import { FetchHealth } from './fetchHealth.js';
import { promInstantQuery, queryEndpoint } from './promQuery.js';
import type { MetricSource } from './source.js';

export interface TrafficSourceOptions {
  /** Prometheus base URL. */
  url: string;
  query: string;
  labels: TrafficLabels;
  interval: number;
  /** Seconds per query attempt. */
  timeout: number;
}

export class TrafficSource implements MetricSource<TrafficMatrix> {
  readonly type = 'traffic';
  readonly interval: number;
  private readonly endpoint: string;
  private readonly health = new FetchHealth();

  constructor(private readonly opts: TrafficSourceOptions) {
    this.interval = opts.interval;
    this.endpoint = queryEndpoint(opts.url);
  }

  fetch(signal: AbortSignal): Promise<TrafficMatrix> {
    return this.health.track(async () => {
      const samples = await promInstantQuery(this.endpoint, this.opts.query, { timeout: this.opts.timeout }, signal);
      return trafficFromSamples(samples, this.opts.labels, Date.now() / 1000);
    });
  }

  status(): unknown {
    return { url: this.opts.url, query: this.opts.query, ...this.health.status() };
  }
}
