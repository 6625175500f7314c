// The original LPM's metric names, for dashboards and exporters written against it: net_rtt_ms,
// net_jitter_ms and net_throughput_kbps, in its units (ms, ms, kbit/s), labelled source_node and
// target_node. The original named one metric per link (net_rtt_ms_<fnv32 hex of source+target>);
// here there is one name per quantity, so {__name__=~"net_.*"} still matches and the labels tell
// the links apart. Values are read from the agent's result store at scrape time, like the
// lpm_link_* gauges, so the two sets always agree and a target that leaves loses both.
//   net_rtt_ms           = lpm_link_rtt_seconds x 1000 (mean of a ping run)
//   net_jitter_ms        = the latest iperf3 UDP jitter (udp-jitter) x 1000, as the original
//                          measured it; a link without UDP tests falls back to ping's mdev
//   net_throughput_kbps  = lpm_link_bandwidth_bytes_per_second x 8 / 1000 (iperf3 TCP, receiver)
import { Gauge, type Registry } from 'prom-client';
import type { ResultStore } from '../results.js';

export const COMPAT_METRIC_NAMES = ['net_rtt_ms', 'net_jitter_ms', 'net_throughput_kbps'] as const;
export type CompatMetricName = (typeof COMPAT_METRIC_NAMES)[number];

type Link = NonNullable<ReturnType<ResultStore['get']>>;

/** The latest successful udp-jitter jitter of a link (seconds), from its history. */
function udpJitter(link: Link): number | undefined {
  const list = link.history['udp-jitter'] ?? [];
  for (let i = list.length - 1; i >= 0; i--) {
    const h = list[i]!;
    if (h.result === 'success' && h.values.jitter_seconds !== undefined) return h.values.jitter_seconds;
  }
  return undefined;
}

/** The compat values of one link, in the original's units (absent: not measured). */
export function compatValues(link: Link): Partial<Record<CompatMetricName, number>> {
  const out: Partial<Record<CompatMetricName, number>> = {};
  const rtt = link.metrics.rtt_seconds?.value;
  if (rtt !== undefined) out.net_rtt_ms = rtt * 1000;
  const jitter = udpJitter(link) ?? link.metrics.jitter_seconds?.value;
  if (jitter !== undefined) out.net_jitter_ms = jitter * 1000;
  const bw = link.metrics.bandwidth_bytes_per_second?.value;
  if (bw !== undefined) out.net_throughput_kbps = (bw * 8) / 1000;
  return out;
}

const HELP: Record<CompatMetricName, string> = {
  net_rtt_ms: 'Mean round-trip time of the latest ping run, milliseconds (original LPM name; = lpm_link_rtt_seconds x 1000).',
  net_jitter_ms: 'Jitter of the latest iperf3 UDP test, milliseconds (original LPM name); ping mdev for links without UDP tests.',
  net_throughput_kbps: 'Throughput of the latest iperf3 TCP test at the receiver, kbit/s (original LPM name; = lpm_link_bandwidth_bytes_per_second x 8 / 1000).',
};

/** Registers the three gauges in `registry` while enabled; disabling removes them again. */
export class CompatMetrics {
  private gauges: Gauge<string>[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly store: ResultStore,
    private readonly node: () => string,
  ) {}

  get enabled(): boolean {
    return this.gauges.length > 0;
  }

  setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    if (!on) {
      for (const name of COMPAT_METRIC_NAMES) this.registry.removeSingleMetric(name);
      this.gauges = [];
      return;
    }
    const { store, node } = this;
    this.gauges = COMPAT_METRIC_NAMES.map(
      (name) =>
        new Gauge({
          name,
          help: HELP[name],
          labelNames: ['source_node', 'target_node'],
          registers: [this.registry],
          collect() {
            this.reset();
            const source = node();
            for (const [target, link] of store.entries()) {
              const v = compatValues(link)[name];
              if (v !== undefined) this.set({ source_node: source, target_node: target }, v);
            }
          },
        }),
    );
  }
}
