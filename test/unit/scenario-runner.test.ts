// Pure parts of the scenario runner: the sim link matrix, the spread score, the driver without
// an extender, expectation checks, percentiles, the netmarks switch, cluster pod manifests and
// lab service specs. The extender path itself is tested over HTTP in scenarios-sim.test.ts.
import { describe, expect, it } from 'vitest';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { resolvePeers } from '../../extender/peers/peerAnnotations.js';
import { scenarioSchema, type Expectation } from '../../scenarios/scenarioFile.js';
import { evaluate } from '../../extender/scoring/scoring.js';
import { scoringConfig } from '../../extender/config.js';
import { topologySchema } from '../../scenarios/topology.js';
import { clusterPod, podOutcome } from '../../scenarios/runner/clusterPods.js';
import { SchedulingDriver } from '../../scenarios/runner/driver.js';
import { checkExpectations } from '../../scenarios/runner/expectations.js';
import { serviceSpecs, BASE_PORT } from '../../scenarios/runner/labWorkload.js';
import { percentile } from '../../scenarios/runner/percentiles.js';
import { spreadScore } from '../../scenarios/runner/spread.js';
import { applyLinkChange, pairMetrics, topologyMatrix, UNLIMITED_BANDWIDTH } from '../../scenarios/runner/topologyMatrix.js';
import { placementExtenderConfig } from '../../scenarios/runner/variants.js';
import { planLab } from '../../scenarios/lab/plan.js';

const topo = topologySchema.parse({
  name: 'st',
  nodes: ['a', 'b', 'c'],
  links: [
    { from: 'a', to: 'b', delay: '5ms', rate: '10Mbps', loss: '10%' },
    { from: 'b', to: 'a', delay: '7ms', rate: '20Mbps' },
    { from: 'a', to: 'c', delay: '1ms' },
  ],
});

describe('sim link matrix', () => {
  it('measures what the agents would: round-trip delay, slower rate, loss of either direction', () => {
    const p = pairMetrics(topo.links, 'a', 'b')!;
    expect(p.rtt).toBeCloseTo(0.012);
    expect(p.bandwidth).toBe(10e6 / 8);
    expect(p.loss).toBeCloseTo(0.1);
    expect(pairMetrics(topo.links, 'a', 'c')!.bandwidth).toBe(UNLIMITED_BANDWIDTH);
    expect(pairMetrics(topo.links, 'b', 'c')).toBeUndefined();
    const m = topologyMatrix(topo, 1000);
    expect(m.lookup('b', 'a', 'rtt_seconds', 1000, 30)).toMatchObject({ status: 'fresh', value: 0.012 });
    expect(m.lookup('b', 'c', 'rtt_seconds', 1000, 30).status).toBe('unknown');
  });

  it('applies a link change to a copy', () => {
    const changed = applyLinkChange(topo.links, { from: 'a', to: 'c', both: true, patch: { delay: 0.05 } });
    expect(pairMetrics(changed, 'a', 'c')!.rtt).toBeCloseTo(0.1);
    expect(pairMetrics(topo.links, 'a', 'c')!.rtt).toBeCloseTo(0.002);
  });
});

describe('spread and the driver without an extender', () => {
  it('scores 0..100 by free room', () => {
    expect(spreadScore(0, 10)).toBe(100);
    expect(spreadScore(3, 10)).toBe(70);
    expect(spreadScore(12, 10)).toBe(0);
  });

  it('spreads, breaks ties by name, respects capacity and pre-placement', async () => {
    const d = new SchedulingDriver({ nodes: ['b', 'a', 'c'], weight: 5, spreadWeight: 1, podsPerNode: 1, capacity: { c: 0 }, schedulerName: 'x' });
    const pod = (name: string, nodeName?: string) => ({ namespace: 'default', name, labels: {}, annotations: {}, ...(nodeName ? { nodeName } : {}) });
    expect(await d.schedule(pod('fixed', 'b'))).toMatchObject({ node: 'b', preplaced: true });
    const second = await d.schedule(pod('p1'));
    expect(second.node).toBe('a'); // the only node with room: no scoring
    expect(second.filtered).toEqual({ b: 'node is full (1/1 pods)', c: 'node is full (0/0 pods)' });
    expect(await d.schedule(pod('p2'))).toMatchObject({ node: null, reason: 'no node has room' });
    const e = new SchedulingDriver({ nodes: ['z', 'y'], weight: 5, spreadWeight: 1, podsPerNode: 4, schedulerName: 'x' });
    expect((await e.schedule(pod('q1'))).node).toBe('y');
    expect((await e.schedule(pod('q2'))).node).toBe('z');
  });
});

describe('expectations', () => {
  const where = new Map<string, string | null>([
    ['d/x', 'a'],
    ['d/y', 'a'],
    ['d/z', null],
  ]);
  const check = (e: Expectation) => checkExpectations([e], (_p, pod) => where.get(pod))[0]!;
  it.each<[Expectation, boolean]>([
    [{ kind: 'on', pod: 'd/x', nodes: ['a'], placement: 'lpm' }, true],
    [{ kind: 'on', pod: 'd/x', nodes: ['b'], placement: 'lpm' }, false],
    [{ kind: 'notOn', pod: 'd/x', nodes: ['b'], placement: 'lpm' }, true],
    [{ kind: 'notOn', pod: 'd/z', nodes: ['b'], placement: 'lpm' }, false],
    [{ kind: 'onOneOf', pod: 'd/y', nodes: ['b', 'a'], placement: 'lpm' }, true],
    [{ kind: 'unschedulable', pod: 'd/z', placement: 'lpm' }, true],
    [{ kind: 'unschedulable', pod: 'd/x', placement: 'lpm' }, false],
    [{ kind: 'scheduled', pod: 'd/z', placement: 'lpm' }, false],
    [{ kind: 'colocated', pods: ['d/x', 'd/y'], placement: 'lpm' }, true],
    [{ kind: 'colocated', pods: ['d/x', 'd/z'], placement: 'lpm' }, false],
    [{ kind: 'notColocated', pods: ['d/x', 'd/y'], placement: 'lpm' }, false],
  ])('%j -> %s', (e, ok) => {
    expect(check(e).ok).toBe(ok);
  });
  it('says what happened instead', () => {
    expect(check({ kind: 'on', pod: 'd/z', nodes: ['a'], placement: 'netmarks' })).toEqual({
      text: 'd/z on a [netmarks placement]',
      ok: false,
      detail: 'd/z is unschedulable',
    });
  });
});

