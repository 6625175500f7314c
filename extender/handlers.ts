// The filter and prioritize verbs: parse the request, resolve the pod's peers once, evaluate every
// candidate against the current link matrix (no I/O), answer in the request's mode, and record the
// decision, the metrics and the pod's likely placement.
import {
  filterError,
  filterResult,
  parseExtenderArgs,
  type ExtenderArgs,
  type ExtenderFilterResult,
  type HostPriorityList,
} from './protocol.js';
import type { Logger } from '../src/log.js';
import { hasPeerIndex, peerCandidates, resolvePeers, type PeerOptions, type ResolvedPeers } from './peers/peerAnnotations.js';
import { describeLimits, parsePodLimits, type PodLimits } from './scoring/podLimits.js';
import { evaluate, explainLinks, violationText, type Evaluation, type NodeEvaluation, type ScoringConfig } from './scoring/scoring.js';
import { clipWarnings, lazyLinks, MAX_LINK_LINES, type Decision, type DecisionLog, type NodeDecision } from './decisionLog.js';
import type { ExtenderMetrics, Verb } from './metrics.js';
import type { PodInfo, PodStore } from './pods/podStore.js';
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
}

export interface VerbAnswer<T> {
  status: 200 | 400;
  body: T;
  decision: Decision;
}

interface Prepared {
  args: ExtenderArgs;
  pod: PodInfo;
  peers: ResolvedPeers;
  limits: PodLimits;
  snapshot: MatrixSnapshot | undefined;
  evaluation: Evaluation;
}

function toPodInfo(args: ExtenderArgs): PodInfo {
  const m = args.pod.metadata;
  const info: PodInfo = { namespace: m.namespace, name: m.name, labels: m.labels, annotations: m.annotations };
  if (m.uid) info.uid = m.uid;
  if (args.pod.spec?.nodeName) info.nodeName = args.pod.spec.nodeName;
  if (args.pod.status?.phase) info.phase = args.pod.status.phase;
  return info;
}

// The pods that can be the pod's peers: through the store's indexes when it has them (a few
// buckets instead of every pod in the cluster), else all of them.
function peerSearchSpace(pod: PodInfo, ctx: HandlerContext): Iterable<PodInfo> {
  const store = ctx.podStore;
  if (hasPeerIndex(store)) {
    const candidates = peerCandidates(pod, store, ctx.peers) as PodInfo[] | undefined;
    if (candidates) return candidates;
  }
  return store.pods();
}

function prepare(verb: Verb, args: ExtenderArgs, ctx: HandlerContext): Prepared {
  const pod = toPodInfo(args);
  // before the pod cache's first list we know no placements: no opinion rather than a wrong one
  const storeReady = ctx.podStore.ready;
  const peers = resolvePeers(pod, storeReady ? peerSearchSpace(pod, ctx) : [], ctx.peers);
  const limits = parsePodLimits(pod.annotations);
  // an annotation we cannot read is ignored (never an error): say so in the log and the decision
  if (peers.warnings.length || limits.warnings.length) {
    ctx.metrics.annotationWarnings.inc({ verb });
    ctx.logger?.warn(
      { pod: `${pod.namespace}/${pod.name}`, warnings: clipWarnings([...peers.warnings, ...limits.warnings]) },
      'pod annotations ignored',
    );
  }
  const snapshot = ctx.matrix();
  const now = ctx.now?.() ?? Date.now() / 1000;
  const evaluation = evaluate({
    candidates: args.nodeNames,
    peers,
    limits,
    matrix: snapshot?.matrix,
    now,
    config: ctx.scoring,
  });
  if (!storeReady) evaluation.neutralReason = 'pod cache not loaded yet';
  ctx.metrics.countLookups(evaluation.lookups);
  return { args, pod, peers, limits, snapshot, evaluation };
}

function nodeDecision(ev: NodeEvaluation, ctx: HandlerContext, detail: boolean): NodeDecision {
  const d: NodeDecision = { node: ev.node, raw: Math.round(ev.raw * 1e4) / 1e4, score: ev.score, unknown: ev.unknown, stale: ev.stale };
  if (ev.failed) d.filtered = violationText(ev.violations);
  if (detail) {
    // the values now (no reference to the matrix), the text when read
    const links = ev.linksUpTo(MAX_LINK_LINES);
    const peerNodes = ev.peerNodeCount;
    const scoring = ctx.scoring;
    lazyLinks(d, () => explainLinks(links, peerNodes, scoring));
  }
  return d;
}

// localeCompare's order without its per-call collator lookup (thousands of ties when neutral)
const byName = new Intl.Collator().compare;

const byScore = (a: NodeEvaluation, b: NodeEvaluation) => b.raw - a.raw || byName(a.node, b.node);

