// Sim mode's link metrics: what the agents would measure on the topology, computed from the file.
// An agent on a pings b, so RTT(a->b) = delay a->b + delay b->a; iperf3 is limited by the slower
// direction of the pair, so bandwidth = min rate; ping loses a probe when either direction drops it.
// An unlimited link is given UNLIMITED_BANDWIDTH (what iperf3 reports over a fast virtual link),
// a pair without links in both directions is left unknown (the agents could not measure it).
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { Topology, TopologyLink } from '../topology.js';

/** Bandwidth reported for a link without a rate limit: 10 Gbit/s. */
export const UNLIMITED_BANDWIDTH = 10e9 / 8;

export interface PairMetrics {
  rtt: number;
  bandwidth: number;
  loss: number;
  jitter: number;
}

/** Round-trip metrics of a->b, or undefined when a link is missing in either direction. */
export function pairMetrics(links: readonly TopologyLink[], a: string, b: string): PairMetrics | undefined {
  const there = links.find((l) => l.from === a && l.to === b);
  const back = links.find((l) => l.from === b && l.to === a);
  if (!there || !back) return undefined;
  const rate = (l: TopologyLink) => l.rate ?? UNLIMITED_BANDWIDTH;
  return {
    rtt: there.delay + back.delay,
    bandwidth: Math.min(rate(there), rate(back)),
    loss: 1 - (1 - there.loss) * (1 - back.loss),
    jitter: there.jitter + back.jitter,
  };
}

/** The matrix every agent of the topology would report, all values measured at `now` (unix seconds). */
export function topologyMatrix(t: Pick<Topology, 'nodes' | 'links'>, now = Date.now() / 1000): LinkMatrix {
  const m = new LinkMatrix(now);
  for (const a of t.nodes)
    for (const b of t.nodes) {
      if (a.name === b.name) continue;
      const p = pairMetrics(t.links, a.name, b.name);
      if (!p) continue;
      const at = { timestamp: now };
      m.set(a.name, b.name, 'rtt_seconds', { value: p.rtt, ...at });
      m.set(a.name, b.name, 'bandwidth_bytes_per_second', { value: p.bandwidth, ...at });
      m.set(a.name, b.name, 'packet_loss_ratio', { value: p.loss, ...at });
      m.set(a.name, b.name, 'jitter_seconds', { value: p.jitter, ...at });
    }
  return m;
}

/** The topology's links with a change applied (a copy; the input is not modified). */
export function applyLinkChange(
  links: readonly TopologyLink[],
  change: { from: string; to: string; both: boolean; patch: Partial<Omit<TopologyLink, 'from' | 'to'>> },
): TopologyLink[] {
  const hit = (l: TopologyLink) =>
    (l.from === change.from && l.to === change.to) || (change.both && l.from === change.to && l.to === change.from);
  return links.map((l) => (hit(l) ? { ...l, ...definedOnly(change.patch) } : { ...l }));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
