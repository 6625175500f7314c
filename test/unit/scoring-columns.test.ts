// evaluate() reads the matrix through its column layout (src/linkColumns.ts), one peer node at a
// time. On random matrices (fresh, stale, missing and down values, both directions, candidates the
// matrix does not know) it must tell the story that the scoring rules tell link by link, read here
// straight from LinkMatrix.get: the same raw score, unknown and stale counts, limit verdicts and
// per-link explanations (NodeEvaluation.links).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { ResolvedPeers } from '../../extender/peers/peerAnnotations.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import { bandwidthQuality, DEFAULT_SCORING, evaluate, rttQuality, type MetricView, type ScoringConfig } from '../../extender/scoring/scoring.js';

const NOW = 1_800_000_000;
const cfg: ScoringConfig = { ...DEFAULT_SCORING, rttMaxAge: 30, bandwidthMaxAge: 300 };
const NODES = ['a', 'b', 'c', 'd', 'e', 'f'];

const timed = (min: number, max: number) =>
  fc.record({ value: fc.double({ min, max, noNaN: true }), age: fc.constantFrom(0, 10, 40, 400) });
const link = fc.record({
  source: fc.constantFrom(...NODES),
  target: fc.constantFrom(...NODES),
  rtt: fc.option(timed(0, 0.05)),
  bw: fc.option(timed(0, 2e8)),
  loss: fc.option(fc.record({ value: fc.constantFrom(0, 0.2, 1), age: fc.constantFrom(0, 40) })),
});

type Link = typeof link extends fc.Arbitrary<infer T> ? T : never;

function build(links: readonly Link[]): LinkMatrix {
  const m = new LinkMatrix(NOW);
  for (const l of links) {
    if (l.source === l.target) continue;
    if (l.rtt) m.set(l.source, l.target, 'rtt_seconds', { value: l.rtt.value, timestamp: NOW - l.rtt.age });
    if (l.bw) m.set(l.source, l.target, 'bandwidth_bytes_per_second', { value: l.bw.value, timestamp: NOW - l.bw.age });
    if (l.loss) m.set(l.source, l.target, 'packet_loss_ratio', { value: l.loss.value, timestamp: NOW - l.loss.age });
  }
  return m;
}

// The rules, one link at a time: n->m when fresh, else m->n when fresh, else the stale one
// (n->m first), else unknown.
function pick(m: LinkMatrix, n: string, peer: string, key: LinkMetricKey, maxAge: number): MetricView {
  const f = m.get(n, peer)?.[key];
  const r = m.get(peer, n)?.[key];
  const view = (status: 'fresh' | 'stale', direction: 'forward' | 'reverse', v: { value: number; timestamp: number }): MetricView => ({
    status,
    direction,
    value: v.value,
    ageSeconds: Math.max(0, NOW - v.timestamp),
  });
  if (f && NOW - f.timestamp <= maxAge) return view('fresh', 'forward', f);
  if (r && NOW - r.timestamp <= maxAge) return view('fresh', 'reverse', r);
  if (f) return view('stale', 'forward', f);
  if (r) return view('stale', 'reverse', r);
  return { status: 'unknown' };
}

function reference(m: LinkMatrix, n: string, peers: Map<string, number>, maxRtt?: number, minBw?: number) {
  let raw = 0;
  let unknown = 0;
  let stale = 0;
  let rttBreak = false;
  let bwBreak = false;
  const views: Array<{ rtt: MetricView; bandwidth: MetricView; quality: number } | undefined> = [];
  for (const [peer, weight] of peers) {
    if (peer === n) {
      raw += weight;
      views.push(undefined);
      continue;
    }
    const rtt = pick(m, n, peer, 'rtt_seconds', cfg.rttMaxAge);
    const bandwidth = pick(m, n, peer, 'bandwidth_bytes_per_second', cfg.bandwidthMaxAge);
    const loss = pick(m, n, peer, 'packet_loss_ratio', cfg.rttMaxAge);
    for (const v of [rtt, bandwidth]) {
      if (v.status === 'unknown') unknown++;
      if (v.status === 'stale') stale++;
    }
    if (loss.status === 'fresh' && loss.value! >= 1) {
      rttBreak ||= maxRtt !== undefined;
      bwBreak ||= minBw !== undefined;
      views.push({ rtt, bandwidth, quality: 0 });
      continue;
    }
    const qR = rtt.status === 'fresh' ? rttQuality(rtt.value!, cfg.rttReference) : cfg.unknownQuality;
    const qB = bandwidth.status === 'fresh' ? bandwidthQuality(bandwidth.value!, cfg.bandwidthReference) : cfg.unknownQuality;
    const quality = (cfg.rttWeight * qR + cfg.bandwidthWeight * qB) / (cfg.rttWeight + cfg.bandwidthWeight);
    raw += weight * quality;
    rttBreak ||= maxRtt !== undefined && rtt.status === 'fresh' && rtt.value! > maxRtt;
    bwBreak ||= minBw !== undefined && bandwidth.status === 'fresh' && bandwidth.value! < minBw;
    views.push({ rtt, bandwidth, quality });
  }
  return { raw, unknown, stale, rttBreak, bwBreak, views };
}

