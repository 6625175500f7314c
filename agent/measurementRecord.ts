// Turns one runner outcome into what the agent stores and exports: the gauges to set, the
// gauges to drop, the result label, and the raw ping replies for the histogram. Kept pure so
// the rules ("an unreachable target has loss 1 and no RTT at all") are tested without tools.
import type { Iperf3Outcome } from './tools/iperf3Output.js';
import type { PingOutcome } from './tools/pingOutput.js';
import type { LinkMetricKey, MeasurementResult, MeasurementType } from '../src/linkMetrics.js';
import type { EstimateWindow } from './linkEstimates.js';

export interface MeasurementRecord {
  type: MeasurementType;
  result: MeasurementResult;
  /** Unix seconds the run finished. */
  timestamp: number;
  error?: string;
  /** Gauges this run sets. */
  values: Partial<Record<LinkMetricKey, number>>;
  /** Gauges this run removes (a value from an earlier run would be a lie now). */
  clear: LinkMetricKey[];
  /** Every echo reply's RTT in seconds (ping only). */
  samples: number[];
  /** Echo requests sent and replies received (ping runs that measured, even all lost). */
  probes?: { sent: number; received: number };
  /** What the exported RTT, jitter and loss are computed over (ping; see linkEstimates.ts). */
  window?: EstimateWindow;
}

const RTT_KEYS: LinkMetricKey[] = ['rtt_seconds', 'rtt_min_seconds', 'rtt_max_seconds', 'jitter_seconds'];

/** A ping run. Statistics (even 100% loss) and "unreachable" are measurements; anything else is an error. */
export function recordFromPing(outcome: PingOutcome | { kind: 'timeout'; message: string }, timestamp: number): MeasurementRecord {
  const base = { type: 'rtt' as const, timestamp, samples: [] as number[] };
  switch (outcome.kind) {
    case 'stats':
      if (outcome.rtt)
        return {
          ...base,
          result: 'success',
          values: {
            rtt_seconds: outcome.rtt.avg,
            rtt_min_seconds: outcome.rtt.min,
            rtt_max_seconds: outcome.rtt.max,
            jitter_seconds: outcome.rtt.mdev,
            packet_loss_ratio: outcome.loss,
          },
          clear: [],
          samples: outcome.replies,
          probes: { sent: outcome.transmitted, received: Math.min(outcome.received, outcome.transmitted) },
        };
      // Nothing came back: the loss is known (all of it), the RTT is not.
      return {
        ...base,
        result: 'success',
        values: { packet_loss_ratio: 1 },
        clear: RTT_KEYS,
        probes: { sent: outcome.transmitted, received: 0 },
      };
    case 'unreachable':
      return {
        ...base,
        result: 'success',
        values: { packet_loss_ratio: 1 },
        clear: RTT_KEYS,
        error: outcome.message,
        probes: { sent: 0, received: 0 },
      };
    case 'timeout':
      return { ...base, result: 'timeout', values: {}, clear: [], error: outcome.message };
    case 'error':
      return { ...base, result: 'error', values: {}, clear: [], error: outcome.message };
  }
}

/** An iperf3 run of a `bandwidth` (TCP) or `udp-jitter` (UDP) measurement. */
export function recordFromIperf3(type: 'bandwidth' | 'udp-jitter', outcome: Iperf3Outcome, timestamp: number): MeasurementRecord {
  const base = { type, timestamp, samples: [] as number[], clear: [] as LinkMetricKey[] };
  if (outcome.result !== 'success') return { ...base, result: outcome.result, values: {}, error: outcome.error };
  if (type === 'bandwidth') return { ...base, result: 'success', values: { bandwidth_bytes_per_second: outcome.bandwidth } };
  const values: MeasurementRecord['values'] = {};
  if (outcome.jitter !== undefined) values.jitter_seconds = outcome.jitter;
  if (outcome.loss !== undefined) values.packet_loss_ratio = outcome.loss;
  return { ...base, result: 'success', values };
}
