// The rules between a runner's outcome and what the agent exports: record mapping, the result
// store behind /api/v1/links, and the Prometheus series built from it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/metrics.js';
import { ResultStore } from '../../agent/results.js';
import { linksReportSchema } from '../../src/linkMetrics.js';
import { recordFromIperf3, recordFromPing } from '../../agent/measurementRecord.js';
import { parseIperf3Output } from '../../agent/tools/iperf3Output.js';
import { parsePingOutput } from '../../agent/tools/pingOutput.js';

const capture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/tools/${name}.json`, import.meta.url), 'utf8')) as {
    stdout: string;
    stderr: string;
    exitCode: number;
  };
const ping = (name: string, t: number) => recordFromPing(parsePingOutput(capture(name)), t);
const iperf = (name: string, t: number, type: 'bandwidth' | 'udp-jitter' = 'bandwidth') =>
  recordFromIperf3(type, parseIperf3Output(capture(name).stdout, type === 'bandwidth' ? 'tcp' : 'udp'), t);

function setup() {
  const store = new ResultStore(3);
  const metrics = new AgentMetrics(store, () => ({ node: 'node-a', network: 'net1' }));
  const save = (target: string, rec: ReturnType<typeof ping>) => {
    store.record(target, '10.0.0.2', rec);
    metrics.observe(target, rec);
  };
  const scrape = async () => metrics.registry.metrics();
  return { store, metrics, save, scrape };
}

const LINK = 'source_node="node-a",target_node="node-b",network="net1"';

describe('measurement records', () => {
  it('ping success sets every RTT gauge and the loss', () => {
    const r = ping('ping-success', 100);
    expect(r.result).toBe('success');
    expect(Object.keys(r.values).sort()).toEqual(
      ['jitter_seconds', 'packet_loss_ratio', 'rtt_max_seconds', 'rtt_min_seconds', 'rtt_seconds'].sort(),
    );
    expect(r.samples).toHaveLength(5);
  });

  it('unreachable and 100% loss: loss 1, RTT gauges cleared', () => {
    for (const name of ['ping-total-loss', 'ping-host-unreachable', 'ping-network-unreachable']) {
      const r = ping(name, 100);
      expect(r.values).toEqual({ packet_loss_ratio: 1 });
      expect(r.clear).toEqual(expect.arrayContaining(['rtt_seconds', 'rtt_min_seconds', 'rtt_max_seconds', 'jitter_seconds']));
    }
  });

  it('a ping that could not run changes no gauge', () => {
    const r = ping('ping-bad-source', 100);
    expect(r).toMatchObject({ result: 'error', values: {}, clear: [] });
  });

  it('iperf3 outcomes map to results; only success carries a value', () => {
    expect(iperf('iperf3-tcp-success', 1)).toMatchObject({ result: 'success', values: { bandwidth_bytes_per_second: expect.any(Number) } });
    expect(iperf('iperf3-busy', 1)).toMatchObject({ result: 'busy', values: {} });
    expect(iperf('iperf3-refused', 1)).toMatchObject({ result: 'error', values: {} });
    expect(iperf('iperf3-udp-success', 1, 'udp-jitter')).toMatchObject({
      result: 'success',
      values: { jitter_seconds: expect.any(Number), packet_loss_ratio: 0 },
    });
  });
});

describe('result store and metrics', () => {
  it('exports the GUIDE names and labels, and /api/v1/links agrees with /metrics', async () => {
    const { store, save, scrape } = setup();
    save('node-b', ping('ping-success', 1000));
    save('node-b', iperf('iperf3-tcp-success', 1001));
    save('node-b', iperf('iperf3-busy', 1002));
    const text = await scrape();
    const report = linksReportSchema.parse(store.report('node-a', 'net1', 1003));
    const link = report.links[0]!;
    expect(link.metrics.rtt_seconds).toEqual({ value: 0.00009, timestamp: 1000 });
    expect(text).toContain(`lpm_link_rtt_seconds{${LINK}} 0.00009`);
    expect(text).toContain(`lpm_link_packet_loss_ratio{${LINK}} 0`);
    expect(text).toContain(`lpm_link_bandwidth_bytes_per_second{${LINK}} ${link.metrics.bandwidth_bytes_per_second!.value}`);
    expect(text).toContain(`lpm_link_last_measurement_timestamp_seconds{${LINK},metric="rtt"} 1000`);
    expect(text).toContain(`lpm_link_last_measurement_timestamp_seconds{${LINK},metric="bandwidth"} 1001`);
    expect(text).toContain(`lpm_measurements_total{${LINK},metric="bandwidth",result="busy"} 1`);
    expect(text).toContain(`lpm_probe_rtt_seconds_count{${LINK}} 5`);
    expect(text).toMatch(/lpm_build_info\{version="[^"]+"\} 1/);
    expect(link.lastResults.bandwidth).toMatchObject({ result: 'busy', timestamp: 1002 });
  });

  it('an unreachable run removes the old RTT series instead of leaving a stale value', async () => {
    const { store, save, scrape } = setup();
    save('node-b', ping('ping-success', 1000));
    save('node-b', ping('ping-host-unreachable', 1010));
    const text = await scrape();
    expect(text).not.toMatch(/^lpm_link_rtt_seconds\{/m);
    expect(text).not.toMatch(/^lpm_link_rtt_min_seconds\{/m);
    expect(text).not.toMatch(/^lpm_link_jitter_seconds\{/m);
    expect(text).toContain(`lpm_link_packet_loss_ratio{${LINK}} 1`);
    const m = store.report('node-a', 'net1').links[0]!.metrics;
    expect(m.rtt_seconds).toBeUndefined();
    expect(m.packet_loss_ratio).toEqual({ value: 1, timestamp: 1010 });
  });

  it('a peer that leaves loses every series', async () => {
    const { store, metrics, save, scrape } = setup();
    save('node-b', ping('ping-success', 1000));
    save('node-c', ping('ping-success', 1000));
    store.remove('node-b');
    metrics.forget('node-b');
    const text = await scrape();
    expect(text).not.toContain('target_node="node-b"');
    expect(text).toContain('target_node="node-c"');
    expect(store.report('node-a', 'net1').links.map((l) => l.target)).toEqual(['node-c']);
  });

  it('keeps a short history per type', () => {
    const { store, save } = setup();
    for (let t = 1; t <= 5; t++) save('node-b', ping('ping-success', t));
    const h = store.history('node-a', 'net1').links[0]!.history.rtt!;
    expect(h.map((e) => e.timestamp)).toEqual([3, 4, 5]);
    store.setHistorySize(1);
    expect(store.history('node-a', 'net1').links[0]!.history.rtt!.map((e) => e.timestamp)).toEqual([5]);
  });
});
