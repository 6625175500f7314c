// The filter and prioritize verbs: parse the request, resolve the pod's peers once, evaluate every
// candidate against the current link matrix (no I/O), answer in the request's mode, and record the
// decision, the metrics and the pod's likely placement.
//
// One evaluation per pod per scheduling cycle: kube-scheduler calls filter, then prioritize, for
// the same pod. filter keeps what it prepared (peers, their nodes, limits, evaluation) in a
// PreparedCache (preparedCache.ts) and prioritize reuses it while it holds. A pod that declares no
// limit is not evaluated by filter at all: every node passes, at once.
import { parseExtenderArgs, filterError, type ExtenderArgs, type ExtenderFilterResult, type HostPriorityList } from './protocol.js';
import type { Logger } from '../src/log.js';
import { L2SM_NETWORKS_ANNOTATION } from '../src/l2sm.js';
import {
  PEER_WEIGHTS_ANNOTATION,
  PEERS_ANNOTATION,
  peerLookups,
  resolvePeers,
  withKnownAnnotations,
  type PeerOptions,
  type ResolvedPeers,
} from './peers/peerAnnotations.js';
import type { PodEventSink } from './events.js';
import { describeLimits, MAX_RTT_ANNOTATION, MIN_BANDWIDTH_ANNOTATION, parsePodLimits, type PodLimits } from './scoring/podLimits.js';
import { evaluate, explainLinks, scoresOf, violationText, type Evaluation, type LinkView, type ScoringConfig } from './scoring/scoring.js';
import { clipWarnings, lazyLinks, MAX_LINK_LINES, type Decision, type DecisionLog, type NodeDecision } from './decisionLog.js';
import type { ExtenderMetrics, Verb } from './metrics.js';
import type { PodInfo, PodStore } from './pods/podStore.js';
import { PreparedCache, preparedPodKey, type PreparedStamp } from './preparedCache.js';
import type { MatrixSnapshot } from './sources/source.js';

export interface HandlerContext {
  podStore: PodStore;
  /** The current link matrix, undefined before the first refresh. */
  matrix: () => MatrixSnapshot | undefined;
  scoring: ScoringConfig;
  peers: PeerOptions;
  decisions: DecisionLog;
  /** Nodes per decision with a full link explanation. */
  detailNodes: number;
  metrics: ExtenderMetrics;
  logger?: Logger;
  /** Unix seconds (tests move time). */
  now?: () => number;
  /** Kubernetes Events on pods whose annotations were ignored for exceeding a cap (kubernetes.events). */
  events?: PodEventSink;
  /** filter's prepared state for prioritize; without it every call prepares its own. */
  prepared?: PreparedCache<Prepared>;
  /** The traffic matrix peers.traffic reads (its identity; a prepared state holds while it is the same). */
  trafficMatrix?: () => object | undefined;
}

export interface VerbAnswer<T> {
  status: 200 | 400;
  body: T;
  decision: Decision;
}

/** What a scheduling cycle prepares for a pod (kept from filter to prioritize). */
export interface Prepared {
  pod: PodInfo;
  peers: ResolvedPeers;
  limits: PodLimits;
  snapshot: MatrixSnapshot | undefined;
  evaluation: Evaluation;
  /** filter: the candidates that passed (indexes into evaluation.candidates), in input order. */
  passed?: Int32Array;
}

/** The pod annotations lpm reads: what a prepared state depends on besides identity and labels. */
const LPM_ANNOTATIONS = [PEERS_ANNOTATION, PEER_WEIGHTS_ANNOTATION, L2SM_NETWORKS_ANNOTATION, MAX_RTT_ANNOTATION, MIN_BANDWIDTH_ANNOTATION];

function toPodInfo(args: ExtenderArgs): PodInfo {
  const m = args.pod.metadata;
  const info: PodInfo = { namespace: m.namespace, name: m.name, labels: m.labels, annotations: m.annotations };
  if (m.uid) info.uid = m.uid;
  if (args.pod.spec?.nodeName) info.nodeName = args.pod.spec.nodeName;
  if (args.pod.status?.phase) info.phase = args.pod.status.phase;
  return info;
}

/** The request's pod, and the store's copy of the same pod version when it has it (its annotations are compiled already). */
function podOf(args: ExtenderArgs, ctx: HandlerContext): { pod: PodInfo; known: PodInfo | undefined } {
  const known = ctx.podStore.get(args.pod.metadata.namespace, args.pod.metadata.name);
  return { pod: withKnownAnnotations(toPodInfo(args), known), known };
}

const cacheKey = (pod: PodInfo): string => pod.uid || `${pod.namespace}/${pod.name}`;

