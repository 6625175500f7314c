// In-memory results per link (this node -> a target): the current value of every link metric, the
// latest outcome per measurement type, and a short history per type. /api/v1/links and the
// Prometheus gauges are both read from here, so they cannot disagree. RTT, jitter and loss from
// ping are the robust values over several runs (linkEstimates.ts); the history keeps each run's own.
import type { LinkMetricKey, LinkMetrics, LinkReport, LinksReport, MeasurementResult, MeasurementType } from '../src/linkMetrics.js';
import type { MeasurementRecord } from './measurementRecord.js';
import { DEFAULT_ESTIMATE_WINDOW, estimateLink, trimRuns, type PingRunSummary } from './linkEstimates.js';

export interface HistoryEntry {
  result: MeasurementResult;
  timestamp: number;
  values: Partial<Record<LinkMetricKey, number>>;
  error?: string;
}

interface LinkState {
  address: string;
  metrics: LinkMetrics;
  lastResults: Partial<Record<MeasurementType, { result: MeasurementResult; timestamp: number; error?: string }>>;
  /** Unix seconds of the latest success per measurement type. */
  lastSuccess: Partial<Record<MeasurementType, number>>;
  history: Partial<Record<MeasurementType, HistoryEntry[]>>;
  /** The latest ping runs, as far back as the robust values need. */
  pingRuns: PingRunSummary[];
}

export class ResultStore {
  private readonly links = new Map<string, LinkState>();

  constructor(private historySize: number) {}

  setHistorySize(n: number): void {
    this.historySize = n;
    for (const link of this.links.values())
      for (const list of Object.values(link.history)) if (list && list.length > n) list.splice(0, list.length - n);
  }

  record(target: string, address: string, rec: MeasurementRecord): void {
    let link = this.links.get(target);
    if (!link) this.links.set(target, (link = { address, metrics: {}, lastResults: {}, lastSuccess: {}, history: {}, pingRuns: [] }));
    link.address = address;
    for (const key of rec.clear) delete link.metrics[key];
    for (const [key, value] of Object.entries(rec.values) as Array<[LinkMetricKey, number]>)
      link.metrics[key] = { value, timestamp: rec.timestamp };
    if (rec.type === 'rtt' && rec.probes) this.estimate(link, rec, rec.probes);
    link.lastResults[rec.type] = { result: rec.result, timestamp: rec.timestamp, ...(rec.error ? { error: rec.error } : {}) };
    if (rec.result === 'success') link.lastSuccess[rec.type] = rec.timestamp;
    const list = (link.history[rec.type] ??= []);
    list.push({ result: rec.result, timestamp: rec.timestamp, values: rec.values, ...(rec.error ? { error: rec.error } : {}) });
    if (list.length > this.historySize) list.splice(0, list.length - this.historySize);
  }

  /** Replaces a ping run's own RTT (and its min and max), jitter and loss by the robust values over the latest runs. */
  private estimate(link: LinkState, rec: MeasurementRecord, probes: { sent: number; received: number }): void {
    const w = rec.window ?? DEFAULT_ESTIMATE_WINDOW;
    const run: PingRunSummary = { timestamp: rec.timestamp, ...probes };
    if (rec.values.rtt_seconds !== undefined) run.rtt = rec.values.rtt_seconds;
    if (rec.values.rtt_min_seconds !== undefined) run.rttMin = rec.values.rtt_min_seconds;
    if (rec.values.rtt_max_seconds !== undefined) run.rttMax = rec.values.rtt_max_seconds;
    if (rec.values.jitter_seconds !== undefined) run.jitter = rec.values.jitter_seconds;
    link.pingRuns.push(run);
    trimRuns(link.pingRuns, w);
    const e = estimateLink(link.pingRuns, w);
    const set = (key: LinkMetricKey, value: number | undefined) => {
      if (value === undefined) delete link.metrics[key];
      else link.metrics[key] = { value, timestamp: rec.timestamp };
    };
    set('rtt_seconds', e.rtt);
    set('rtt_min_seconds', e.rttMin);
    set('rtt_max_seconds', e.rttMax);
    set('jitter_seconds', e.jitter);
    set('packet_loss_ratio', e.loss);
  }

  /** Forgets a target (it left): its link disappears from the report and the metrics. */
  remove(target: string): boolean {
    return this.links.delete(target);
  }

  clear(): void {
    this.links.clear();
  }

  targets(): string[] {
    return [...this.links.keys()].sort();
  }

  get(target: string): Readonly<LinkState> | undefined {
    return this.links.get(target);
  }

  *entries(): Generator<[string, Readonly<LinkState>]> {
    yield* [...this.links.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  report(node: string, network: string, now = Date.now() / 1000): LinksReport {
    const links: LinkReport[] = [];
    for (const [target, link] of this.entries())
      links.push({
        source: node,
        target,
        network,
        address: link.address,
        metrics: { ...link.metrics },
        lastResults: { ...link.lastResults },
      });
    return { node, network, generatedAt: now, links };
  }

  history(node: string, network: string): { node: string; network: string; links: Array<{ source: string; target: string; history: LinkState['history'] }> } {
    return {
      node,
      network,
      links: [...this.entries()].map(([target, link]) => ({ source: node, target, history: link.history })),
    };
  }
}
