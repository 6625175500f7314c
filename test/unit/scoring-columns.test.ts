// evaluate() reads the matrix through its column layout (src/linkColumns.ts), one peer node at a
// time; the per-link explanation (NodeEvaluation.links) reads it through LinkMatrix.get, one link at
// a time. On random matrices (fresh, stale, missing and down values, both directions, candidates
// the matrix does not know) both must tell the same story: the same raw score, the same counts of
// unknown and stale values, and the same limit verdicts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { ResolvedPeers } from '../../src/peers.js';
import { DEFAULT_SCORING, evaluate, type LinkView, type ScoringConfig } from '../../src/scoring.js';

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

// what LinkView says about limits, independently of the scoring loop
function breaks(l: LinkView, maxRtt: number | undefined, minBw: number | undefined): { rtt: boolean; bw: boolean } {
  if (!l.rtt) return { rtt: false, bw: false }; // co-located
  if (l.down) return { rtt: maxRtt !== undefined, bw: minBw !== undefined };
  return {
    rtt: maxRtt !== undefined && l.rtt.status === 'fresh' && l.rtt.value! > maxRtt,
    bw: minBw !== undefined && l.bandwidth!.status === 'fresh' && l.bandwidth!.value! < minBw,
  };
}

describe('evaluate through the column layout', () => {
  it('agrees with the link-by-link explanation on every candidate', () => {
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
            const views = node.links;
            expect(node.raw).toBe(views.reduce((sum, l) => sum + l.contribution, 0));
            const statuses = views.flatMap((l) => (l.rtt ? [l.rtt.status, l.bandwidth!.status] : []));
            expect(node.unknown).toBe(statuses.filter((s) => s === 'unknown').length);
            expect(node.stale).toBe(statuses.filter((s) => s === 'stale').length);
            unknownTotal += node.unknown;
            const b = views.map((l) => breaks(l, limits.maxRtt, limits.minBandwidth));
            expect(node.violations.map((v) => v.reason)).toEqual([
              ...(b.some((x) => x.rtt) ? ['max_rtt'] : []),
              ...(b.some((x) => x.bw) ? ['min_bandwidth'] : []),
            ]);
            expect(node.failed).toBe(node.violations.length > 0);
          }
          expect(ev.lookups.unknown).toBe(unknownTotal);
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
