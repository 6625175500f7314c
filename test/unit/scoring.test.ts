import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { resolvePeers, type ResolvedPeers } from '../../extender/peers/peerAnnotations.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { parsePodLimits } from '../../extender/scoring/podLimits.js';
import {
  bandwidthQuality,
  DEFAULT_SCORING,
  evaluate,
  explainNode,
  rttQuality,
  scaleScores,
  type ScoringConfig,
} from '../../extender/scoring/scoring.js';

const NOW = 1_800_000_000;
const cfg: ScoringConfig = { ...DEFAULT_SCORING, rttMaxAge: 30, bandwidthMaxAge: 900 };

function link(m: LinkMatrix, s: string, t: string, rtt: number, bw: number, age = 0) {
  m.set(s, t, 'rtt_seconds', { value: rtt, timestamp: NOW - age });
  m.set(s, t, 'bandwidth_bytes_per_second', { value: bw, timestamp: NOW - age });
}

const placed = (name: string, node: string, labels: Record<string, string> = { app: name }): PodInfo => ({
  namespace: 'default',
  name,
  labels,
  annotations: {},
  nodeName: node,
});

describe('quality components', () => {
  it('are monotone: RTT up -> worse, bandwidth up -> better, both in [0, 1], 1/2 at the reference', () => {
    expect(rttQuality(0.01, 0.01)).toBe(0.5);
    expect(bandwidthQuality(12.5e6, 12.5e6)).toBe(0.5);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(rttQuality(lo, 0.01)).toBeGreaterThanOrEqual(rttQuality(hi, 0.01));
        expect(bandwidthQuality(lo * 1e9, 12.5e6)).toBeLessThanOrEqual(bandwidthQuality(hi * 1e9, 12.5e6));
        for (const q of [rttQuality(a, 0.01), bandwidthQuality(a * 1e9, 12.5e6)]) {
          expect(q).toBeGreaterThanOrEqual(0);
          expect(q).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('scaleScores gives integers 0..10, 10 for the best, keeping the order', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), (raws) => {
        const nodes = scaleScores(raws.map((raw) => ({ raw, score: -1 })));
        for (const n of nodes) {
          expect(Number.isInteger(n.score)).toBe(true);
          expect(n.score).toBeGreaterThanOrEqual(0);
          expect(n.score).toBeLessThanOrEqual(10);
        }
        if (Math.max(...raws) > 0) expect(Math.max(...nodes.map((n) => n.score))).toBe(10);
        for (const a of nodes) for (const b of nodes) if (a.raw > b.raw) expect(a.score).toBeGreaterThanOrEqual(b.score);
      }),
    );
  });
});

describe('NetMARKS seed example', () => {
  // F, W, S on nodes 1-3, node 4 empty; traffic with P: F 30+50, W 40+70, S 60+100 (bytes in+out).
  const P: PodInfo = {
    namespace: 'default',
    name: 'p',
    labels: { app: 'p' },
    annotations: { 'lpm.l2sm.io/peers': 'app in (f,w,s)', 'lpm.l2sm.io/peer-weights': 'app=f: 80; app=w: 110; app=s: 160' },
  };
  const pods = [placed('f', 'node1'), placed('w', 'node2'), placed('s', 'node3')];
  // NetMARKS' quality: 1 on the same node, 0 elsewhere (no link data, unknown counts 0)
  const netmarks = { ...cfg, unknownQuality: 0 };

  it('ranks node3 > node2 > node1 > node4 with scores proportional to 160:110:80:0', () => {
    const ev = evaluate({
      candidates: ['node1', 'node2', 'node3', 'node4'],
      peers: resolvePeers(P, pods),
      limits: parsePodLimits({}),
      matrix: new LinkMatrix(NOW),
      now: NOW,
      config: netmarks,
    });
    expect(ev.outcome).toBe('scored');
    expect(ev.nodes.map((n) => n.raw)).toEqual([80, 110, 160, 0]);
    expect(ev.nodes.map((n) => n.score)).toEqual([5, 7, 10, 0]);
    for (const n of ev.nodes) expect(Math.abs(n.score - (10 * n.raw) / 160)).toBeLessThanOrEqual(0.5);
  });
});

