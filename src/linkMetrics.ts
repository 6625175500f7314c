// The link-metric vocabulary shared by the agent (which measures), the collector (Prometheus)
// and the extender (which scores). Keys are the Prometheus metric names without `lpm_link_`,
// so one word means the same thing everywhere. Units are base units (seconds, bytes/s, ratio).
import { z } from 'zod';

export const LINK_METRIC_KEYS = [
  'rtt_seconds',
  'rtt_min_seconds',
  'rtt_max_seconds',
  'jitter_seconds',
  'packet_loss_ratio',
  'bandwidth_bytes_per_second',
] as const;
export type LinkMetricKey = (typeof LINK_METRIC_KEYS)[number];

/** Prometheus name of a link gauge, e.g. rtt_seconds -> lpm_link_rtt_seconds. */
export const promName = (key: LinkMetricKey): string => `lpm_link_${key}`;

/** What a measurement run measures; `rtt` (ping) yields RTT, min/max, jitter and loss together. */
export const MEASUREMENT_TYPES = ['rtt', 'bandwidth', 'udp-jitter'] as const;
export type MeasurementType = (typeof MEASUREMENT_TYPES)[number];

/** Which gauges each measurement type sets. udp-jitter reports iperf3's UDP jitter and loss. */
export const METRICS_OF: Record<MeasurementType, readonly LinkMetricKey[]> = {
  rtt: ['rtt_seconds', 'rtt_min_seconds', 'rtt_max_seconds', 'jitter_seconds', 'packet_loss_ratio'],
  bandwidth: ['bandwidth_bytes_per_second'],
  'udp-jitter': ['jitter_seconds', 'packet_loss_ratio'],
};

/** Outcome label of lpm_measurements_total. */
export const MEASUREMENT_RESULTS = ['success', 'busy', 'timeout', 'error'] as const;
export type MeasurementResult = (typeof MEASUREMENT_RESULTS)[number];

/** A value with the unix time (seconds) it was measured at. */
export const timedValue = z.object({ value: z.number().finite(), timestamp: z.number().finite().positive() });
export type TimedValue = z.infer<typeof timedValue>;

export const linkMetricsSchema = z
  .object(Object.fromEntries(LINK_METRIC_KEYS.map((k) => [k, timedValue.optional()])) as Record<
    LinkMetricKey,
    z.ZodOptional<typeof timedValue>
  >)
  .strip();
export type LinkMetrics = Partial<Record<LinkMetricKey, TimedValue>>;

/** One directed link as the agent reports it on /api/v1/links. */
export const linkReportSchema = z.object({
  source: z.string().min(1),
  target: z.string().min(1),
  network: z.string().min(1),
  /** Overlay address of the target that was probed. */
  address: z.string().optional(),
  metrics: linkMetricsSchema,
  /** Latest outcome per measurement type, successes and failures alike. */
  lastResults: z
    .record(
      z.string(),
      z.object({ result: z.enum(MEASUREMENT_RESULTS), timestamp: z.number(), error: z.string().optional() }),
    )
    .default({}),
});
export type LinkReport = z.infer<typeof linkReportSchema>;

/** Body of GET /api/v1/links on an agent. */
export const linksReportSchema = z.object({
  node: z.string().min(1),
  network: z.string().min(1),
  /** Unix time (seconds) the report was produced. */
  generatedAt: z.number(),
  links: z.array(linkReportSchema),
});
export type LinksReport = z.infer<typeof linksReportSchema>;
