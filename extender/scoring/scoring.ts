// The scoring model (the README, section "The scheduler extender", has the same formula with a worked example).
//
// For a candidate node n and a peer's node m:
//   quality(n, m) = 1                                    if n = m (co-located: no network hop)
//                 = (wR·qR + wB·qB) / (wR + wB)          otherwise
//   qR = Rref / (Rref + rtt)          1 at 0 s, 1/2 at the reference RTT, -> 0 as RTT grows
//   qB = bw / (bw + Bref)             0 at 0 B/s, 1/2 at the reference bandwidth, -> 1 as it grows
// A component whose measurement is unknown or stale is `unknownQuality` (default 1/2, exactly the
// quality of a link at the references: "ordinary", neither rewarded nor penalised).
//   raw(n)   = Σ over peers q of weight(q) · quality(n, node(q))
//   score(n) = round(10 · raw(n) / max over candidates raw), 0 for all when that max is 0.
// With quality 1 on the same node and 0 elsewhere, raw(n) is NetMARKS' score (the traffic weight of
// the peers already on n), and the scaling keeps its ratios.
//
// Filter: a candidate fails when a *fresh* measurement towards any peer's node breaks the pod's
// max-rtt or min-bandwidth. Unknown and stale values never filter. A co-located peer never fails.
//
// A link is *down* when its fresh packet loss (picked like the RTT, max age rttMaxAge) is 1: no echo
// came back, so there is no RTT at all (the agent clears it), which must not read as "unknown".
// A down link has quality 0 and breaks every limit the pod declares (max-rtt and min-bandwidth).
//
// Links are directed; the agent on n measures n->m. We use n->m when fresh, else m->n when fresh,
// else the better-known of the two (stale over unknown), and say which direction was used.
import type { Freshness, LinkMatrix } from '../../src/linkMatrix.js';
import type { ColumnMetric, LinkColumn } from '../../src/linkColumns.js';
import type { PodLimits } from './podLimits.js';
import type { ResolvedPeers } from '../peers/peerAnnotations.js';
import { formatBandwidth, formatDuration } from '../../src/units.js';
import { MAX_EXTENDER_PRIORITY } from '../protocol.js';

export interface ScoringConfig {
  rttWeight: number;
  bandwidthWeight: number;
  /** Seconds: the RTT at which qR = 1/2. */
  rttReference: number;
  /** Bytes/s: the bandwidth at which qB = 1/2. */
  bandwidthReference: number;
  /** Quality of a component whose value is unknown or stale, 0..1. */
  unknownQuality: number;
  /** Seconds after which a measurement is stale. */
  rttMaxAge: number;
  bandwidthMaxAge: number;
}

export const DEFAULT_SCORING: ScoringConfig = {
  rttWeight: 1,
  bandwidthWeight: 1,
  rttReference: 0.01,
  bandwidthReference: 100e6 / 8,
  unknownQuality: 0.5,
  rttMaxAge: 30,
  bandwidthMaxAge: 900,
};

export type FilterReason = 'max_rtt' | 'min_bandwidth';

export interface MetricView {
  status: Freshness;
  value?: number;
  ageSeconds?: number;
  /** Which measurement was used: the candidate's own (n->m) or the peer node's (m->n). */
  direction?: 'forward' | 'reverse';
}

export interface LinkView {
  /** The peer node this link goes to. */
  peerNode: string;
  /** Peers on that node ("namespace/name"). */
  peers: string[];
  /** Total weight of those peers. */
  weight: number;
  quality: number;
  /** weight × quality: this link's share of raw(n). */
  contribution: number;
  /** Absent when co-located. */
  rtt?: MetricView;
  bandwidth?: MetricView;
  /** Packet loss, shown when the link is down (fresh loss = 1). */
  loss?: MetricView;
  /** Fresh loss = 1: quality 0, breaks any declared limit. */
  down?: boolean;
}

export interface Violation {
  reason: FilterReason;
  message: string;
}