describe('link-aware scoring and filtering', () => {
  // peers on node A; candidate B: 2 ms / 1 Gbit/s to A; C: 40 ms / 50 Mbit/s to A
  const db = [placed('db-0', 'A', { app: 'db' }), placed('db-1', 'A', { app: 'db' })];
  const web = (annotations: Record<string, string> = {}): PodInfo => ({
    namespace: 'default',
    name: 'web',
    labels: { app: 'web' },
    annotations: { 'lpm.l2sm.io/peers': 'app=db', ...annotations },
  });
  const matrix = (cAge = 0) => {
    const m = new LinkMatrix(NOW);
    link(m, 'B', 'A', 0.002, 125e6);
    link(m, 'C', 'A', 0.04, 6.25e6, cAge);
    return m;
  };
  const run = (pod: PodInfo, m: LinkMatrix | undefined, candidates = ['B', 'C'], peers?: ResolvedPeers) =>
    evaluate({
      candidates,
      peers: peers ?? resolvePeers(pod, db),
      limits: parsePodLimits(pod.annotations),
      matrix: m,
      now: NOW,
      config: cfg,
    });

  it('B (fast link) scores higher than C (slow link); co-location on A scores highest', () => {
    const ev = run(web(), matrix(), ['A', 'B', 'C']);
    const [a, b, c] = ev.nodes;
    expect(a!.raw).toBe(2); // two peers, quality 1
    expect(b!.raw).toBeGreaterThan(c!.raw);
    expect(b!.score).toBeGreaterThan(c!.score);
    expect(a!.score).toBe(10);
    expect(ev.nodes.every((n) => n.violations.length === 0)).toBe(true);
    expect(ev.lookups).toEqual({ fresh: 4, stale: 0, unknown: 0 });
  });

  it("reproduces the worked example of docs/extender.md: A 10, B 9, C 3; C stale 5", () => {
    expect(run(web(), matrix(), ['A', 'B', 'C']).nodes.map((n) => [n.node, Math.round(n.raw * 1000) / 1000, n.score])).toEqual([
      ['A', 2, 10],
      ['B', 1.742, 9],
      ['C', 0.533, 3],
    ]);
    expect(run(web(), matrix(3600), ['A', 'C']).nodes.map((n) => n.score)).toEqual([10, 5]);
  });

  it('max-rtt 10ms filters C with a reason, not B', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), matrix());
    expect(ev.nodes[0]!.violations).toEqual([]);
    expect(ev.nodes[1]!.violations).toEqual([
      { reason: 'max_rtt', message: expect.stringMatching(/RTT to A \(peers default\/db-0, default\/db-1\) is 40ms, over the pod's max-rtt 10ms/) },
    ]);
  });

  it('min-bandwidth 100Mbps filters C; the co-located node never fails', () => {
    const ev = run(web({ 'lpm.l2sm.io/min-bandwidth': '100Mbps' }), matrix(), ['A', 'B', 'C']);
    expect(ev.nodes.map((n) => n.violations.map((v) => v.reason))).toEqual([[], [], ['min_bandwidth']]);
  });

  it("with C's metric stale, C is neither filtered nor penalised, and the explanation says why", () => {
    const pod = web({ 'lpm.l2sm.io/max-rtt': '10ms' });
    const fresh = run(pod, matrix());
    const stale = run(pod, matrix(3600));
    const c = stale.nodes[1]!;
    expect(c.violations).toEqual([]);
    expect(c.stale).toBe(2);
    // neutral quality (unknownQuality) instead of its bad measured values
    expect(c.raw).toBeCloseTo(2 * cfg.unknownQuality);
    expect(c.raw).toBeGreaterThan(fresh.nodes[1]!.raw);
    expect(stale.lookups).toMatchObject({ stale: 2 });
    expect(explainNode(c, cfg).join('\n')).toMatch(/rtt 40ms stale: measured 60m ago, max age 30s \(neutral, not used for filtering\)/);
  });

  it('uses the reverse direction when only the peer node measured the link', () => {
    const m = new LinkMatrix(NOW);
    link(m, 'A', 'C', 0.04, 6.25e6);
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), m, ['C']);
    expect(ev.nodes[0]!.links[0]!.rtt).toMatchObject({ status: 'fresh', direction: 'reverse', value: 0.04 });
    expect(ev.nodes[0]!.violations).toHaveLength(1);
  });

  it('unknown node: neutral quality, no filtering, counted', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), matrix(), ['B', 'Z']);
    const z = ev.nodes[1]!;
    expect(z.violations).toEqual([]);
    expect(z.raw).toBeCloseTo(2 * cfg.unknownQuality);
    expect(z.unknown).toBe(2);
    expect(ev.lookups.unknown).toBe(2);
  });

  it('no matrix yet: neutral, all scores 0, no filtering', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), undefined, ['A', 'B', 'C']);
    expect(ev.outcome).toBe('neutral');
    expect(ev.neutralReason).toMatch(/no link matrix/);
    expect(ev.nodes.map((n) => [n.score, n.violations.length])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });

  it('a pod with no peers: neutral, all scores 0', () => {
    const lonely: PodInfo = { namespace: 'default', name: 'x', labels: {}, annotations: {} };
    const ev = run(lonely, matrix(), ['A', 'B', 'C']);
    expect(ev.outcome).toBe('neutral');
    expect(ev.nodes.map((n) => n.score)).toEqual([0, 0, 0]);
  });
});
