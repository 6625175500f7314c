// The decision log is a ring of `keep` decisions; its memory is bounded only if each decision is
// too, and decisions carry text from request bodies (annotations) and one explanation line per
// peer node.
import { describe, expect, it } from 'vitest';
import { decisionBytes, DecisionLog, lazyLinks, MAX_LINK_LINES, MAX_TEXT, MAX_WARNINGS, serializeDecisions, type Decision, type NodeDecision } from '../../extender/decisionLog.js';

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

describe('DecisionLog bytes: per decision and in total (decisions carry what callers send)', () => {
  const big = (i: number): Omit<Decision, 'id'> =>
    decision({
      pod: `ns/p-${i}`,
      peers: Array.from({ length: 1000 }, (_, k) => ({ id: `ns/${'q'.repeat(240)}-${k}`, node: 'n'.repeat(250), weight: 1, via: ['x'.repeat(120)], weightFrom: 'default' })),
      unplacedPeers: Array.from({ length: 1000 }, (_, k) => `ns/${'u'.repeat(240)}-${k}`),
      nodes: Array.from({ length: 40 }, (_, k) => {
        const n: NodeDecision = { node: `${'n'.repeat(240)}-${k}`, raw: 1, score: 1, unknown: 0, stale: 0 };
        lazyLinks(n, () => Array.from({ length: 13 }, () => 'l'.repeat(2000)));
        return n;
      }),
    });

  it('a decision over maxDecisionBytes lists fewer peers and nodes, says so, and is within the bound when served', () => {
    const log = new DecisionLog(10, { maxDecisionBytes: 64 * 1024 });
    const d = log.add(big(0));
    expect(d.warnings.at(-1)).toMatch(/^decision trimmed to decisions\.maxDecisionBytes \(65536\): lists \d+ of \d+ peers/);
    expect(JSON.stringify(d).length).toBeLessThanOrEqual(64 * 1024);
    expect(decisionBytes(d)).toBeLessThanOrEqual(64 * 1024);
    expect(log.size.bytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('the log keeps at most maxBytes in all, dropping the oldest, and serves within it', () => {
    const log = new DecisionLog(1000, { maxBytes: 1024 * 1024, maxDecisionBytes: 200 * 1024 });
    for (let i = 0; i < 40; i++) log.add(big(i));
    expect(log.size.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(log.size.decisions).toBeLessThan(40);
    expect(log.list()[0]!.pod).toBe('ns/p-39');
    const text = serializeDecisions(log.list(), log.maxBytes + 1024);
    expect(text.length).toBeLessThanOrEqual(log.maxBytes + 1024);
    expect(JSON.parse(text).decisions.length).toBe(log.size.decisions);
    // served with a smaller budget: what does not fit is counted, never an error
    const small = JSON.parse(serializeDecisions(log.list(), 300 * 1024)) as { decisions: Decision[]; truncated: number };
    expect(small.decisions.length + small.truncated).toBe(log.size.decisions);
  });

  it('ordinary decisions are all kept (the bound counts lines not made yet at their largest)', () => {
    const log = new DecisionLog(200);
    for (let i = 0; i < 300; i++) {
      const n: NodeDecision = { node: 'a', raw: 1, score: 10, unknown: 0, stale: 0 };
      lazyLinks(n, () => ['x'], 1);
      log.add(decision({ pod: `ns/p-${i}`, nodes: [n] }));
    }
    expect(log.size.decisions).toBe(200);
    expect(log.list({ limit: 1 })[0]!.pod).toBe('ns/p-299');
    expect(log.list({ pod: 'ns/p-100' })).toHaveLength(1);
    expect(log.list({ pod: 'ns/p-99' })).toHaveLength(0);
  });
});
