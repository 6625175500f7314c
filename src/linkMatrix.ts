// The link matrix: for each directed pair of nodes, the latest value of each link metric with
// its measurement time. Built by the extender's metric sources (from Prometheus or straight from
// the agents) and read, without I/O, on the scheduling path.
import { LinkColumns } from './linkColumns.js';
import type { LinkMetricKey, LinkMetrics, LinksReport, TimedValue } from './linkMetrics.js';

export type Freshness = 'fresh' | 'stale' | 'unknown';

export interface LinkLookup {
  status: Freshness;
  /** Present when status is fresh or stale. */
  value?: number;
  /** Seconds since the measurement, when known. */
  ageSeconds?: number;
}

export class LinkMatrix {
  private readonly rows = new Map<string, Map<string, LinkMetrics>>();
  private columnView: LinkColumns | undefined;
  private linkCount: number | undefined;

  /** Unix time (seconds) the matrix was assembled at. */
  constructor(readonly builtAt: number = Date.now() / 1000) {}

  /** Records a value; an older value never replaces a newer one (several sources may report a link). */
  set(source: string, target: string, key: LinkMetricKey, value: TimedValue): void {
    this.columnView = undefined;
    this.linkCount = undefined;
    let row = this.rows.get(source);
    if (!row) this.rows.set(source, (row = new Map<string, LinkMetrics>()));
    let cell = row.get(target);
    if (!cell) row.set(target, (cell = {}));
    const old = cell[key];
    if (!old || old.timestamp <= value.timestamp) cell[key] = value;
  }

  /** The column layout the scoring loop reads (built on first use; a set() discards it). */
  get columns(): LinkColumns {
    this.columnView ??= new LinkColumns(this);
    return this.columnView;
  }

  get(source: string, target: string): LinkMetrics | undefined {
    return this.rows.get(source)?.get(target);
  }

  /** Every link measured from `source`, by target (one lookup per candidate on the scoring path). */
  row(source: string): ReadonlyMap<string, LinkMetrics> | undefined {
    return this.rows.get(source);
  }

  /** A metric's value judged against a maximum age: unknown when never measured, stale when too old. */
  lookup(source: string, target: string, key: LinkMetricKey, now: number, maxAgeSeconds: number): LinkLookup {
    const v = this.rows.get(source)?.get(target)?.[key];
    if (!v) return { status: 'unknown' };
    const ageSeconds = Math.max(0, now - v.timestamp);
    return { status: ageSeconds > maxAgeSeconds ? 'stale' : 'fresh', value: v.value, ageSeconds };
  }

  /** Every node that appears as a source or target. */
  nodes(): string[] {
    const all = new Set<string>();
    for (const [s, row] of this.rows) {
      all.add(s);
      for (const t of row.keys()) all.add(t);
    }
    return [...all].sort();
  }

  *entries(): Generator<{ source: string; target: string; metrics: LinkMetrics }> {
    for (const [source, row] of this.rows) for (const [target, metrics] of row) yield { source, target, metrics };
  }

  get size(): number {
    if (this.linkCount === undefined) {
      let n = 0;
      for (const row of this.rows.values()) n += row.size;
      this.linkCount = n;
    }
    return this.linkCount;
  }

  /** Oldest and newest measurement time over all values (undefined when empty). */
  timeRange(): { oldest: number; newest: number } | undefined {
    let oldest = Infinity;
    let newest = -Infinity;
    for (const { metrics } of this.entries())
      for (const v of Object.values(metrics)) {
        if (!v) continue;
        oldest = Math.min(oldest, v.timestamp);
        newest = Math.max(newest, v.timestamp);
      }
    return Number.isFinite(oldest) ? { oldest, newest } : undefined;
  }

  /** Plain JSON form: { links: [{source, target, metrics}] }, sorted for stable output. */
  toJSON(): { builtAt: number; links: Array<{ source: string; target: string; metrics: LinkMetrics }> } {
    const links = [...this.entries()].sort((a, b) =>
      a.source === b.source ? a.target.localeCompare(b.target) : a.source.localeCompare(b.source),
    );
    return { builtAt: this.builtAt, links };
  }

  /** Merges agents' /api/v1/links reports into one matrix. */
  static fromReports(reports: Iterable<LinksReport>, builtAt?: number): LinkMatrix {
    const m = new LinkMatrix(builtAt);
    for (const r of reports)
      for (const link of r.links)
        for (const [key, v] of Object.entries(link.metrics) as Array<[LinkMetricKey, TimedValue | undefined]>)
          if (v) m.set(link.source, link.target, key, v);
    return m;
  }
}