export interface NodeEvaluation {
  readonly node: string;
  raw: number;
  /** 0..10, set by scaleScores. */
  score: number;
  /** Per peer node: what drove the score (computed on demand). */
  readonly links: LinkView[];
  /** The first `limit` of `links`, computing no more than those. */
  linksUpTo(limit: number): LinkView[];
  /** How many peer nodes `links` covers. */
  readonly peerNodeCount: number;
  /** Why the node breaks the pod's limits (built when read); empty when it does not. */
  readonly violations: Violation[];
  /** Whether it breaks them: the cheap test, without building messages. */
  readonly failed: boolean;
  /** Metric lookups (rtt, bandwidth) that were unknown / stale for this node. */
  unknown: number;
  stale: number;
}

export interface Evaluation {
  outcome: 'scored' | 'neutral';
  /** Why the answer is neutral (no opinion): no peers, no matrix. */
  neutralReason?: string;
  nodes: NodeEvaluation[];
  lookups: Record<Freshness, number>;
}

export interface EvaluateInput {
  candidates: readonly string[];
  peers: ResolvedPeers;
  limits: PodLimits;
  /** undefined: no matrix loaded yet. */
  matrix: LinkMatrix | undefined;
  /** Unix seconds. */
  now: number;
  config: ScoringConfig;
}

export const rttQuality = (rtt: number, ref: number): number => (rtt <= 0 ? 1 : ref / (ref + rtt));
export const bandwidthQuality = (bw: number, ref: number): number => (bw <= 0 ? 0 : bw / (bw + ref));

/** A fresh loss of 1 (every probe lost): the link is down. */
const isDown = (lossStatus: Freshness, loss: number): boolean => lossStatus === 'fresh' && loss >= 1;

/**
 * The value to use for one metric of link n<->m, from a LinkColumns slot pair (`j` is n's index,
 * -1 when the matrix does not know n): the same choice as pickValue, with its direction and age.
 */
function metricView(side: LinkColumn['forward'][ColumnMetric], rside: LinkColumn['reverse'][ColumnMetric], j: number, now: number, maxAge: number): MetricView {
  const ft = j >= 0 ? side.time[j]! : NaN;
  const rt = j >= 0 ? rside.time[j]! : NaN;
  if (now - ft <= maxAge) return { status: 'fresh', direction: 'forward', value: side.value[j]!, ageSeconds: Math.max(0, now - ft) };
  if (now - rt <= maxAge) return { status: 'fresh', direction: 'reverse', value: rside.value[j]!, ageSeconds: Math.max(0, now - rt) };
  if (!Number.isNaN(ft)) return { status: 'stale', direction: 'forward', value: side.value[j]!, ageSeconds: Math.max(0, now - ft) };
  if (!Number.isNaN(rt)) return { status: 'stale', direction: 'reverse', value: rside.value[j]!, ageSeconds: Math.max(0, now - rt) };
  return { status: 'unknown' };
}

/** quality(n, m) from the two metric views (co-location is handled by the caller). */
export function linkQuality(rtt: MetricView, bw: MetricView, c: ScoringConfig): number {
  return quality(rtt.status === 'fresh', rtt.value!, bw.status === 'fresh', bw.value!, c);
}

function quality(rttFresh: boolean, rtt: number, bwFresh: boolean, bw: number, c: ScoringConfig): number {
  const qR = rttFresh ? rttQuality(rtt, c.rttReference) : c.unknownQuality;
  const qB = bwFresh ? bandwidthQuality(bw, c.bandwidthReference) : c.unknownQuality;
  const wSum = c.rttWeight + c.bandwidthWeight;
  return wSum > 0 ? (c.rttWeight * qR + c.bandwidthWeight * qB) / wSum : c.unknownQuality;
}

// pickValue's value: a typed-array slot, because returning a pair, or storing a double in a
// closure variable, allocates on every lookup.
const picked = new Float64Array(1);

// Freshness in the scoring loop: small integers (array indexes) rather than strings.
const FRESH = 0;
const STALE = 1;
const UNKNOWN = 2;