/** The stamp of a state prepared now, but for the store's bucket versions (PreparedCache.get reads those). */
function stampNow(pod: PodInfo, ctx: HandlerContext): Omit<PreparedStamp, 'reads' | 'versions'> {
  return {
    pod: preparedPodKey(pod, LPM_ANNOTATIONS),
    matrix: ctx.matrix()?.matrix,
    traffic: ctx.trafficMatrix?.(),
    storeReady: ctx.podStore.ready,
  };
}

/** Annotations over a cap: counted, and (for a pod the store knows, same uid) an Event on the pod. */
function reportCaps(pod: PodInfo, peers: ResolvedPeers, known: PodInfo | undefined, ctx: HandlerContext): void {
  const hits = peers.capHits;
  if (!hits?.length) return;
  for (const h of hits) ctx.metrics.annotationCaps.inc({ annotation: h.annotation, cap: h.cap });
  if (ctx.events && pod.uid && known?.uid === pod.uid) ctx.events.annotationsIgnored(pod, `lpm ignored: ${hits.map((h) => h.message).join('; ')}`);
}

/** An annotation we cannot read is ignored (never an error): say so in the log and the decision. */
function reportWarnings(verb: Verb, pod: PodInfo, warnings: readonly string[], ctx: HandlerContext): void {
  if (!warnings.length) return;
  ctx.metrics.annotationWarnings.inc({ verb });
  ctx.logger?.warn({ pod: `${pod.namespace}/${pod.name}`, warnings: clipWarnings(warnings) }, 'pod annotations ignored');
}

/** Resolves the pod's peers and evaluates every candidate: the work of a cycle, with the stamp it holds under. */
function prepare(
  verb: Verb,
  pod: PodInfo,
  known: PodInfo | undefined,
  candidates: readonly string[],
  limits: PodLimits,
  ctx: HandlerContext,
): { prepared: Prepared; stamp: PreparedStamp } {
  const stamp = stampNow(pod, ctx);
  const store = ctx.podStore;
  // Before the pod cache's first list we know no placements: no opinion rather than a wrong one.
  // Otherwise the pods that can be peers: a few index buckets (peerLookups) instead of every pod
  // in the cluster, read with their versions so the result can be reused while they hold.
  const reads = stamp.storeReady ? peerLookups(pod, ctx.peers) : [];
  const versions = reads.map((l) => store.bucketVersion(l.index, l.key));
  const space = new Set<PodInfo>();
  for (const l of reads) for (const q of store.lookup(l.index, l.key)) space.add(q);
  const peers = resolvePeers(pod, space, ctx.peers);
  reportCaps(pod, peers, known, ctx);
  reportWarnings(verb, pod, [...peers.warnings, ...limits.warnings], ctx);
  const snapshot = ctx.matrix();
  const evaluation = evaluate({
    candidates,
    peers,
    limits,
    matrix: snapshot?.matrix,
    now: ctx.now?.() ?? Date.now() / 1000,
    config: ctx.scoring,
  });
  if (!stamp.storeReady) evaluation.neutralReason = 'pod cache not loaded yet';
  ctx.metrics.countLookups(evaluation.lookups);
  return { prepared: { pod, peers, limits, snapshot, evaluation }, stamp: { ...stamp, matrix: snapshot?.matrix, reads, versions } };
}

/**
 * Where prioritize's candidates are in a prepared evaluation: undefined when it evaluated exactly
 * them, in order; the indexes otherwise; null when one of them was not evaluated.
 */
function positions(p: Prepared, names: readonly string[]): Int32Array | undefined | null {
  const ev = p.evaluation;
  const same = (which: ArrayLike<number> | undefined) => {
    const n = which ? which.length : ev.candidates.length;
    if (n !== names.length) return false;
    for (let k = 0; k < n; k++) if (ev.candidates[which ? which[k]! : k] !== names[k]) return false;
    return true;
  };
  // kube-scheduler offers prioritize the nodes filter let through, in the order filter answered
  if (p.passed && same(p.passed)) return p.passed;
  if (same(undefined)) return undefined;
  const at = new Map<string, number>();
  for (let c = 0; c < ev.candidates.length; c++) at.set(ev.candidates[c]!, c);
  const which = new Int32Array(names.length);
  for (let k = 0; k < names.length; k++) {
    const c = at.get(names[k]!);
    if (c === undefined) return null;
    which[k] = c;
  }
  return which;
}

// localeCompare's order without its per-call collator lookup
const byName = new Intl.Collator().compare;

