// The decision log is a ring of `keep` decisions; its memory is bounded only if each decision is
// too, and decisions carry text from request bodies (annotations) and one explanation line per
// peer node.
import { describe, expect, it } from 'vitest';
import { DecisionLog, lazyLinks, MAX_LINK_LINES, MAX_TEXT, MAX_WARNINGS, type Decision, type NodeDecision } from '../../extender/decisionLog.js';

const decision = (over: Partial<Decision> = {}): Omit<Decision, 'id'> => ({
  time: '2026-01-01T00:00:00Z',
  verb: 'prioritize',
  pod: 'default/p',
  mode: 'nodeNames',
  outcome: 'scored',
  durationSeconds: 0.001,
  candidates: 1,
  warnings: [],
  ...over,
});

describe('DecisionLog bounds', () => {
  it('clips warnings (count and length), the reason, and link lines per node', () => {
    const log = new DecisionLog(10);
    const d = log.add(
      decision({
        warnings: Array.from({ length: 1000 }, (_, i) => `w${i} ${'x'.repeat(10_000)}`),
        reason: 'r'.repeat(100_000),
        nodes: [{ node: 'a', raw: 1, score: 10, unknown: 0, stale: 0, links: Array.from({ length: 300 }, (_, i) => `peer-node-${i}: rtt 1ms`) }],
      }),
    );
    expect(d.warnings).toHaveLength(MAX_WARNINGS + 1);
    expect(d.warnings.at(-1)).toBe(`... and ${1000 - MAX_WARNINGS} more warnings`);
    for (const w of d.warnings) expect(w.length).toBeLessThan(MAX_TEXT + 40);
    expect(d.reason!.length).toBeLessThan(MAX_TEXT + 40);
    expect(d.nodes![0]!.links).toHaveLength(MAX_LINK_LINES + 1);
    expect(d.nodes![0]!.links!.at(-1)).toBe(`... and ${300 - MAX_LINK_LINES} more peer nodes`);
    expect(log.list()[0]).toBe(d);
  });

  it('leaves ordinary decisions untouched', () => {
    const log = new DecisionLog(2);
    const d = log.add(decision({ warnings: ['one'], reason: 'short', nodes: [{ node: 'a', raw: 1, score: 10, unknown: 0, stale: 0, links: ['x'] }] }));
    expect(d).toMatchObject({ warnings: ['one'], reason: 'short', nodes: [{ links: ['x'] }] });
  });

  it('lazy explanation lines are made once, when first read or served, and clipped alike', () => {
    let made = 0;
    const node: NodeDecision = { node: 'a', raw: 1, score: 10, unknown: 0, stale: 0 };
    lazyLinks(node, () => {
      made++;
      return Array.from({ length: 50 }, (_, i) => `line ${i}`);
    });
    const d = new DecisionLog(5).add(decision({ nodes: [node] }));
    expect(made).toBe(0); // adding a decision reads no lines
    const served = JSON.parse(JSON.stringify(d)) as Decision;
    expect(served.nodes![0]!.links).toHaveLength(MAX_LINK_LINES + 1);
    expect(served.nodes![0]!.links!.at(-1)).toBe(`... and ${50 - MAX_LINK_LINES} more peer nodes`);
    expect(d.nodes![0]!.links).toEqual(served.nodes![0]!.links);
    expect(made).toBe(1);
  });
});
