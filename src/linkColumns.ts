// A column layout of a LinkMatrix for the scoring loop: per peer node m, typed arrays indexed by
// node holding every node n's links n->m (forward) and m->n (reverse), values and measurement
// times, NaN where there is none. Scoring 5000 candidates against a peer node then reads arrays
// in order instead of looking up two nested Maps and three objects per pair, which at 5000 nodes
// cost most of a request in cache misses. Columns are built on first use, once per matrix, and
// the least recently used are dropped past a memory budget.
import type { LinkMatrix } from './linkMatrix.js';
import type { LinkMetricKey, LinkMetrics } from './linkMetrics.js';

/** The metrics the scoring loop reads. */
export const COLUMN_METRICS = ['rtt_seconds', 'bandwidth_bytes_per_second', 'packet_loss_ratio'] as const satisfies readonly LinkMetricKey[];
export type ColumnMetric = (typeof COLUMN_METRICS)[number];

export interface LinkColumn {
  /** value[metric][i], time[metric][i]: link node(i) -> m. */
  forward: Record<ColumnMetric, { value: Float64Array; time: Float64Array }>;
  /** link m -> node(i). */
  reverse: Record<ColumnMetric, { value: Float64Array; time: Float64Array }>;
}

/** Bytes of columns kept per matrix (64 MiB: 139 peer nodes at 5000 nodes). */
const BUDGET_BYTES = 64 * 1024 * 1024;

export class LinkColumns {
  /** Node name -> index into every column. */
  readonly index = new Map<string, number>();
  private readonly columns = new Map<string, LinkColumn>();
  private readonly capacity: number;

  constructor(private readonly matrix: LinkMatrix) {
    for (const n of matrix.nodes()) this.index.set(n, this.index.size);
    const bytesPerColumn = 2 * COLUMN_METRICS.length * 2 * 8 * Math.max(1, this.index.size);
    this.capacity = Math.max(16, Math.floor(BUDGET_BYTES / bytesPerColumn));
  }

  /** The column of peer node `m` (all NaN when m has no links). */
  column(m: string): LinkColumn {
    let c = this.columns.get(m);
    if (c) {
      // most recently used last: Map keeps insertion order
      this.columns.delete(m);
      this.columns.set(m, c);
      return c;
    }
    c = this.build(m);
    this.columns.set(m, c);
    if (this.columns.size > this.capacity) this.columns.delete(this.columns.keys().next().value!);
    return c;
  }

  private build(m: string): LinkColumn {
    const size = this.index.size;
    const empty = () =>
      Object.fromEntries(COLUMN_METRICS.map((k) => [k, { value: new Float64Array(size).fill(NaN), time: new Float64Array(size).fill(NaN) }])) as LinkColumn['forward'];
    const col: LinkColumn = { forward: empty(), reverse: empty() };
    const put = (side: LinkColumn['forward'], i: number, cell: LinkMetrics) => {
      for (const k of COLUMN_METRICS) {
        const v = cell[k];
        if (!v) continue;
        side[k].value[i] = v.value;
        side[k].time[i] = v.timestamp;
      }
    };
    for (const [n, i] of this.index) {
      const fwd = this.matrix.get(n, m);
      if (fwd) put(col.forward, i, fwd);
    }
    for (const [n, cell] of this.matrix.row(m) ?? []) {
      const i = this.index.get(n);
      if (i !== undefined) put(col.reverse, i, cell);
    }
    return col;
  }
}
