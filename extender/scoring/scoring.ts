// The scoring model (docs/extender.md, "Scoring formula", has the same formula with a worked example).
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
  /** linksUpTo(limit) made later: the link values are copied now (not the matrix), the views when called. */
  linksLater(limit: number): () => LinkView[];
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
  /** Every candidate's result, in input order (objects made when read; `node(c)` makes one). */
  readonly nodes: NodeEvaluation[];
  lookups: Record<Freshness, number>;
  /** The candidates, in input order; the arrays below are indexed like it. */
  readonly candidates: readonly string[];
  /** raw(n). */
  readonly raw: Float64Array;
  /** Metric lookups (rtt, bandwidth) that were unknown / stale, per candidate. */
  readonly unknown: Int32Array;
  readonly stale: Int32Array;
  /** Indexes of the candidates that break the pod's limits, in input order. */
  readonly failed: readonly number[];
  isFailed(c: number): boolean;
  /** Candidate c's NodeEvaluation (the same object as nodes[c]). */
  node(c: number): NodeEvaluation;
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
 * The value to use for one metric of link n<->m from its two measurements (value and time of
 * n->m and of m->n, NaN times when there is none): the same choice as pickValue, with its
 * direction and age.
 */
function metricView(fValue: number, fTime: number, rValue: number, rTime: number, now: number, maxAge: number): MetricView {
  if (now - fTime <= maxAge) return { status: 'fresh', direction: 'forward', value: fValue, ageSeconds: Math.max(0, now - fTime) };
  if (now - rTime <= maxAge) return { status: 'fresh', direction: 'reverse', value: rValue, ageSeconds: Math.max(0, now - rTime) };
  if (!Number.isNaN(fTime)) return { status: 'stale', direction: 'forward', value: fValue, ageSeconds: Math.max(0, now - fTime) };
  if (!Number.isNaN(rTime)) return { status: 'stale', direction: 'reverse', value: rValue, ageSeconds: Math.max(0, now - rTime) };
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
    this.cachedLinks ??= linksLater(this.node, this.ctx, Infinity)();
    return this.cachedLinks;
  }

  linksUpTo(limit: number): LinkView[] {
    if (!this.ctx) return [];
    if (this.cachedLinks || limit >= this.ctx.peerNodes.length) return this.links.slice(0, limit);
    return linksLater(this.node, this.ctx, limit)();
  }

  linksLater(limit: number): () => LinkView[] {
    if (!this.ctx) return () => [];
    return linksLater(this.node, this.ctx, limit);
  }

  /** Peer nodes behind `links` (all of them, computed or not). */
  get peerNodeCount(): number {
    return this.ctx?.peerNodes.length ?? 0;
  }
}

// What linksLater copies per peer node: value and time of n->m and of m->n, per metric.
const LINK_METRICS = ['rtt_seconds', 'bandwidth_bytes_per_second', 'packet_loss_ratio'] as const satisfies readonly ColumnMetric[];
const PER_LINK = LINK_METRICS.length * 4;

/**
 * Node n's links to the first `limit` peer nodes: their measurements are copied now (a few
 * numbers, no reference to the matrix or its columns), the LinkViews made when the returned
 * function is called.
 */