/** The first `k` of `items` in `cmp` order, without sorting them all (k is small, items up to 5000). */
function firstK(items: ArrayLike<number>, k: number, cmp: (a: number, b: number) => number): number[] {
  const best: number[] = [];
  if (k <= 0) return best;
  for (let i = 0; i < items.length; i++) {
    const x = items[i]!;
    if (best.length === k && cmp(x, best[k - 1]!) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(best[mid]!, x) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, x);
    if (best.length > k) best.pop();
  }
  return best;
}

/** 0, 1, ..., n - 1. */
function range(n: number): Int32Array {
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  return r;
}

/**
 * The decision's node list: the best `detailNodes` of the answered candidates, plus the filtered
 * ones (capped alike), each with its numbers now and its explanation lines made when read (from
 * link values copied now: a kept decision must not hold the matrix). `which[k]` is the evaluation
 * index of answered candidate k (all in order when undefined), `scores[k]` its answered score. A
 * neutral evaluation has nothing to say per node (every raw score 0): no list.
 */
function nodeDecisions(ev: Evaluation, which: Int32Array | undefined, scores: Uint8Array, ctx: HandlerContext): NodeDecision[] {
  if (ev.outcome === 'neutral') return [];
  const { raw, candidates } = ev;
  const n = scores.length;
  const at = (k: number) => (which ? which[k]! : k);
  const byScore = (a: number, b: number) => raw[at(b)]! - raw[at(a)]! || byName(candidates[at(a)]!, candidates[at(b)]!);
  const top = firstK(range(n), ctx.detailNodes, byScore);
  let shown = top;
  if (ev.failed.length) {
    const inTop = new Set(top);
    const failed: number[] = [];
    for (let k = 0; k < n; k++) if (!inTop.has(k) && ev.isFailed(at(k))) failed.push(k);
    shown = [...top, ...firstK(failed, ctx.detailNodes, byScore)];
  }
  const scoring = ctx.scoring;
  return shown.map((k) => {
    const node = ev.node(at(k));
    const d: NodeDecision = { node: node.node, raw: Math.round(node.raw * 1e4) / 1e4, score: scores[k]!, unknown: node.unknown, stale: node.stale };
    if (node.failed) d.filtered = violationText(node.violations);
    explainLater(d, node.linksLater(MAX_LINK_LINES), node.peerNodeCount, scoring);
    return d;
  });
}

/**
 * Gives `d` its explanation lines, made when read. A function of its own, so that the closure
 * kept in the decision log holds these values only: made inside nodeDecisions it would share that
 * scope's context, which holds the whole evaluation (every candidate) and its matrix.
 */
function explainLater(d: NodeDecision, links: () => LinkView[], peerNodes: number, scoring: ScoringConfig): void {
  const lines = Math.min(MAX_LINK_LINES, peerNodes) + (peerNodes > MAX_LINK_LINES ? 1 : 0);
  lazyLinks(d, () => explainLinks(links(), peerNodes, scoring), lines);
}

/**
 * The link values met scoring the candidates at `which` (indexes into the evaluation): what an
 * evaluation of those alone counts. Per candidate, RTT and bandwidth towards every peer node but
 * its own; of those, unknown and stale as counted, the rest fresh.
 */
function lookupsOf(p: Prepared, which: Int32Array | undefined): Evaluation['lookups'] {
  const ev = p.evaluation;
  if (which === undefined || ev.outcome === 'neutral') return ev.lookups;
  const peerNodes = p.peers.weightByNode;
  const out = { fresh: 0, stale: 0, unknown: 0 };
  for (const c of which) {
    const u = ev.unknown[c]!;
    const s = ev.stale[c]!;
    out.unknown += u;
    out.stale += s;
    out.fresh += 2 * (peerNodes.size - (peerNodes.has(ev.candidates[c]!) ? 1 : 0)) - u - s;
  }
  return out;
}

function baseDecision(verb: Verb, args: ExtenderArgs, p: Prepared, ctx: HandlerContext, started: number, which?: Int32Array): Omit<Decision, 'id'> {
  const { evaluation: ev } = p;
  const lookups = lookupsOf(p, which);
  const d: Omit<Decision, 'id'> = {
    time: new Date().toISOString(),
    verb,
    pod: `${p.pod.namespace}/${p.pod.name}`,
    mode: args.mode,
    outcome: ev.outcome,
    durationSeconds: (performance.now() - started) / 1000,
    candidates: args.nodeNames.length,
    limits: describeLimits(p.limits),
    // the resolved lists as they are (nothing changes them; the log caps what it keeps)
    peers: p.peers.peers,
    unplacedPeers: p.peers.unplaced,
    warnings: [...p.peers.warnings, ...p.limits.warnings],
    matrix: p.snapshot ? { refreshedAt: p.snapshot.refreshedAt, links: p.snapshot.matrix.size } : null,
    lookups,
  };
  if (ev.neutralReason) d.reason = ev.neutralReason;
  const { unknown, stale } = lookups;
  if (unknown || stale)
    d.warnings.push(
      `${unknown} unknown and ${stale} stale link values counted as neutral (quality ${ctx.scoring.unknownQuality}), never used to filter`,
    );
  return d;
}

