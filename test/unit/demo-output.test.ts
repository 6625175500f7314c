// The demo's pure parts: the shipped topology, sweep counting, the terminal tables and the
// "where and why" lines (their input shapes are the driver's Placement and the decision log's).
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../extender/decisionLog.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { Placement } from '../../scenarios/runner/driver.js';
import { CleanupStack } from '../../scenarios/demo/cleanup.js';
import { explainPlacement } from '../../scenarios/demo/explain.js';
import { configuredTables, matrixTables, withinTolerance } from '../../scenarios/demo/matrixTable.js';
import { measurementIntervals } from '../../scenarios/demo/run.js';
import { sweepDone, sweepProgress } from '../../scenarios/demo/sweep.js';
import { configuredMatrix, demoTopologyFile, loadDemoTopology, measuredPairs } from '../../scenarios/demo/topology.js';

describe('demo topology', () => {
  it('has 4 nodes, every pair linked both ways, fast agent intervals, and takes another lab name', async () => {
    const t = await loadDemoTopology(demoTopologyFile(), 'wunit');
    expect(t.name).toBe('wunit');
    expect(t.nodes.map((n) => n.name)).toEqual(['edge-a', 'edge-b', 'core', 'cloud']);
    expect(measuredPairs(t)).toHaveLength(12);
    expect(measurementIntervals(t)).toEqual({ rtt: 3, bandwidth: 30 });
    const m = configuredMatrix(t, 1000);
    expect(m.get('edge-a', 'cloud')?.rtt_seconds?.value).toBeCloseTo(0.04);
    expect(m.get('cloud', 'edge-a')?.bandwidth_bytes_per_second?.value).toBe(10e6 / 8);
  });

  it('rejects a lab name that would not fit namespace and link names', async () => {
    await expect(loadDemoTopology(demoTopologyFile(), 'Bad-Name')).rejects.toThrow(/--lab: "Bad-Name"/);
  });
});

describe('sweep progress', () => {
  it('counts pairs with RTT and with bandwidth', () => {
    const m = new LinkMatrix(100);
    m.set('a', 'b', 'rtt_seconds', { value: 0.004, timestamp: 99 });
    m.set('b', 'a', 'rtt_seconds', { value: 0.004, timestamp: 99 });
    m.set('a', 'b', 'bandwidth_bytes_per_second', { value: 1e6, timestamp: 99 });
    const pairs: Array<[string, string]> = [['a', 'b'], ['b', 'a']];
    const p = sweepProgress(m, pairs);
    expect(p).toEqual({ rtt: 2, bandwidth: 1, total: 2 });
    expect(sweepDone(p)).toBe(false);
    m.set('b', 'a', 'bandwidth_bytes_per_second', { value: 1e6, timestamp: 99 });
    expect(sweepDone(sweepProgress(m, pairs))).toBe(true);
    expect(sweepProgress(undefined, pairs)).toEqual({ rtt: 0, bandwidth: 0, total: 2 });
  });
});

describe('matrix tables', () => {
  const configured = new LinkMatrix(1);
  configured.set('a', 'b', 'rtt_seconds', { value: 0.04, timestamp: 1 });
  configured.set('a', 'b', 'bandwidth_bytes_per_second', { value: 10e6 / 8, timestamp: 1 });
  const measured = new LinkMatrix(1);
  measured.set('a', 'b', 'rtt_seconds', { value: 0.0407, timestamp: 1 });

  it('puts each measured value next to the configured one, ? when not measured, n/a when not linked', () => {
    const text = matrixTables(['a', 'b'], measured, configured);
    expect(text).toContain('Round-trip time, measured (configured):');
    expect(text).toMatch(/a\s+-\s+40\.7 ms \(40\.0 ms\)/);
    expect(text).toMatch(/b\s+\? \(n\/a\)\s+-/);
    expect(text).toContain('? (10.0 Mb/s)');
  });

  it('counts the pairs within tolerance and marks the others', () => {
    const m = new LinkMatrix(1);
    m.set('a', 'b', 'rtt_seconds', { value: 0.0407, timestamp: 1 }); // 40 ms ± 2 ms: within
    m.set('b', 'a', 'rtt_seconds', { value: 0.0431, timestamp: 1 }); // 3.1 ms over: out
    m.set('a', 'b', 'bandwidth_bytes_per_second', { value: (9.4e6 / 8), timestamp: 1 }); // 9.4 of 10 Mbit/s: within
    m.set('b', 'a', 'bandwidth_bytes_per_second', { value: (7e6 / 8), timestamp: 1 }); // 7 of 10: out
    const c = new LinkMatrix(1);
    for (const [x, y] of [['a', 'b'], ['b', 'a']] as const) {
      c.set(x, y, 'rtt_seconds', { value: 0.04, timestamp: 1 });
      c.set(x, y, 'bandwidth_bytes_per_second', { value: 10e6 / 8, timestamp: 1 });
    }
    const text = matrixTables(['a', 'b'], m, c);
    expect(text).toContain('43.1 ms! (40.0 ms)');
    expect(text).toContain('7.0 Mb/s! (10.0 Mb/s)');
    expect(text).toContain('40.7 ms (40.0 ms)');
    expect(text).toContain('Within tolerance: RTT 1/2 pairs (max(0.5 ms, 5 %)), bandwidth 1/2 pairs (10 % of the rate less 5 % VXLAN overhead); "!" marks the others');
    expect(withinTolerance('rtt_seconds', 0.0024, 0.002)).toBe(true); // 0.5 ms floor
    expect(withinTolerance('rtt_seconds', 0.0026, 0.002)).toBe(false);
  });

  it('sim mode prints one value per cell', () => {
    const text = configuredTables(['a', 'b'], configured);
    expect(text).toMatch(/a\s+-\s+40\.0 ms/);
    expect(text).toContain('10.0 Mb/s');
  });
});