function linksLater(n: string, c: EvalContext, limit: number): () => LinkView[] {
  const peerNodes = limit < c.peerNodes.length ? c.peerNodes.slice(0, limit) : c.peerNodes;
  const j = c.matrix.columns.index.get(n) ?? -1;
  const v = new Float64Array(peerNodes.length * PER_LINK).fill(NaN);
  const copy = (at: number, f: LinkColumn['forward'][ColumnMetric], r: LinkColumn['reverse'][ColumnMetric]) => {
    v[at] = f.value[j]!;
    v[at + 1] = f.time[j]!;
    v[at + 2] = r.value[j]!;
    v[at + 3] = r.time[j]!;
  };
  if (j >= 0)
    for (let i = 0; i < peerNodes.length; i++) {
      // in LINK_METRICS order
      const { forward: f, reverse: r } = c.peerColumns[i]!;
      copy(i * PER_LINK, f.rtt_seconds, r.rtt_seconds);
      copy(i * PER_LINK + 4, f.bandwidth_bytes_per_second, r.bandwidth_bytes_per_second);
      copy(i * PER_LINK + 8, f.packet_loss_ratio, r.packet_loss_ratio);
    }
  // No closure here may name `c`: V8 keeps one context per scope for all its closures, so the
  // returned function would hold the whole evaluation context (the matrix's columns) alive for as
  // long as a kept decision holds it.
  const peersOn = c.peersOn;
  const peers = peerNodes.map(([m]) => peersOn.get(m) ?? []);
  const { now, config } = c;
  return () =>
    peerNodes.map(([m, weight], i) => {
      if (m === n) return { peerNode: m, peers: peers[i]!, weight, quality: 1, contribution: weight };
      const view = (k: number, maxAge: number) => {
        const at = i * PER_LINK + k * 4;
        return metricView(v[at]!, v[at + 1]!, v[at + 2]!, v[at + 3]!, now, maxAge);
      };
      const rtt = view(0, config.rttMaxAge);
      const bandwidth = view(1, config.bandwidthMaxAge);
      const loss = view(2, config.rttMaxAge);
      if (isDown(loss.status, loss.value!))
        return { peerNode: m, peers: peers[i]!, weight, quality: 0, contribution: 0, rtt, bandwidth, loss, down: true };
      const quality = linkQuality(rtt, bandwidth, config);
      return { peerNode: m, peers: peers[i]!, weight, quality, contribution: weight * quality, rtt, bandwidth };
    });
}

/**
 * Scores and filter verdicts for every candidate. Peers are already resolved; per candidate this
 * is a read of a few typed-array slots per distinct peer node. The per-candidate results
 * (`nodes`) are objects made when first read: a request needs only the numbers.
 */
export function evaluate(input: EvaluateInput): Evaluation {
  const { candidates, peers, limits, matrix, now, config } = input;
  const lookups: Record<Freshness, number> = { fresh: 0, stale: 0, unknown: 0 };

  if (peers.weightByNode.size === 0)
    return new CandidateResults(
      'neutral',
      candidates,
      lookups,
      peers.unplaced.length ? `no placed peers (${peers.unplaced.length} not placed yet)` : 'the pod has no peers',
    );
  if (!matrix) return new CandidateResults('neutral', candidates, lookups, 'no link matrix loaded yet');

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

  // Peer node by peer node, every candidate in turn: the peer node's slots (what its links to
  // and from every node give now, slotsOf) are read in order, and each candidate's sums live in
  // typed arrays. Per candidate the peer nodes are still taken in the same order, so every sum is
  // the same as one candidate at a time.
  const count = candidates.length;
  const columns = matrix.columns;
  // a candidate the matrix has never heard of (-1): every value unknown
  const idx = new Int32Array(count);
  for (let c = 0; c < count; c++) idx[c] = columns.index.get(candidates[c]!) ?? -1;
  const out = new CandidateResults('scored', candidates, lookups, undefined, ctx);
  const { raw, unknown, stale } = out;
  const { maxRtt, minBandwidth: minBw } = limits;
  const checkRtt = maxRtt !== undefined;
  const checkBw = minBw !== undefined;
  const breach = checkRtt || checkBw ? (out.breaches = new BreachArrays(count)) : undefined;
  const unknownQuality = quality(false, NaN, false, NaN, config);
  let fresh = 0;
  let staleCount = 0;
  let unknownCount = 0;

  for (let i = 0; i < ctx.peerNodes.length; i++) {
    const [m, weight] = ctx.peerNodes[i]!;
    const mi = columns.index.get(m) ?? -1;
    const column = columns.column(m);
    ctx.peerColumns.push(column);
    const s = slotsOf(column, now, config);
    const { quality: sq, rtt: sr, bw: sb, unknown: su, stale: ss, down: sd } = s;
    for (let c = 0; c < count; c++) {
      const j = idx[c]!;
      if (mi >= 0 ? j === mi : candidates[c] === m) {
        raw[c] = raw[c]! + weight; // co-located
        continue;
      }
      if (j < 0) {
        unknown[c] = unknown[c]! + 2;
        unknownCount += 2;
        raw[c] = raw[c]! + weight * unknownQuality;
        continue;
      }
      const u = su[j]!;
      const st = ss[j]!;
      unknown[c] = unknown[c]! + u;
      stale[c] = stale[c]! + st;
      unknownCount += u;
      staleCount += st;
      fresh += 2 - u - st;
      if (sd[j]) {
        // down: quality 0 (adds nothing to raw); the worst offender for every declared limit
        if (breach) {
          if (checkRtt) breach.rttBad[c] = breach.rttBad[c]! + 1;
          if (checkBw) breach.bwBad[c] = breach.bwBad[c]! + 1;
          if (breach.downPeer[c]! < 0) breach.downPeer[c] = i;
        }
        continue;
      }
      raw[c] = raw[c]! + weight * sq[j]!;
      if (!breach) continue;
      // keep only the worst offender per limit: messages are built from it when read
      const rttV = sr[j]!; // NaN unless fresh: never breaks a limit
      if (checkRtt && rttV > maxRtt) {
        breach.rttBad[c] = breach.rttBad[c]! + 1;
        if (rttV > breach.rttWorst[c]!) {
          breach.rttWorst[c] = rttV;
          breach.rttWorstPeer[c] = i;
        }
      }
      const bwV = sb[j]!;
      if (checkBw && bwV < minBw) {
        breach.bwBad[c] = breach.bwBad[c]! + 1;
        if (bwV < breach.bwWorst[c]!) {
          breach.bwWorst[c] = bwV;
          breach.bwWorstPeer[c] = i;
        }
      }
    }
  }
  lookups.fresh = fresh;
  lookups.stale = staleCount;
  lookups.unknown = unknownCount;
  if (breach) for (let c = 0; c < count; c++) if (breach.rttBad[c] || breach.bwBad[c]) out.failedIndexes.push(c);
  return out;
}