/**
 * metricView's choice for the scoring loop, from a LinkColumns slot (NaN time = no value): the
 * status, and the value in `picked` (NaN when unknown).
 */
function pickValue(fTime: number, fValue: number, rTime: number, rValue: number, now: number, maxAge: number): number {
  if (now - fTime <= maxAge) {
    picked[0] = fValue;
    return FRESH;
  }
  if (now - rTime <= maxAge) {
    picked[0] = rValue;
    return FRESH;
  }
  if (!Number.isNaN(fTime)) {
    picked[0] = fValue;
    return STALE;
  }
  if (!Number.isNaN(rTime)) {
    picked[0] = rValue;
    return STALE;
  }
  picked[0] = NaN;
  return UNKNOWN;
}

interface EvalContext {
  matrix: LinkMatrix;
  now: number;
  config: ScoringConfig;
  peerNodes: Array<[string, number]>;
  /** The column of each of peerNodes, filled by evaluate. */
  peerColumns: LinkColumn[];
  peersOn: Map<string, string[]>;
  /** Violation message parts: "<peer node> (peers ...)", and the limits as written once. */
  who: (m: string) => string;
  rttLimit: string;
  bwLimit: string;
}

/** What broke a candidate's limits, kept as numbers: the messages are built only when read. */
interface Breach {
  rttBad: number;
  rttWorst: number;
  rttWorstNode: string;
  bwBad: number;
  bwWorst: number;
  bwWorstNode: string;
  /** A peer node behind a link that is down, '' when none. */
  downNode: string;
}

// One candidate's result. The per-link explanation (`links`) is computed only when asked for
// (the decision log asks for the top few nodes), so scoring 5000 nodes allocates almost nothing.
class CandidateEvaluation implements NodeEvaluation {
  raw = 0;
  score = 0;
  unknown = 0;
  stale = 0;
  breach: Breach | undefined = undefined;
  private cachedLinks: LinkView[] | undefined;
  private cachedViolations: Violation[] | undefined;

  constructor(
    readonly node: string,
    private readonly ctx?: EvalContext,
  ) {}

  get failed(): boolean {
    return this.breach !== undefined;
  }

  get violations(): Violation[] {
    this.cachedViolations ??= this.breach && this.ctx ? violationsOf(this.breach, this.ctx) : [];
    return this.cachedViolations;
  }

  get links(): LinkView[] {
    if (!this.ctx) return [];
    this.cachedLinks ??= linkViews(this.node, this.ctx, Infinity);
    return this.cachedLinks;
  }

  linksUpTo(limit: number): LinkView[] {
    if (!this.ctx) return [];
    if (this.cachedLinks || limit >= this.ctx.peerNodes.length) return this.links.slice(0, limit);
    return linkViews(this.node, this.ctx, limit);
  }

  /** Peer nodes behind `links` (all of them, computed or not). */
  get peerNodeCount(): number {
    return this.ctx?.peerNodes.length ?? 0;
  }
}

function linkViews(n: string, c: EvalContext, limit: number): LinkView[] {
  const peerNodes = limit < c.peerNodes.length ? c.peerNodes.slice(0, limit) : c.peerNodes;
  const j = c.matrix.columns.index.get(n) ?? -1;
  return peerNodes.map(([m, weight], i) => {
    const peers = c.peersOn.get(m) ?? [];
    if (m === n) return { peerNode: m, peers, weight, quality: 1, contribution: weight };
    const { forward: f, reverse: r } = c.peerColumns[i]!;
    const rtt = metricView(f.rtt_seconds, r.rtt_seconds, j, c.now, c.config.rttMaxAge);
    const bandwidth = metricView(f.bandwidth_bytes_per_second, r.bandwidth_bytes_per_second, j, c.now, c.config.bandwidthMaxAge);
    const loss = metricView(f.packet_loss_ratio, r.packet_loss_ratio, j, c.now, c.config.rttMaxAge);
    if (isDown(loss.status, loss.value!))
      return { peerNode: m, peers, weight, quality: 0, contribution: 0, rtt, bandwidth, loss, down: true };
    const quality = linkQuality(rtt, bandwidth, c.config);
    return { peerNode: m, peers, weight, quality, contribution: weight * quality, rtt, bandwidth };
  });
}