describe('explainPlacement', () => {
  const base = { time: '2026-01-01T00:00:00Z', mode: 'nodeNames' as const, outcome: 'scored' as const, durationSeconds: 0, warnings: [] as string[] };
  const filter: Decision = {
    ...base, id: 1, verb: 'filter', pod: 'demo/tracker', candidates: 3, limits: 'min-bandwidth 25Mbps', passed: 2, chosen: null,
    peers: [{ id: 'demo/detector', node: 'edge-a', weight: 1, via: [], weightFrom: 'default' }],
    nodes: [{ node: 'cloud', raw: 0.1, score: 0, unknown: 0, stale: 0, filtered: 'lpm: bandwidth too low', links: ['edge-a ...'] }],
  };
  const prioritize: Decision = {
    ...filter, id: 2, verb: 'prioritize', chosen: 'edge-b',
    nodes: [{ node: 'edge-b', raw: 0.5, score: 10, unknown: 0, stale: 0, links: ['edge-a [demo/detector] weight 1: rtt 4ms, bandwidth 45Mbps, quality 0.5'] }],
  };
  const placement: Placement = {
    pod: 'demo/tracker', node: 'edge-b',
    filtered: { 'edge-a': 'node is full (2/2 pods)', cloud: 'lpm: bandwidth too low' },
    scores: [{ node: 'edge-b', extender: 10, spread: 100, total: 600 }, { node: 'core', extender: 7, spread: 100, total: 450 }],
  };

  it('says where the pod goes, its peers and limits, the scores, the deciding links and the filtered nodes', () => {
    const lines = explainPlacement(placement, [prioritize, filter]);
    expect(lines[0]).toBe('  demo/tracker -> edge-b');
    expect(lines).toContain('      peers: demo/detector on edge-a (weight 1); limits: min-bandwidth 25Mbps');
    expect(lines).toContain('      scores: edge-b 10/10 (total 600), core 7/10 (total 450)');
    expect(lines).toContain('      why: edge-a [demo/detector] weight 1: rtt 4ms, bandwidth 45Mbps, quality 0.5');
    expect(lines).toContain('      filtered cloud: lpm: bandwidth too low');
  });

  it('a pre-placed pod is one line; an unschedulable one says why', () => {
    expect(explainPlacement({ pod: 'demo/camera', node: 'edge-a', preplaced: true, filtered: {}, scores: [] }, [])).toEqual([
      '  demo/camera already runs on edge-a',
    ]);
    const lines = explainPlacement({ pod: 'demo/x', node: null, reason: 'the extender filtered every node', filtered: {}, scores: [] }, []);
    expect(lines[0]).toBe('  demo/x -> unschedulable (the extender filtered every node)');
  });
});

describe('CleanupStack', () => {
  it('undoes newest first, once, and reports failures without stopping', async () => {
    const order: string[] = [];
    const c = new CleanupStack();
    c.push('lab', async () => order.push('lab'));
    c.push('extender', async () => {
      order.push('extender');
      throw new Error('boom');
    });
    c.push('prometheus', async () => order.push('prometheus'));
    const [a, b] = await Promise.all([c.run(), c.run()]);
    expect(order).toEqual(['prometheus', 'extender', 'lab']);
    expect(a).toEqual(['extender: boom']);
    expect(b).toBe(a);
  });
});