/**
 * What one peer node's links give every node at one time, slot by slot (a LinkColumns slot: node
 * n's index), for the scoring loop: the value picked per metric (n->m when fresh, else m->n when
 * fresh, else the stale one, else unknown: metricView's choice), the quality, the unknown and
 * stale counts, whether the link is down. It holds for every evaluation time in [from, until]:
 * until is just before the first time a value in the column turns stale. Kept per column (so per
 * matrix) and rebuilt when time passes `until` or the scoring config differs.
 */
interface Slots {
  config: ScoringConfig;
  from: number;
  until: number;
  /** quality(n, m); 0 when the link is down. */
  quality: Float64Array;
  /** The fresh RTT, NaN when there is none (never breaks a limit). */
  rtt: Float64Array;
  /** The fresh bandwidth, NaN when there is none. */
  bw: Float64Array;
  /** How many of RTT and bandwidth are unknown / stale (0..2). */
  unknown: Uint8Array;
  stale: Uint8Array;
  /** 1: fresh packet loss of 1. */
  down: Uint8Array;
}

const slotCache = new WeakMap<LinkColumn, Slots>();

// A measurement turns stale once now - time > maxAge. The window ends this much before the first
// time + maxAge ahead, so that floating-point rounding of that sum can never keep a value fresh
// a moment too long.
const SLOT_MARGIN_SECONDS = 1e-3;

const sameConfig = (a: ScoringConfig, b: ScoringConfig): boolean =>
  a === b ||
  (a.rttWeight === b.rttWeight &&
    a.bandwidthWeight === b.bandwidthWeight &&
    a.rttReference === b.rttReference &&
    a.bandwidthReference === b.bandwidthReference &&
    a.unknownQuality === b.unknownQuality &&
    a.rttMaxAge === b.rttMaxAge &&
    a.bandwidthMaxAge === b.bandwidthMaxAge);

function slotsOf(column: LinkColumn, now: number, config: ScoringConfig): Slots {
  const s = slotCache.get(column);
  if (s && now >= s.from && now <= s.until && sameConfig(s.config, config)) return s;
  const built = buildSlots(column, now, config);
  slotCache.set(column, built);
  return built;
}