/**
 * Scores and filter verdicts for every candidate. Peers are already resolved; per candidate this
 * is a matrix lookup per distinct peer node.
 */
export function evaluate(input: EvaluateInput): Evaluation {
  const { candidates, peers, limits, matrix, now, config } = input;
  const lookups: Record<Freshness, number> = { fresh: 0, stale: 0, unknown: 0 };

  if (peers.weightByNode.size === 0)
    return {
      outcome: 'neutral',
      neutralReason: peers.unplaced.length
        ? `no placed peers (${peers.unplaced.length} not placed yet)`
        : 'the pod has no peers',
      nodes: candidates.map((n) => new CandidateEvaluation(n)),
      lookups,
    };
  if (!matrix)
    return {
      outcome: 'neutral',
      neutralReason: 'no link matrix loaded yet',
      nodes: candidates.map((n) => new CandidateEvaluation(n)),
      lookups,
    };

  const peersOn = new Map<string, string[]>();
  for (const p of peers.peers) {
    const list = peersOn.get(p.node);
    if (list) list.push(p.id);
    else peersOn.set(p.node, [p.id]);
  }
  // Violation messages share their parts: "RTT to <who>" per peer node, the limit once.
  const whoOf = new Map<string, string>();
  const ctx: EvalContext = {
    matrix,
    now,
    config,
    peerNodes: [...peers.weightByNode.entries()],
    peerColumns: [],
    peersOn,
    who: (m: string) => {
      let w = whoOf.get(m);
      if (w === undefined) whoOf.set(m, (w = who(m, peersOn)));
      return w;
    },
    rttLimit: limits.maxRtt !== undefined ? `, over the pod's max-rtt ${formatDuration(limits.maxRtt)}` : '',
    bwLimit: limits.minBandwidth !== undefined ? `, under the pod's min-bandwidth ${formatBandwidth(limits.minBandwidth)}` : '',
  };

  // Peer node by peer node, every candidate in turn: the peer node's column (its links to and from
  // every node) is read in order, and each candidate's sums live in typed arrays. Per candidate the
  // peer nodes are still taken in the same order, so every sum is the same as one candidate at a time.
  const count = candidates.length;
  const columns = matrix.columns;
  // a candidate the matrix has never heard of (-1): every value unknown
  const idx = new Int32Array(count);
  for (let c = 0; c < count; c++) idx[c] = columns.index.get(candidates[c]!) ?? -1;
  const raw = new Float64Array(count);
  const unknown = new Int32Array(count);
  const stale = new Int32Array(count);
  const rttBad = new Int32Array(count);
  const bwBad = new Int32Array(count);
  const rttWorst = new Float64Array(count).fill(-Infinity);
  const bwWorst = new Float64Array(count).fill(Infinity);
  // peer node indexes (into ctx.peerNodes) of the worst offenders and of the first link down
  const rttWorstPeer = new Int32Array(count).fill(-1);
  const bwWorstPeer = new Int32Array(count).fill(-1);
  const downPeer = new Int32Array(count).fill(-1);
  const looked = [0, 0, 0]; // by FRESH, STALE, UNKNOWN
  const { maxRtt, minBandwidth: minBw } = limits;
  const { rttMaxAge, bandwidthMaxAge } = config;

  for (let i = 0; i < ctx.peerNodes.length; i++) {
    const [m, weight] = ctx.peerNodes[i]!;
    const mi = columns.index.get(m) ?? -1;
    const column = columns.column(m);
    ctx.peerColumns.push(column);
    const { forward: f, reverse: r } = column;
    const [fRT, fRV, rRT, rRV] = [f.rtt_seconds.time, f.rtt_seconds.value, r.rtt_seconds.time, r.rtt_seconds.value];
    const fb = f.bandwidth_bytes_per_second;
    const rb = r.bandwidth_bytes_per_second;
    const [fBT, fBV, rBT, rBV] = [fb.time, fb.value, rb.time, rb.value];
    const [fLT, fLV, rLT, rLV] = [f.packet_loss_ratio.time, f.packet_loss_ratio.value, r.packet_loss_ratio.time, r.packet_loss_ratio.value];
    for (let c = 0; c < count; c++) {
      const j = idx[c]!;
      if (mi >= 0 ? j === mi : candidates[c] === m) {
        raw[c] = raw[c]! + weight; // co-located
        continue;
      }
      // the same choice as metricView, without filling a MetricView (no allocation per lookup)
      let rttS = UNKNOWN;
      let bwS = UNKNOWN;
      let lossS = UNKNOWN;
      let rttV = NaN;
      let bwV = NaN;
      let lossV = NaN;
      if (j >= 0) {
        rttS = pickValue(fRT[j]!, fRV[j]!, rRT[j]!, rRV[j]!, now, rttMaxAge);
        rttV = picked[0]!;
        bwS = pickValue(fBT[j]!, fBV[j]!, rBT[j]!, rBV[j]!, now, bandwidthMaxAge);
        bwV = picked[0]!;
        lossS = pickValue(fLT[j]!, fLV[j]!, rLT[j]!, rLV[j]!, now, rttMaxAge);
        lossV = picked[0]!;
      }
      looked[rttS] = looked[rttS]! + 1;
      looked[bwS] = looked[bwS]! + 1;
      if (rttS === UNKNOWN) unknown[c] = unknown[c]! + 1;
      else if (rttS === STALE) stale[c] = stale[c]! + 1;
      if (bwS === UNKNOWN) unknown[c] = unknown[c]! + 1;
      else if (bwS === STALE) stale[c] = stale[c]! + 1;
      if (lossS === FRESH && lossV >= 1) {
        // down: quality 0 (adds nothing to raw); the worst offender for every declared limit
        if (maxRtt !== undefined) rttBad[c] = rttBad[c]! + 1;
        if (minBw !== undefined) bwBad[c] = bwBad[c]! + 1;
        if (downPeer[c]! < 0) downPeer[c] = i;
        continue;
      }
      raw[c] = raw[c]! + weight * quality(rttS === FRESH, rttV, bwS === FRESH, bwV, config);
      // keep only the worst offender per limit: messages are built from it when read
      if (maxRtt !== undefined && rttS === FRESH && rttV > maxRtt) {
        rttBad[c] = rttBad[c]! + 1;
        if (rttV > rttWorst[c]!) {
          rttWorst[c] = rttV;
          rttWorstPeer[c] = i;
        }
      }
      if (minBw !== undefined && bwS === FRESH && bwV < minBw) {
        bwBad[c] = bwBad[c]! + 1;
        if (bwV < bwWorst[c]!) {
          bwWorst[c] = bwV;
          bwWorstPeer[c] = i;
        }
      }
    }
  }
  lookups.fresh = looked[FRESH]!;
  lookups.stale = looked[STALE]!;
  lookups.unknown = looked[UNKNOWN]!;

  const peerNode = (i: number) => (i >= 0 ? ctx.peerNodes[i]![0] : '');
  const nodes = candidates.map((n, c) => {
    const ev = new CandidateEvaluation(n, ctx);
    ev.raw = raw[c]!;
    ev.unknown = unknown[c]!;
    ev.stale = stale[c]!;
    if (rttBad[c] || bwBad[c])
      ev.breach = {
        rttBad: rttBad[c]!,
        rttWorst: rttWorst[c]!,
        rttWorstNode: peerNode(rttWorstPeer[c]!),
        bwBad: bwBad[c]!,
        bwWorst: bwWorst[c]!,
        bwWorstNode: peerNode(bwWorstPeer[c]!),
        downNode: peerNode(downPeer[c]!),
      };
    return ev;
  });
  scaleScores(nodes);
  return { outcome: 'scored', nodes, lookups };
}

