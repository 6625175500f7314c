// The PromQL the `prometheus` metric source runs (one instant query per metric per refresh), and
// how the answers become a LinkMatrix. Values carry the agent's own measurement time, read from
// lpm_link_last_measurement_timestamp_seconds, not the scrape time: a link whose agent stopped
// measuring must age into "stale" even while Prometheus still returns its last gauge value.
import { LinkMatrix } from '../../src/linkMatrix.js';
import { METRICS_OF, promName, type LinkMetricKey, type MeasurementType } from '../../src/linkMetrics.js';
import { sampleNumber, type VectorSample } from './prometheusResponse.js';

/** Gauges read per refresh, each with the measurement type whose timestamp dates it. */
export const SOURCE_METRICS: ReadonlyArray<{ key: LinkMetricKey; type: MeasurementType }> = [
  { key: 'rtt_seconds', type: 'rtt' },
  { key: 'rtt_min_seconds', type: 'rtt' },
  { key: 'rtt_max_seconds', type: 'rtt' },
  { key: 'jitter_seconds', type: 'rtt' },
  { key: 'packet_loss_ratio', type: 'rtt' },
  { key: 'bandwidth_bytes_per_second', type: 'bandwidth' },
];

export const TIMESTAMP_METRIC = 'lpm_link_last_measurement_timestamp_seconds';

/**
 * One query per gauge plus one for the measurement times. With `recorded` (the default), the
 * recording rules we ship (lpm:link_*:latest, manifests/prometheus/recording-rules.yaml); without,
 * the same aggregation over the raw gauges, for a Prometheus that lacks our rules. `matcher` adds a
 * label matcher such as network="lpm-measurement".
 */
export function linkQueries(matcher = '', recorded = true): { key: LinkMetricKey | 'timestamp'; query: string }[] {
  const sel = matcher ? `{${matcher}}` : '';
  const q = (raw: string, by: string) =>
    recorded ? `${raw.replace(/^lpm_link_/, 'lpm:link_')}:latest${sel}` : `max by (${by}) (${raw}${sel})`;
  const link = 'source_node, target_node, network';
  return [
    ...SOURCE_METRICS.map((m) => ({ key: m.key, query: q(promName(m.key), link) })),
    { key: 'timestamp' as const, query: q(TIMESTAMP_METRIC, `${link}, metric`) },
  ];
}

const linkId = (m: Record<string, string>) => `${m.source_node}\u0000${m.target_node}\u0000${m.network ?? ''}`;

/**
 * Builds a matrix from the answers of linkQueries(). A gauge without a matching timestamp series
 * is dated by the sample's own time (an older agent, or a series relabelled away).
 */
export function matrixFromSamples(
  answers: ReadonlyMap<LinkMetricKey | 'timestamp', VectorSample[]>,
  builtAt = Date.now() / 1000,
): LinkMatrix {
  const measuredAt = new Map<string, number>();
  for (const s of answers.get('timestamp') ?? []) {
    const type = s.metric.metric;
    const t = sampleNumber(s);
    if (type && Number.isFinite(t) && t > 0) measuredAt.set(`${linkId(s.metric)}\u0000${type}`, t);
  }
  const matrix = new LinkMatrix(builtAt);
  for (const { key, type } of SOURCE_METRICS) {
    for (const s of answers.get(key) ?? []) {
      const source = s.metric.source_node;
      const target = s.metric.target_node;
      const value = sampleNumber(s);
      if (!source || !target || !Number.isFinite(value)) continue;
      // jitter also comes from udp-jitter runs: date it by whichever type measured it last
      const types: MeasurementType[] = key === 'jitter_seconds' || key === 'packet_loss_ratio' ? [type, 'udp-jitter'] : [type];
      const times = types
        .filter((t) => METRICS_OF[t].includes(key))
        .map((t) => measuredAt.get(`${linkId(s.metric)}\u0000${t}`))
        .filter((t): t is number => t !== undefined);
      const timestamp = times.length ? Math.max(...times) : s.value[0];
      matrix.set(source, target, key, { value, timestamp });
    }
  }
  return matrix;
}
