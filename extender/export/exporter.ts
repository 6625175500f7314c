// The export loop: every interval, read the link matrix from a metric source (the extender's
// `prometheus` or `direct` source, extender/sources/), turn it into a NetworkTopology and apply it.
// Never overlapping; a failed refresh (source or API down) is logged, leaves the object as it
// was and is retried sooner (min(interval, 30 s)). A matrix with no fresh link is not written:
// right after a restart Prometheus may not have the agents yet, and an empty topology would
// tell the scheduler that the network has no links at all.
import type { Logger } from '../../src/log.js';
import type { MetricSource } from '../sources/source.js';
import { buildNetworkTopology, type NetworkTopology } from './networkTopology.js';

export type RefreshResult = 'applied' | 'empty' | 'error';

export interface TopologyExporterOptions {
  source: MetricSource;
  name: string;
  namespace: string;
  /** Seconds between refreshes. */
  interval: number;
  /** Seconds a measurement stays in the topology. */
  maxAge: number;
  /** Writes the object (server-side apply, or print it). */
  write(obj: NetworkTopology): Promise<void>;
  log: Logger;
  /** Seconds a refresh may take (default: min(interval, 60)). */
  timeout?: number;
}

export class TopologyExporter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RefreshResult> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  /** Refreshes by result, since start. */
  readonly counts: Record<RefreshResult, number> = { applied: 0, empty: 0, error: 0 };

  constructor(private readonly o: TopologyExporterOptions) {}

  /** One refresh now (never rejects). */
  refresh(): Promise<RefreshResult> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRefresh(): Promise<RefreshResult> {
    const { o } = this;
    const timeoutMs = (o.timeout ?? Math.min(o.interval, 60)) * 1000;
    try {
      const matrix = await o.source.fetch(AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]));
      const topology = buildNetworkTopology(matrix, { name: o.name, namespace: o.namespace, now: Date.now() / 1000, maxAge: o.maxAge });
      if (topology.spec.links.length === 0) {
        this.counts.empty++;
        o.log.warn({ source: o.source.type, links: matrix.size }, 'no fresh link measurement: networktopology left as it is');
        return 'empty';
      }
      await o.write(topology);
      this.counts.applied++;
      o.log.info(
        {
          name: o.name,
          namespace: o.namespace,
          nodes: topology.spec.nodes.length,
          links: topology.spec.links.length,
          refresh: this.counts.applied,
        },
        'networktopology applied',
      );
      return 'applied';
    } catch (err) {
      if (this.stopped) return 'error';
      this.counts.error++;
      o.log.error({ source: o.source.type, err: (err as Error).message }, 'networktopology refresh failed; keeping the object as it is');
      return 'error';
    }
  }

  /** Refreshes now and then every interval (sooner after a failure). */
  start(): void {
    this.stopped = false;
    const loop = async () => {
      const result = await this.refresh();
      if (this.stopped) return;
      const next = result === 'applied' ? this.o.interval : Math.min(this.o.interval, 30);
      this.timer = setTimeout(() => void loop(), next * 1000);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }
}