function violationsOf(b: Breach, c: EvalContext): Violation[] {
  const out: Violation[] = [];
  if (b.rttBad)
    out.push({
      reason: 'max_rtt',
      message: b.downNode
        ? `RTT to ${c.who(b.downNode)}: ${LINK_DOWN}${c.rttLimit}${more(b.rttBad)}`
        : `RTT to ${c.who(b.rttWorstNode)} is ${formatDuration(b.rttWorst)}${c.rttLimit}${more(b.rttBad)}`,
    });
  if (b.bwBad)
    out.push({
      reason: 'min_bandwidth',
      message: b.downNode
        ? `bandwidth to ${c.who(b.downNode)}: ${LINK_DOWN}${c.bwLimit}${more(b.bwBad)}`
        : `bandwidth to ${c.who(b.bwWorstNode)} is ${formatBandwidth(b.bwWorst)}${c.bwLimit}${more(b.bwBad)}`,
    });
  return out;
}

const LINK_DOWN = 'link down (100% packet loss)';
const more = (n: number) => (n > 1 ? ` (and ${n - 1} more peer node${n > 2 ? 's' : ''})` : '');

function who(m: string, peersOn: Map<string, string[]>): string {
  const ids = peersOn.get(m) ?? [];
  return `${m} (peer${ids.length > 1 ? 's' : ''} ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', ...' : ''})`;
}