describe('percentile', () => {
  it('is nearest-rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
    expect(percentile([3], 95)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('the netmarks placement', () => {
  it('switches link quality off: peers count only on their own node, every other node scores 0', () => {
    const s = parseYamlConfig(
      `
topology: { name: st, nodes: [a, b, c], links: [{ from: a, to: b, delay: 1ms }, { from: a, to: c, delay: 40ms }] }
workloads: [{ name: x }]
`,
      scenarioSchema,
      's.yaml',
    );
    const pod = { namespace: 'default', name: 'p', labels: {}, annotations: { 'lpm.l2sm.io/peers': 'app=f;app=s', 'lpm.l2sm.io/peer-weights': 'app=f: 80; app=s: 160' } };
    const others = [
      { namespace: 'default', name: 'f', labels: { app: 'f' }, annotations: {}, nodeName: 'a' },
      { namespace: 'default', name: 's', labels: { app: 's' }, annotations: {}, nodeName: 'b' },
    ];
    const run = (name: 'lpm' | 'netmarks') =>
      evaluate({
        candidates: ['a', 'b', 'c'],
        peers: resolvePeers(pod, others, {}),
        limits: { warnings: [] },
        matrix: topologyMatrix(s.topology, 1000),
        now: 1000,
        config: scoringConfig(placementExtenderConfig(s.extenderConfig, name)!),
      }).nodes.map((n) => [n.node, Math.round(n.raw)]);
    expect(run('netmarks')).toEqual([['a', 80], ['b', 160], ['c', 0]]);
    expect(run('lpm')[2]![1]).toBeGreaterThan(0);
    expect(placementExtenderConfig(s.extenderConfig, 'default')).toBeUndefined();
  });
});

describe('cluster pods', () => {
  it('go to the scenario scheduler unless pre-placed, labelled for cleanup', () => {
    const s = { scheduler: { weight: 5, spreadWeight: 1, podsPerNode: 10, capacity: {}, schedulerName: 'lpm-scheduler' } };
    const p = clusterPod({ namespace: 'ns', name: 'web', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, s, 'demo');
    expect(p.spec?.schedulerName).toBe('lpm-scheduler');
    expect(p.spec?.nodeName).toBeUndefined();
    expect(p.metadata?.labels).toEqual({ app: 'web', 'lpm.l2sm.io/scenario': 'demo' });
    expect(p.metadata?.annotations).toEqual({ 'lpm.l2sm.io/peers': 'app=db' });
    const fixed = clusterPod({ namespace: 'ns', name: 'db', labels: {}, annotations: {}, nodeName: 'n1' }, s, 'demo');
    expect(fixed.spec?.nodeName).toBe('n1');
    expect(fixed.spec?.schedulerName).toBeUndefined();
  });

  it('reads the outcome from spec.nodeName and the PodScheduled condition', () => {
    expect(podOutcome({ spec: { nodeName: 'n1', containers: [] } })).toEqual({ state: 'scheduled', node: 'n1' });
    expect(
      podOutcome({ spec: { containers: [] }, status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes' }] } }),
    ).toEqual({ state: 'unschedulable', message: '0/3 nodes' });
    expect(podOutcome({ spec: { containers: [] }, status: { phase: 'Pending' } })).toEqual({ state: 'pending' });
  });
});

describe('lab service specs', () => {
  it('wire each placed pod to its callees on their overlay addresses and drop calls to unplaced pods', () => {
    const plan = planLab(topo, '10.251.9.0/24');
    const traffic = {
      entry: 'd/w', clients: 1, duration: 1, warmup: 0, request: 1, response: 1,
      calls: [
        { from: 'd/w', to: 'd/a', request: 10, response: 20 },
        { from: 'd/a', to: 'd/db', request: 30, response: 40 },
        { from: 'd/w', to: 'd/gone', request: 1, response: 1 },
      ],
    };
    const pods = ['d/db', 'd/a', 'd/w', 'd/gone'];
    const nodeOf = new Map<string, string | null>([['d/db', 'a'], ['d/a', 'b'], ['d/w', 'b'], ['d/gone', null]]);
    const { specs, dropped } = serviceSpecs(traffic, pods, nodeOf, plan.nodes);
    expect(dropped).toEqual(['d/w -> d/gone (d/gone is not placed)']);
    expect(specs.map((s) => [s.pod, s.node, s.port])).toEqual([['d/db', 'a', BASE_PORT], ['d/a', 'b', BASE_PORT + 1], ['d/w', 'b', BASE_PORT + 2]]);
    expect(specs[1]!.callees).toEqual([{ pod: 'd/db', url: `http://10.200.0.1:${BASE_PORT}/`, request: 30, response: 40 }]);
  });
});
