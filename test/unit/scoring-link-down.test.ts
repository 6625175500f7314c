// A link with fresh, total packet loss is down: no echo came back, so the agent has no RTT to
// report (measurementRecord clears it) and a stale-looking "unknown" must not hide the fault.
// The node behind it gets quality 0 towards that peer node and breaks any declared limit.
import { describe, expect, it } from 'vitest';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { resolvePeers } from '../../extender/peers/peerAnnotations.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { parsePodLimits } from '../../extender/scoring/podLimits.js';
import { DEFAULT_SCORING, evaluate, explainNode, violationText, type ScoringConfig } from '../../extender/scoring/scoring.js';

const NOW = 1_800_000_000;
const cfg: ScoringConfig = { ...DEFAULT_SCORING, rttMaxAge: 30, bandwidthMaxAge: 900 };
const db: PodInfo[] = [{ namespace: 'default', name: 'db-0', labels: { app: 'db' }, annotations: {}, nodeName: 'A' }];
const web = (annotations: Record<string, string> = {}): PodInfo => ({
  namespace: 'default',
  name: 'web',
  labels: { app: 'web' },
  annotations: { 'lpm.l2sm.io/peers': 'app=db', ...annotations },
});

/** B: a good link to A. C: its link to A was cut; its agent reports loss 1 and (cleared) no RTT. */
function matrix(opts: { lossAge?: number; cReverse?: boolean; lossValue?: number } = {}): LinkMatrix {
  const m = new LinkMatrix(NOW);
  m.set('B', 'A', 'rtt_seconds', { value: 0.002, timestamp: NOW });
  m.set('B', 'A', 'packet_loss_ratio', { value: 0, timestamp: NOW });
  m.set('B', 'A', 'bandwidth_bytes_per_second', { value: 125e6, timestamp: NOW - 100 });
  const [s, t] = opts.cReverse ? ['A', 'C'] : ['C', 'A'];
  m.set(s, t, 'packet_loss_ratio', { value: opts.lossValue ?? 1, timestamp: NOW - (opts.lossAge ?? 0) });
  // the bandwidth test before the cut is still fresh (bandwidth ages slowly)
  m.set(s, t, 'bandwidth_bytes_per_second', { value: 125e6, timestamp: NOW - 100 });
  return m;
}

const run = (pod: PodInfo, m: LinkMatrix, candidates = ['A', 'B', 'C']) =>
  evaluate({ candidates, peers: resolvePeers(pod, db), limits: parsePodLimits(pod.annotations), matrix: m, now: NOW, config: cfg });

describe('a link measured down (fresh loss = 1)', () => {
  it('breaks a declared max-rtt, with a reason that says the link is down', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms' }), matrix());
    const [a, b, c] = ev.nodes;
    expect(a!.violations).toEqual([]);
    expect(b!.violations).toEqual([]);
    expect(c!.violations).toEqual([{ reason: 'max_rtt', message: expect.stringMatching(/RTT to A \(peer default\/db-0\): link down \(100% packet loss\), over the pod's max-rtt 5ms/) }]);
    expect(violationText(c!.violations)).toMatch(/^lpm: RTT to A/);
  });

  it('breaks a declared min-bandwidth even while an older bandwidth value is still fresh', () => {
    const ev = run(web({ 'lpm.l2sm.io/min-bandwidth': '10Mbps' }), matrix());
    expect(ev.nodes.map((n) => n.violations.map((v) => v.reason))).toEqual([[], [], ['min_bandwidth']]);
    expect(ev.nodes[2]!.violations[0]!.message).toMatch(/bandwidth to A \(peer default\/db-0\): link down \(100% packet loss\), under the pod's min-bandwidth 10Mbps/);
  });

  it('breaks both limits when both are declared', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms', 'lpm.l2sm.io/min-bandwidth': '10Mbps' }), matrix());
    expect(ev.nodes[2]!.violations.map((v) => v.reason)).toEqual(['max_rtt', 'min_bandwidth']);
  });

  it('gets quality 0 towards that peer node (scored below an unknown node), and the explanation says why', () => {
    const ev = run(web(), matrix(), ['A', 'B', 'C', 'Z']);
    const c = ev.nodes[2]!;
    const z = ev.nodes[3]!; // never measured: neutral
    expect(c.raw).toBe(0);
    expect(c.score).toBe(0);
    expect(z.raw).toBeCloseTo(cfg.unknownQuality);
    expect(c.violations).toEqual([]); // no limit declared: penalised, not filtered
    expect(c.links[0]).toMatchObject({ peerNode: 'A', quality: 0, contribution: 0, down: true });
    expect(explainNode(c, cfg).join('\n')).toMatch(/A \[default\/db-0\] weight 1: link down: 100% packet loss measured 0s ago, quality 0/);
  });

  it('uses the peer node\'s measurement (reverse direction) when the candidate did not measure', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms' }), matrix({ cReverse: true }));
    expect(ev.nodes[2]!.violations).toHaveLength(1);
    expect(ev.nodes[2]!.raw).toBe(0);
  });

  it('a stale loss = 1 neither filters nor penalises: stale values are neutral', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms' }), matrix({ lossAge: 3600 }));
    const c = ev.nodes[2]!;
    expect(c.violations).toEqual([]);
    expect(c.raw).toBeGreaterThan(0);
    expect(c.links[0]!.down).toBeFalsy();
  });

  it('partial loss is not "down": it neither filters nor zeroes the quality', () => {
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms' }), matrix({ lossValue: 0.5 }));
    expect(ev.nodes[2]!.violations).toEqual([]);
    expect(ev.nodes[2]!.raw).toBeGreaterThan(0);
  });

  it('a fresh RTT in the other direction does not hide a fresh total loss in this one', () => {
    // The peer's agent has not noticed the cut yet: its RTT (from before) is still fresh.
    const m = matrix();
    m.set('A', 'C', 'rtt_seconds', { value: 0.001, timestamp: NOW - 2 });
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms' }), m);
    expect(ev.nodes[2]!.violations.map((v) => v.reason)).toEqual(['max_rtt']);
    expect(ev.nodes[2]!.raw).toBe(0);
  });

  it('a co-located peer never makes its own node down', () => {
    const m = matrix();
    m.set('A', 'A', 'packet_loss_ratio', { value: 1, timestamp: NOW });
    const ev = run(web({ 'lpm.l2sm.io/max-rtt': '5ms' }), m, ['A']);
    expect(ev.nodes[0]!.violations).toEqual([]);
    expect(ev.nodes[0]!.raw).toBe(1);
  });
});