describe('evaluate through the column layout', () => {
  it('agrees with the scoring rules applied link by link, on every candidate', () => {
    fc.assert(
      fc.property(
        fc.array(link, { maxLength: 40 }),
        fc.uniqueArray(fc.constantFrom(...NODES, 'unknown-node'), { minLength: 1 }),
        fc.array(fc.tuple(fc.constantFrom(...NODES, 'unmeasured'), fc.double({ min: 0.1, max: 10, noNaN: true })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.constantFrom(0.005, 0.02)),
        fc.option(fc.constantFrom(1e6, 5e7)),
        (links, candidates, peerNodes, maxRtt, minBw) => {
          const matrix = build(links);
          const weightByNode = new Map<string, number>();
          for (const [n, w] of peerNodes) weightByNode.set(n, (weightByNode.get(n) ?? 0) + w);
          const peers: ResolvedPeers = { peers: [], unplaced: [], weightByNode, warnings: [] };
          const limits = { ...(maxRtt !== null ? { maxRtt } : {}), ...(minBw !== null ? { minBandwidth: minBw } : {}), warnings: [] };
          const ev = evaluate({ candidates, peers, limits, matrix, now: NOW, config: cfg });
          let unknownTotal = 0;
          for (const node of ev.nodes) {
            const want = reference(matrix, node.node, weightByNode, limits.maxRtt, limits.minBandwidth);
            expect(node.raw).toBeCloseTo(want.raw, 12);
            expect(node.unknown).toBe(want.unknown);
            expect(node.stale).toBe(want.stale);
            unknownTotal += node.unknown;
            expect(node.violations.map((v) => v.reason)).toEqual([
              ...(want.rttBreak ? ['max_rtt'] : []),
              ...(want.bwBreak ? ['min_bandwidth'] : []),
            ]);
            expect(node.failed).toBe(node.violations.length > 0);
            // the explanation shows the same values
            node.links.forEach((l, i) => {
              const v = want.views[i];
              if (!v) return expect(l.rtt).toBeUndefined();
              expect(l.rtt).toEqual(v.rtt);
              expect(l.bandwidth).toEqual(v.bandwidth);
              expect(l.quality).toBeCloseTo(v.quality, 12);
            });
            expect(node.raw).toBe(node.links.reduce((sum, l) => sum + l.contribution, 0));
          }
          expect(ev.lookups.unknown).toBe(unknownTotal);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same answers on a matrix already scored at other times as on a fresh copy (the per-column slots follow the clock)', () => {
    // evaluate keeps, per peer node's column, what its links give at one time until the first
    // value turns stale; whatever the order of the times asked, nothing may differ from a matrix
    // never scored before
    const plain = (e: ReturnType<typeof evaluate>) =>
      e.nodes.map((n) => ({ node: n.node, raw: n.raw, score: n.score, unknown: n.unknown, stale: n.stale, failed: n.failed, why: n.violations.map((v) => v.message) }));
    fc.assert(
      fc.property(
        fc.array(link, { maxLength: 40 }),
        fc.array(fc.tuple(fc.constantFrom(...NODES), fc.double({ min: 0.1, max: 10, noNaN: true })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom(-5, 0, 0.0005, 5, 9.9995, 10, 10.0005, 25, 30, 30.0005, 31, 260, 300, 301, 500), { minLength: 1, maxLength: 8 }),
        fc.option(fc.constantFrom(0.005, 0.02)),
        (links, peerNodes, offsets, maxRtt) => {
          const matrix = build(links);
          const weightByNode = new Map<string, number>();
          for (const [n, w] of peerNodes) weightByNode.set(n, (weightByNode.get(n) ?? 0) + w);
          const peers: ResolvedPeers = { peers: [], unplaced: [], weightByNode, warnings: [] };
          const limits = { ...(maxRtt !== null ? { maxRtt } : {}), minBandwidth: 5e7, warnings: [] };
          const candidates = [...NODES, 'unknown-node'];
          for (const off of offsets) {
            const now = NOW + off;
            const again = evaluate({ candidates, peers, limits, matrix, now, config: cfg });
            const fresh = evaluate({ candidates, peers, limits, matrix: build(links), now, config: cfg });
            expect(plain(again)).toEqual(plain(fresh));
            expect(again.lookups).toEqual(fresh.lookups);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a set() after scoring is seen by the next evaluation (the columns are rebuilt)', () => {
    const m = new LinkMatrix(NOW);
    m.set('b', 'a', 'rtt_seconds', { value: 0.002, timestamp: NOW });
    const peers: ResolvedPeers = { peers: [], unplaced: [], weightByNode: new Map([['a', 1]]), warnings: [] };
    const run = () => evaluate({ candidates: ['b'], peers, limits: { maxRtt: 0.01, warnings: [] }, matrix: m, now: NOW, config: cfg });
    expect(run().nodes[0]!.failed).toBe(false);
    m.set('b', 'a', 'rtt_seconds', { value: 0.05, timestamp: NOW + 1 });
    expect(run().nodes[0]!.violations[0]!.message).toMatch(/RTT to a .* is 50ms/);
    expect(m.size).toBe(1);
    m.set('c', 'a', 'rtt_seconds', { value: 0.05, timestamp: NOW });
    expect(m.size).toBe(2);
  });
});
