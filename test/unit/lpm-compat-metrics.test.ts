// The original LPM's metric names next to ours: one name per quantity (no per-link hash suffix,
// so {__name__=~"net_.*"} matches), its units (ms, ms, kbit/s), labels source_node/target_node,
// values read from the same store as lpm_link_*; on and off at runtime.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CompatMetrics, compatValues } from '../../agent/lpmCompat/compatMetrics.js';
import type { MeasurementRecord } from '../../agent/measurementRecord.js';
import { ResultStore } from '../../agent/results.js';
import { samples } from '../helpers/promText.js';

const rec = (r: Partial<MeasurementRecord> & Pick<MeasurementRecord, 'type' | 'values'>): MeasurementRecord => ({
  result: 'success',
  timestamp: 1_800_000_000,
  clear: [],
  samples: [],
  ...r,
});

function store(): ResultStore {
  const s = new ResultStore(20);
  s.record('node-b', '10.0.0.3', rec({ type: 'rtt', values: { rtt_seconds: 0.0085, jitter_seconds: 0.0004, packet_loss_ratio: 0 } }));
  s.record('node-b', '10.0.0.3', rec({ type: 'bandwidth', values: { bandwidth_bytes_per_second: 117_500_000 } }));
  s.record('node-b', '10.0.0.3', rec({ type: 'udp-jitter', values: { jitter_seconds: 0.0021, packet_loss_ratio: 0 } }));
  // a later failed UDP test does not hide the last measured jitter
  s.record('node-b', '10.0.0.3', rec({ type: 'udp-jitter', result: 'busy', values: {} }));
  s.record('node-c', '10.0.0.4', rec({ type: 'rtt', values: { rtt_seconds: 0.002, jitter_seconds: 0.0003, packet_loss_ratio: 0 } }));
  return s;
}

describe('compat metrics', () => {
  it('converts to the original units; UDP jitter first, ping mdev without UDP tests', () => {
    const s = store();
    const b = compatValues(s.get('node-b')!);
    expect(b.net_rtt_ms).toBeCloseTo(8.5);
    expect(b.net_jitter_ms).toBeCloseTo(2.1);
    expect(b.net_throughput_kbps).toBeCloseTo(940_000);
    const c = compatValues(s.get('node-c')!);
    expect(c.net_rtt_ms).toBeCloseTo(2);
    expect(c.net_jitter_ms).toBeCloseTo(0.3);
    expect(c.net_throughput_kbps).toBeUndefined(); // never measured: no series, not a fake 0
  });

  it('serves net_rtt_ms, net_jitter_ms, net_throughput_kbps with source_node and target_node only', async () => {
    const registry = new Registry();
    const compat = new CompatMetrics(registry, store(), () => 'node-a');
    expect(await registry.metrics()).toBe('\n');
    compat.setEnabled(true);
    const all = samples(await registry.metrics());
    expect(all.map((x) => `${x.name}{${x.labels.source_node}->${x.labels.target_node}}`).sort()).toEqual([
      'net_jitter_ms{node-a->node-b}',
      'net_jitter_ms{node-a->node-c}',
      'net_rtt_ms{node-a->node-b}',
      'net_rtt_ms{node-a->node-c}',
      'net_throughput_kbps{node-a->node-b}',
    ]);
    for (const x of all) expect(Object.keys(x.labels).sort()).toEqual(['source_node', 'target_node']);
    expect(all.every((x) => /^net_/.test(x.name) && !/_[0-9a-f]{8}$/.test(x.name))).toBe(true);
    compat.setEnabled(true); // idempotent
    compat.setEnabled(false);
    expect(samples(await registry.metrics())).toEqual([]);
    compat.setEnabled(true);
    expect(samples(await registry.metrics())).toHaveLength(5);
  });
});