function buildSlots(column: LinkColumn, now: number, config: ScoringConfig): Slots {
  const { forward: f, reverse: r } = column;
  const [fRT, fRV, rRT, rRV] = [f.rtt_seconds.time, f.rtt_seconds.value, r.rtt_seconds.time, r.rtt_seconds.value];
  const fb = f.bandwidth_bytes_per_second;
  const rb = r.bandwidth_bytes_per_second;
  const [fBT, fBV, rBT, rBV] = [fb.time, fb.value, rb.time, rb.value];
  const [fLT, fLV, rLT, rLV] = [f.packet_loss_ratio.time, f.packet_loss_ratio.value, r.packet_loss_ratio.time, r.packet_loss_ratio.value];
  const { rttMaxAge, bandwidthMaxAge } = config;
  const size = fRT.length;
  const s: Slots = {
    config: { ...config },
    from: now,
    until: Infinity,
    quality: new Float64Array(size),
    rtt: new Float64Array(size),
    bw: new Float64Array(size),
    unknown: new Uint8Array(size),
    stale: new Uint8Array(size),
    down: new Uint8Array(size),
  };
  let next = Infinity;
  const ahead = (t: number, maxAge: number) => {
    const end = t + maxAge; // NaN for no value: never ahead
    if (end >= now - SLOT_MARGIN_SECONDS && end < next) next = end;
  };
  for (let j = 0; j < size; j++) {
    const rttS = pickValue(fRT[j]!, fRV[j]!, rRT[j]!, rRV[j]!, now, rttMaxAge);
    const rttV = picked[0]!;
    const bwS = pickValue(fBT[j]!, fBV[j]!, rBT[j]!, rBV[j]!, now, bandwidthMaxAge);
    const bwV = picked[0]!;
    const lossS = pickValue(fLT[j]!, fLV[j]!, rLT[j]!, rLV[j]!, now, rttMaxAge);
    const lossV = picked[0]!;
    s.unknown[j] = (rttS === UNKNOWN ? 1 : 0) + (bwS === UNKNOWN ? 1 : 0);
    s.stale[j] = (rttS === STALE ? 1 : 0) + (bwS === STALE ? 1 : 0);
    s.rtt[j] = rttS === FRESH ? rttV : NaN;
    s.bw[j] = bwS === FRESH ? bwV : NaN;
    if (lossS === FRESH && lossV >= 1) s.down[j] = 1;
    else s.quality[j] = quality(rttS === FRESH, rttV, bwS === FRESH, bwV, config);
    ahead(fRT[j]!, rttMaxAge);
    ahead(rRT[j]!, rttMaxAge);
    ahead(fBT[j]!, bandwidthMaxAge);
    ahead(rBT[j]!, bandwidthMaxAge);
    ahead(fLT[j]!, rttMaxAge);
    ahead(rLT[j]!, rttMaxAge);
  }
  s.until = next - SLOT_MARGIN_SECONDS;
  return s;
}

/** What broke each candidate's limits, as numbers (only when the pod declares a limit). */
class BreachArrays {
  readonly rttBad: Int32Array;
  readonly bwBad: Int32Array;
  readonly rttWorst: Float64Array;
  readonly bwWorst: Float64Array;
  // peer node indexes (into EvalContext.peerNodes) of the worst offenders and of the first link down
  readonly rttWorstPeer: Int32Array;
  readonly bwWorstPeer: Int32Array;
  readonly downPeer: Int32Array;

  constructor(count: number) {
    this.rttBad = new Int32Array(count);
    this.bwBad = new Int32Array(count);
    this.rttWorst = new Float64Array(count).fill(-Infinity);
    this.bwWorst = new Float64Array(count).fill(Infinity);
    this.rttWorstPeer = new Int32Array(count).fill(-1);
    this.bwWorstPeer = new Int32Array(count).fill(-1);
    this.downPeer = new Int32Array(count).fill(-1);
  }
}

/** evaluate()'s result: numbers per candidate in typed arrays, NodeEvaluation objects on demand. */
class CandidateResults implements Evaluation {
  readonly raw: Float64Array;
  readonly unknown: Int32Array;
  readonly stale: Int32Array;
  readonly failedIndexes: number[] = [];
  breaches: BreachArrays | undefined;
  neutralReason?: string;
  private made: CandidateEvaluation[] | undefined;
  private maxRaw = -1;