/** score = round(10 · raw / max raw); all 0 when max raw is 0. Mutates and returns the list. */
export function scaleScores<T extends { raw: number; score: number }>(nodes: T[]): T[] {
  let max = 0;
  for (const n of nodes) if (n.raw > max) max = n.raw;
  for (const n of nodes) {
    const s = max > 0 ? Math.round((MAX_EXTENDER_PRIORITY * n.raw) / max) : 0;
    n.score = Math.min(MAX_EXTENDER_PRIORITY, Math.max(0, s));
  }
  return nodes;
}

/** The FailedAndUnresolvableNodes text for a node's violations. */
export function violationText(v: readonly Violation[]): string {
  return `lpm: ${v.map((x) => x.message).join('; ')}`;
}

function describeMetric(name: string, v: MetricView | undefined, fmt: (x: number) => string, maxAge: number): string {
  if (!v) return '';
  const dir = v.direction === 'reverse' ? ' (reverse direction)' : '';
  if (v.status === 'unknown') return `${name} unknown (neutral)`;
  if (v.status === 'stale')
    return `${name} ${fmt(v.value!)} stale: measured ${formatDuration(v.ageSeconds!)} ago, max age ${formatDuration(maxAge)}${dir} (neutral, not used for filtering)`;
  return `${name} ${fmt(v.value!)}${dir}`;
}

/**
 * One line per link: what drove this node's score, and which values were unknown or stale. With
 * `maxLines`, only that many links are explained, and a last line counts the others.
 */
export function explainNode(ev: NodeEvaluation, c: ScoringConfig, maxLines = Infinity): string[] {
  return explainLinks(ev.linksUpTo(maxLines), ev.peerNodeCount, c);
}

/** explainNode's text for links already picked: `peerNodeCount` of them in all (the rest are counted). */
export function explainLinks(links: readonly LinkView[], peerNodeCount: number, c: ScoringConfig): string[] {
  const lines = links.map((l) => {
    const head = `${l.peerNode} [${l.peers.join(', ')}] weight ${round(l.weight)}`;
    if (!l.rtt) return `${head}: co-located, quality 1`;
    if (l.down) {
      const dir = l.loss?.direction === 'reverse' ? ' (reverse direction)' : '';
      return `${head}: link down: 100% packet loss measured ${formatDuration(l.loss?.ageSeconds ?? 0)} ago${dir}, quality 0`;
    }
    const rtt = describeMetric('rtt', l.rtt, formatDuration, c.rttMaxAge);
    const bw = describeMetric('bandwidth', l.bandwidth, formatBandwidth, c.bandwidthMaxAge);
    return `${head}: ${rtt}, ${bw}, quality ${round(l.quality)}`;
  });
  const more = peerNodeCount - lines.length;
  if (more > 0) lines.push(`... and ${more} more peer nodes`);
  return lines;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
