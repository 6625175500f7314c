// In-memory results per link (this node -> a peer): the latest value of every link metric, the
// latest outcome per measurement type, and a short history per type. /api/v1/links and the
// Prometheus gauges are both read from here, so they cannot disagree.
import type { LinkMetricKey, LinkMetrics, LinkReport, LinksReport, MeasurementResult, MeasurementType } from '../src/linkMetrics.js';
import type { MeasurementRecord } from './measurementRecord.js';

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
    if (!link) this.links.set(target, (link = { address, metrics: {}, lastResults: {}, lastSuccess: {}, history: {} }));
    link.address = address;
    for (const key of rec.clear) delete link.metrics[key];
    for (const [key, value] of Object.entries(rec.values) as Array<[LinkMetricKey, number]>)
      link.metrics[key] = { value, timestamp: rec.timestamp };
    link.lastResults[rec.type] = { result: rec.result, timestamp: rec.timestamp, ...(rec.error ? { error: rec.error } : {}) };
    if (rec.result === 'success') link.lastSuccess[rec.type] = rec.timestamp;
    const list = (link.history[rec.type] ??= []);
    list.push({ result: rec.result, timestamp: rec.timestamp, values: rec.values, ...(rec.error ? { error: rec.error } : {}) });
    if (list.length > this.historySize) list.splice(0, list.length - this.historySize);
  }

  /** Forgets a peer (it left): its link disappears from the report and the metrics. */
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
        lastResults: { ...link.lastResults } as LinkReport['lastResults'],
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