  constructor(
    public outcome: 'scored' | 'neutral',
    readonly candidates: readonly string[],
    public lookups: Record<Freshness, number>,
    neutralReason: string | undefined,
    private readonly ctx?: EvalContext,
  ) {
    this.raw = new Float64Array(candidates.length);
    this.unknown = new Int32Array(candidates.length);
    this.stale = new Int32Array(candidates.length);
    if (neutralReason !== undefined) this.neutralReason = neutralReason;
  }

  get failed(): readonly number[] {
    return this.failedIndexes;
  }

  isFailed(c: number): boolean {
    const b = this.breaches;
    return b !== undefined && (b.rttBad[c]! > 0 || b.bwBad[c]! > 0);
  }

  node(c: number): NodeEvaluation {
    this.made ??= new Array<CandidateEvaluation>(this.candidates.length);
    let ev = this.made[c];
    if (ev) return ev;
    ev = new CandidateEvaluation(this.candidates[c]!, this.ctx);
    ev.raw = this.raw[c]!;
    ev.unknown = this.unknown[c]!;
    ev.stale = this.stale[c]!;
    if (this.maxRaw < 0) {
      this.maxRaw = 0;
      for (const r of this.raw) if (r > this.maxRaw) this.maxRaw = r;
    }
    ev.score = scaledScore(ev.raw, this.maxRaw);
    const b = this.breaches;
    if (b && this.isFailed(c)) {
      const peerNode = (i: number) => (i >= 0 && this.ctx ? this.ctx.peerNodes[i]![0] : '');
      ev.breach = {
        rttBad: b.rttBad[c]!,
        rttWorst: b.rttWorst[c]!,
        rttWorstNode: peerNode(b.rttWorstPeer[c]!),
        bwBad: b.bwBad[c]!,
        bwWorst: b.bwWorst[c]!,
        bwWorstNode: peerNode(b.bwWorstPeer[c]!),
        downNode: peerNode(b.downPeer[c]!),
      };
    }
    this.made[c] = ev;
    return ev;
  }

  get nodes(): NodeEvaluation[] {
    const out = new Array<NodeEvaluation>(this.candidates.length);
    for (let c = 0; c < out.length; c++) out[c] = this.node(c);
    return out;
  }
}

/**
 * scaleScores' score of one node: round(10 · raw / max), within 0..10; 0 when max is 0. Always an
 * integer 0..10: a raw or max that is not a finite number (weights are clamped, so none should be)
 * gives 0, never NaN (which JSON would send as null).
 */
export function scaledScore(raw: number, max: number): number {
  if (!(max > 0 && max < Infinity && raw > 0 && raw < Infinity)) return 0;
  const s = Math.round(MAX_EXTENDER_PRIORITY * (raw / max));
  return s > MAX_EXTENDER_PRIORITY ? MAX_EXTENDER_PRIORITY : s;
}

/**
 * scaleScores over typed arrays: the score of candidate `which[k]` (every candidate in order when
 * `which` is absent), scaled by the largest raw among those candidates only.
 */
export function scoresOf(raw: Float64Array, which?: ArrayLike<number>): Uint8Array {
  const n = which ? which.length : raw.length;
  let max = 0;
  for (let k = 0; k < n; k++) {
    const r = raw[which ? which[k]! : k]!;
    if (r > max && r < Infinity) max = r;
  }
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = scaledScore(raw[which ? which[k]! : k]!, max);
  return out;
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
  for (const n of nodes) if (n.raw > max && n.raw < Infinity) max = n.raw;
  for (const n of nodes) n.score = scaledScore(n.raw, max);
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
    // (a node can run thousands of peers: the first three, and a count)
    const peers = l.peers.length > 3 ? `${l.peers.slice(0, 3).join(', ')}, and ${l.peers.length - 3} more` : l.peers.join(', ');
    const head = `${l.peerNode} [${peers}] weight ${round(l.weight)}`;
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
