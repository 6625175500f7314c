// Histograms of the emulator's own timing errors, kept in shared memory: the thread that times a
// packet adds to its buckets, the main thread reads them for /metrics, the JSON report and
// `lab status`, without messages. Fixed bucket bounds in seconds; the layout in a Float64Array is
// counts per bucket (the last one above every bound), then sum, count and max. Pure apart from
// writing into the array it is given.

/** How late a packet left against its due time (>= 0). */
export const LATENESS_BOUNDS = [5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3] as const;
/** Signed error of a probe's departure against its true schedule (negative: early). */
export const PROBE_ERROR_BOUNDS = [
  -1e-3, -500e-6, -200e-6, -100e-6, -50e-6, -20e-6, 0, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3,
] as const;

/** Float64 slots one histogram takes. */
export const histogramSlots = (bounds: readonly number[]): number => bounds.length + 1 + 3;

export interface HistogramSnapshot {
  bounds: readonly number[];
  /** Observations per bucket (not cumulative): counts[i] <= bounds[i] and > bounds[i-1]; the last: above all. */
  counts: number[];
  sum: number;
  count: number;
  /** Largest observation since the start (a difference of two snapshots keeps the later one's). */
  max: number;
}

/** A histogram living at `offset` in a (shared) Float64Array. */
export class SharedHistogram {
  private readonly n: number;

  constructor(
    private readonly arr: Float64Array,
    private readonly offset: number,
    readonly bounds: readonly number[],
  ) {
    this.n = bounds.length;
    if (offset + histogramSlots(bounds) > arr.length) throw new Error('histogram does not fit its array');
  }

  observe(x: number): void {
    const { arr, offset, bounds, n } = this;
    let i = 0;
    while (i < n && x > bounds[i]!) i++;
    arr[offset + i] = arr[offset + i]! + 1;
    arr[offset + n + 1] = arr[offset + n + 1]! + x;
    const count = (arr[offset + n + 2] = arr[offset + n + 2]! + 1);
    if (count === 1 || x > arr[offset + n + 3]!) arr[offset + n + 3] = x;
  }

  snapshot(): HistogramSnapshot {
    const { arr, offset, n } = this;
    return {
      bounds: this.bounds,
      counts: Array.from(arr.subarray(offset, offset + n + 1)),
      sum: arr[offset + n + 1]!,
      count: arr[offset + n + 2]!,
      max: arr[offset + n + 3]!,
    };
  }
}

/** What happened between two snapshots of the same histogram. */
export function histogramDiff(before: HistogramSnapshot, after: HistogramSnapshot): HistogramSnapshot {
  return {
    bounds: after.bounds,
    counts: after.counts.map((c, i) => c - (before.counts[i] ?? 0)),
    sum: after.sum - before.sum,
    count: after.count - before.count,
    max: after.max,
  };
}

/** Adds several histograms with the same bounds (e.g. one per thread). */
export function histogramSum(list: readonly HistogramSnapshot[], bounds: readonly number[]): HistogramSnapshot {
  const out: HistogramSnapshot = { bounds, counts: bounds.map(() => 0).concat(0), sum: 0, count: 0, max: 0 };
  for (const h of list) {
    h.counts.forEach((c, i) => (out.counts[i] = out.counts[i]! + c));
    out.sum += h.sum;
    if (h.count > 0) out.max = out.count > 0 ? Math.max(out.max, h.max) : h.max;
    out.count += h.count;
  }
  return out;
}

/**
 * The q-quantile as the upper bound of the bucket it falls in (so "p99 <= 200µs" reads exactly);
 * in the last bucket, the maximum. Undefined without observations.
 */
export function histogramQuantile(h: HistogramSnapshot, q: number): number | undefined {
  if (h.count <= 0) return undefined;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= rank && h.counts[i]! > 0) return i < h.bounds.length ? h.bounds[i]! : h.max;
  }
  return h.max;
}

/** Fraction of the observations in (lo, hi]; lo and hi must be bucket bounds (lo may be -Infinity). */
export function fractionWithin(h: HistogramSnapshot, lo: number, hi: number): number | undefined {
  if (h.count <= 0) return undefined;
  let n = 0;
  for (let i = 0; i < h.bounds.length; i++) if (h.bounds[i]! <= hi && (i === 0 ? -Infinity : h.bounds[i - 1]!) >= lo) n += h.counts[i]!;
  return n / h.count;
}

/** Prometheus text lines of a histogram (cumulative `le` buckets, _sum, _count). */
export function histogramLines(name: string, h: HistogramSnapshot, labels = ''): string[] {
  const lines: string[] = [];
  const lab = (le: string) => `{${labels ? `${labels},` : ''}le="${le}"}`;
  let cum = 0;
  h.bounds.forEach((b, i) => {
    cum += h.counts[i]!;
    lines.push(`${name}_bucket${lab(String(b))} ${cum}`);
  });
  lines.push(`${name}_bucket${lab('+Inf')} ${h.count}`);
  lines.push(`${name}_sum${labels ? `{${labels}}` : ''} ${h.sum}`);
  lines.push(`${name}_count${labels ? `{${labels}}` : ''} ${h.count}`);
  return lines;
}