/** The first `k` of `items` in `cmp` order, without sorting them all (k is small, items up to 5000). */
function firstK<T>(items: Iterable<T>, k: number, cmp: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  if (k <= 0) return best;
  for (const x of items) {
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

/** The decision's node list: the best `detailNodes` with explanations, plus every filtered node (capped alike). */
function nodeDecisions(evaluation: Evaluation, ctx: HandlerContext): NodeDecision[] {
  const top = firstK(evaluation.nodes, ctx.detailNodes, byScore);
  const shown = new Set(top);
  const filtered = firstK(
    evaluation.nodes.filter((n) => n.failed && !shown.has(n)),
    ctx.detailNodes,
    byScore,
  );
  return [...top, ...filtered].map((n) => nodeDecision(n, ctx, true));
}

function baseDecision(verb: Verb, p: Prepared, ctx: HandlerContext, started: number): Omit<Decision, 'id'> {
  const { evaluation: ev } = p;
  const d: Omit<Decision, 'id'> = {
    time: new Date().toISOString(),
    verb,
    pod: `${p.pod.namespace}/${p.pod.name}`,
    mode: p.args.mode,
    outcome: ev.outcome,
    durationSeconds: (performance.now() - started) / 1000,
    candidates: p.args.nodeNames.length,
    limits: describeLimits(p.limits),
    peers: p.peers.peers.slice(0, 200).map((x) => ({ ...x })),
    unplacedPeers: p.peers.unplaced.slice(0, 200),
    warnings: [...p.peers.warnings, ...p.limits.warnings],
    matrix: p.snapshot ? { refreshedAt: p.snapshot.refreshedAt, links: p.snapshot.matrix.size } : null,
    lookups: ev.lookups,
  };
  if (ev.neutralReason) d.reason = ev.neutralReason;
  const unknown = ev.lookups.unknown;
  const stale = ev.lookups.stale;
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

/** POST /filter: remove nodes whose fresh measured links break the pod's limits. */
export function handleFilter(body: unknown, ctx: HandlerContext): VerbAnswer<ExtenderFilterResult> {
  const started = performance.now();
  const parsed = parseExtenderArgs(body);
  if (!parsed.ok)
    return { status: 400, body: filterError(parsed.error), decision: malformed('filter', parsed.error, ctx, started) };
  const p = prepare('filter', parsed.args, ctx);
  const failed: Record<string, string> = {};
  const passing = new Set<string>();
  for (const ev of p.evaluation.nodes) {
    if (!ev.failed) {
      passing.add(ev.node);
      continue;
    }
    failed[ev.node] = violationText(ev.violations);
    for (const reason of new Set(ev.violations.map((v) => v.reason))) ctx.metrics.countFiltered(reason);
  }
  // kube-scheduler skips prioritize when one node is left: that node is where the pod goes
  let chosen: string | null = null;
  if (passing.size === 1) {
    chosen = [...passing][0]!;
    ctx.podStore.recordChoice(p.pod, chosen);
  }
  const result = filterResult(p.args, passing, failed);
  ctx.metrics.decisions.inc({ verb: 'filter', outcome: p.evaluation.outcome });
  const decision = ctx.decisions.add({
    ...baseDecision('filter', p, ctx, started),
    passed: passing.size,
    chosen,
    nodes: nodeDecisions(p.evaluation, ctx),
  });
  if (Object.keys(failed).length)
    ctx.logger?.info({ pod: decision.pod, filtered: Object.keys(failed).length, passed: passing.size }, 'filtered nodes');
  return { status: 200, body: result, decision };
}

/** POST /prioritize: one integer score 0..10 per input node, in input order. */
export function handlePrioritize(body: unknown, ctx: HandlerContext): VerbAnswer<HostPriorityList | { Error: string }> {
  const started = performance.now();
  const parsed = parseExtenderArgs(body);
  if (!parsed.ok) return { status: 400, body: { Error: parsed.error }, decision: malformed('prioritize', parsed.error, ctx, started) };
  const p = prepare('prioritize', parsed.args, ctx);
  const list: HostPriorityList = p.evaluation.nodes.map((n) => ({ Host: n.node, Score: n.score }));

  // Remember where the pod will most likely go, so its peers scheduled next see it. Only a unique
  // top score says that: on a tie kube-scheduler's other plugins decide.
  let chosen: string | null = null;
  if (p.evaluation.outcome === 'scored' && list.length > 0) {
    let best = -1;
    let count = 0;
    for (const h of list)
      if (h.Score > best) {
        best = h.Score;
        count = 1;
        chosen = h.Host;
      } else if (h.Score === best) count++;
    if (count !== 1 || best <= 0) chosen = null;
    if (chosen) ctx.podStore.recordChoice(p.pod, chosen);
  }
  ctx.metrics.decisions.inc({ verb: 'prioritize', outcome: p.evaluation.outcome });
  const decision = ctx.decisions.add({ ...baseDecision('prioritize', p, ctx, started), chosen, nodes: nodeDecisions(p.evaluation, ctx) });
  ctx.logger?.debug({ pod: decision.pod, outcome: decision.outcome, chosen }, 'prioritized');
  return { status: 200, body: list, decision };
}
