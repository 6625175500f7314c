// The agent's Prometheus registry. Link gauges are filled from the result store at scrape time,
// so a target that left (removed from the store) has no series left; counters and the histogram
// are updated as runs finish and their series are removed explicitly when a target leaves.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LINK_METRIC_KEYS, MEASUREMENT_RESULTS, MEASUREMENT_TYPES, promName, type LinkMetricKey } from '../src/linkMetrics.js';
import type { MeasurementRecord } from './measurementRecord.js';
import { VERSION } from '../src/version.js';
import type { ResultStore } from './results.js';

const LINK_LABELS = ['source_node', 'target_node', 'network'] as const;

const HELP: Record<LinkMetricKey, string> = {
  rtt_seconds: 'Round-trip time: the median of the latest ping runs\' means (window.runs, default 5).',
  rtt_min_seconds: 'Lowest round-trip time of the ping runs lpm_link_rtt_seconds is computed from.',
  rtt_max_seconds: 'Highest round-trip time of the ping runs lpm_link_rtt_seconds is computed from.',
  jitter_seconds: 'Jitter: the median ping mdev over the latest runs with window.probes requests, or iperf3 UDP jitter.',
  packet_loss_ratio: 'Packet loss (0..1): lost / sent over the latest ping runs with window.probes requests, or the latest iperf3 UDP run.',
  bandwidth_bytes_per_second: 'Throughput received by the target in the latest iperf3 TCP test, bytes per second.',
};

/** RTT buckets from 50µs (same rack) to 2.5s (a broken link). */
export const PROBE_RTT_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly measurements: Counter<string>;
  private readonly probeRtt: Histogram<string>;
  readonly iperf3ServerRestarts: Counter<string>;
  readonly iperf3ServerUp: Gauge<string>;
  readonly configReloads: Counter<string>;
  readonly targets: Gauge<string>;

  constructor(
    store: ResultStore,
    private readonly labels: () => { node: string; network: string },
  ) {
    const reg = this.registry;
    for (const key of LINK_METRIC_KEYS) {
      const self = this;
      new Gauge({
        name: promName(key),
        help: HELP[key],
        labelNames: LINK_LABELS,
        registers: [reg],
        collect() {
          this.reset();
          const { node, network } = self.labels();
          for (const [target, link] of store.entries()) {
            const v = link.metrics[key];
            if (v) this.set({ source_node: node, target_node: target, network }, v.value);
          }
        },
      });
    }
    const labelsOf = this.labels;
    new Gauge({
      name: 'lpm_link_last_measurement_timestamp_seconds',
      help: 'Unix time of the latest successful measurement of each type (metric = rtt, bandwidth, udp-jitter).',
      labelNames: [...LINK_LABELS, 'metric'],
      registers: [reg],
      collect() {
        this.reset();
        const { node, network } = labelsOf();
        for (const [target, link] of store.entries())
          for (const [metric, ts] of Object.entries(link.lastSuccess))
            if (ts !== undefined) this.set({ source_node: node, target_node: target, network, metric }, ts);
      },
    });
    this.probeRtt = new Histogram({
      name: 'lpm_probe_rtt_seconds',
      help: 'Round-trip time of every ping reply.',
      labelNames: LINK_LABELS,
      buckets: PROBE_RTT_BUCKETS,
      registers: [reg],
    });
    this.measurements = new Counter({
      name: 'lpm_measurements_total',
      help: 'Measurement runs by type (metric) and outcome (result = success, busy, timeout, error).',
      labelNames: [...LINK_LABELS, 'metric', 'result'],
      registers: [reg],
    });
    new Gauge({ name: 'lpm_build_info', help: 'Always 1; the version label says which lpm runs.', labelNames: ['version'], registers: [reg] }).set(
      { version: VERSION },
      1,
    );
    this.iperf3ServerRestarts = new Counter({
      name: 'lpm_iperf3_server_restarts_total',
      help: 'Times the local iperf3 server exited and was started again.',
      registers: [reg],
    });
    this.iperf3ServerUp = new Gauge({
      name: 'lpm_iperf3_server_up',
      help: '1 while the local iperf3 server is listening.',
      registers: [reg],
    });
    this.configReloads = new Counter({
      name: 'lpm_config_reloads_total',
      help: 'Config file reloads by result (success, error).',
      labelNames: ['result'],
      registers: [reg],
    });
    this.targets = new Gauge({ name: 'lpm_targets', help: 'Targets (nodes to measure) this agent currently knows.', registers: [reg] });
    collectDefaultMetrics({ register: reg });
  }

  /** Counts a finished run (every busy retry counts once) and feeds the RTT histogram. */
  observe(target: string, rec: MeasurementRecord): void {
    const { node, network } = this.labels();
    const link = { source_node: node, target_node: target, network };
    // Every result starts at 0 so error ratios and `result!="success"` panels have a series to
    // show (a counter that appears only on its first error makes rate() miss that first error).
    for (const result of MEASUREMENT_RESULTS) this.measurements.inc({ ...link, metric: rec.type, result }, 0);
    this.measurements.inc({ ...link, metric: rec.type, result: rec.result });
    for (const s of rec.samples) this.probeRtt.observe(link, s);
  }

  /** Drops every counter/histogram series of a target that left (gauges follow the store by themselves). */
  forget(target: string, network = this.labels().network): void {
    const { node } = this.labels();
    const link = { source_node: node, target_node: target, network };
    this.probeRtt.remove(link);
    for (const metric of MEASUREMENT_TYPES)
      for (const result of MEASUREMENT_RESULTS) this.measurements.remove({ ...link, metric, result });
  }

  /** Drops all link series (the network label changed). */
  resetLinks(): void {
    this.probeRtt.reset();
    this.measurements.reset();
  }
}