function malformed(verb: Verb, error: string, ctx: HandlerContext, started: number): Decision {
  ctx.metrics.decisions.inc({ verb, outcome: 'error' });
  ctx.logger?.warn({ verb, err: error }, 'malformed extender request');
  return ctx.decisions.add({
    time: new Date().toISOString(),
    verb,
    pod: '',
    mode: 'nodeNames',
    outcome: 'error',
    reason: error,
    durationSeconds: (performance.now() - started) / 1000,
    candidates: 0,
    warnings: [],
  });
}

/** The pod store records the choice only for a pending pod it knows (same uid), once per version: PodIndex.recordChoice. */
function recordChoice(pod: PodInfo, node: string, ctx: HandlerContext): boolean {
  const recorded = ctx.podStore.recordChoice(pod, node);
  ctx.metrics.assumedPlacements.inc({ result: recorded ? 'recorded' : 'refused' });
  return recorded;
}

/**
 * The filter answer in the request's mode for the candidates at `passed` (indexes into the
 * request's nodes, in order; all when undefined): NodeNames mode answers NodeNames, NodeList mode
 * the original Node objects of the passing nodes (kube-scheduler reads only Nodes in that mode).
 */
function filterAnswer(args: ExtenderArgs, passed: Int32Array | undefined, failed: Record<string, string>): ExtenderFilterResult {
  const pick = <T>(all: readonly T[]): T[] => (passed ? Array.from(passed, (c) => all[c]!) : (all as T[]));
  const rest = { FailedNodes: {}, FailedAndUnresolvableNodes: failed, Error: '' };
  if (args.mode === 'nodeNames') return { Nodes: null, NodeNames: pick(args.nodeNames), ...rest };
  const list = args.nodeList!;
  return { Nodes: { ...list.list, items: pick(list.items) }, NodeNames: null, ...rest };
}

/** POST /filter: remove nodes whose fresh measured links break the pod's limits. */
export function handleFilter(body: unknown, ctx: HandlerContext): VerbAnswer<ExtenderFilterResult> {
  const started = performance.now();
  const parsed = parseExtenderArgs(body);
  if (!parsed.ok)
    return { status: 400, body: filterError(parsed.error), decision: malformed('filter', parsed.error, ctx, started) };
  const args = parsed.value;
  const { pod, known } = podOf(args, ctx);
  const limits = parsePodLimits(pod.annotations);
  if (limits.maxRtt === undefined && limits.minBandwidth === undefined) return passAll(args, pod, limits, ctx, started);

  const { prepared: p, stamp } = prepare('filter', pod, known, args.nodeNames, limits, ctx);
  const ev = p.evaluation;
  const count = args.nodeNames.length;
  const failed: Record<string, string> = {};
  const passed = new Int32Array(count - ev.failed.length);
  const byReason = { max_rtt: 0, min_bandwidth: 0 };
  for (let c = 0, f = 0, k = 0; c < count; c++) {
    if (ev.failed[f] !== c) {
      passed[k++] = c;
      continue;
    }
    f++;
    const node = ev.node(c);
    failed[node.node] = violationText(node.violations);
    for (const v of node.violations) byReason[v.reason]++;
  }
  for (const reason of ['max_rtt', 'min_bandwidth'] as const) if (byReason[reason]) ctx.metrics.countFiltered(reason, byReason[reason]);
  // kube-scheduler skips prioritize when one node is left: that node is where the pod goes
  let chosen: string | null = null;
  let assumed = false;
  if (passed.length === 1) {
    chosen = args.nodeNames[passed[0]!]!;
    assumed = recordChoice(p.pod, chosen, ctx);
  } else if (passed.length > 1) ctx.prepared?.set(cacheKey(pod), stamp, { ...p, passed }, count);
  const result = filterAnswer(args, passed.length === count ? undefined : passed, failed);
  ctx.metrics.decisions.inc({ verb: 'filter', outcome: ev.outcome });
  const decision = ctx.decisions.add({
    ...baseDecision('filter', args, p, ctx, started),
    passed: passed.length,
    chosen,
    ...(chosen ? { assumed } : {}),
    nodes: nodeDecisions(ev, undefined, scoresOf(ev.raw), ctx),
  });
  if (ev.failed.length) ctx.logger?.info({ pod: decision.pod, filtered: ev.failed.length, passed: passed.length }, 'filtered nodes');
  return { status: 200, body: result, decision };
}

/** filter for a pod that declares no limit: every node passes, nothing is resolved or evaluated. */
function passAll(args: ExtenderArgs, pod: PodInfo, limits: PodLimits, ctx: HandlerContext, started: number): VerbAnswer<ExtenderFilterResult> {
  reportWarnings('filter', pod, limits.warnings, ctx);
  const count = args.nodeNames.length;
  let chosen: string | null = null;
  let assumed = false;
  if (count === 1) {
    chosen = args.nodeNames[0]!;
    assumed = recordChoice(pod, chosen, ctx);
  }
  ctx.metrics.decisions.inc({ verb: 'filter', outcome: 'neutral' });
  const decision = ctx.decisions.add({
    time: new Date().toISOString(),
    verb: 'filter',
    pod: `${pod.namespace}/${pod.name}`,
    mode: args.mode,
    outcome: 'neutral',
    reason: 'the pod declares no limit (lpm.l2sm.io/max-rtt, lpm.l2sm.io/min-bandwidth): every node passes',
    durationSeconds: (performance.now() - started) / 1000,
    candidates: count,
    limits: describeLimits(limits),
    warnings: [...limits.warnings],
    passed: count,
    chosen,
    ...(chosen ? { assumed } : {}),
  });
  return { status: 200, body: filterAnswer(args, undefined, {}), decision };
}

/** POST /prioritize: one integer score 0..10 per input node, in input order. */
export function handlePrioritize(body: unknown, ctx: HandlerContext): VerbAnswer<HostPriorityList | { Error: string }> {
  const started = performance.now();
  const parsed = parseExtenderArgs(body);
  if (!parsed.ok) return { status: 400, body: { Error: parsed.error }, decision: malformed('prioritize', parsed.error, ctx, started) };
  const args = parsed.value;
  const { pod, known } = podOf(args, ctx);

  // filter's state for this pod, if it still holds and evaluated these candidates; the cycle ends here
  let p: Prepared | undefined;
  let which: Int32Array | undefined;
  const cache = ctx.prepared;
  if (cache) {
    const key = cacheKey(pod);
    const got = cache.get(key, stampNow(pod, ctx), ctx.podStore);
    cache.delete(key);
    if ('value' in got) {
      const at = positions(got.value, args.nodeNames);
      if (at !== null) {
        p = got.value;
        which = at;
        // the warnings of the state (filter logged them for its call)
        reportWarnings('prioritize', pod, [...p.peers.warnings, ...p.limits.warnings], ctx);
      }
    }
    ctx.metrics.preparedStates.inc({ result: p ? 'reused' : 'computed' });
  }
  p ??= prepare('prioritize', pod, known, args.nodeNames, parsePodLimits(pod.annotations), ctx).prepared;
  const ev = p.evaluation;
  // scaled over the candidates asked about, as if evaluated alone
  const scores = scoresOf(ev.raw, which);
  const list: HostPriorityList = new Array<HostPriorityList[number]>(scores.length);
  for (let k = 0; k < scores.length; k++) list[k] = { Host: args.nodeNames[k]!, Score: scores[k]! };

  // Remember where the pod will most likely go, so its peers scheduled next see it. Only a unique
  // top score says that: on a tie kube-scheduler's other plugins decide.
  let chosen: string | null = null;
  let assumed = false;
  if (ev.outcome === 'scored' && list.length > 0) {
    let best = -1;
    let count = 0;
    for (const h of list)
      if (h.Score > best) {
        best = h.Score;
        count = 1;
        chosen = h.Host;
      } else if (h.Score === best) count++;
    if (count !== 1 || best <= 0) chosen = null;
    if (chosen) assumed = recordChoice(p.pod, chosen, ctx);
  }
  ctx.metrics.decisions.inc({ verb: 'prioritize', outcome: ev.outcome });
  const decision = ctx.decisions.add({
    ...baseDecision('prioritize', args, p, ctx, started, which),
    chosen,
    ...(chosen ? { assumed } : {}),
    nodes: nodeDecisions(ev, which, scores, ctx),
  });
  ctx.logger?.debug({ pod: decision.pod, outcome: decision.outcome, chosen }, 'prioritized');
  return { status: 200, body: list, decision };
}
