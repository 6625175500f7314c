// Without HTTP: the scoring function alone (`evaluate` with the pod's peers already resolved),
// and the whole prioritize / filter handler on an already-parsed body (validation, peer
// resolution against the pod store, evaluation, decision log). The difference between the
// handler and the HTTP numbers is what HTTP and JSON cost.
import { extenderConfigSchema, scoringConfig } from '../extender/config.js';
import { parsePodLimits } from '../extender/scoring/podLimits.js';
import { resolvePeers } from '../extender/peers/peerAnnotations.js';
import { evaluate } from '../extender/scoring/scoring.js';
import { DecisionLog } from '../extender/decisionLog.js';
import { handleFilter, handlePrioritize, type HandlerContext } from '../extender/handlers.js';
import { ExtenderMetrics } from '../extender/metrics.js';
import { DEFAULT_ASSUME_TTL_MS, PodIndex } from '../extender/pods/podIndex.js';
import { buildMatrix, type Cluster, type ClusterBodies, requestBody } from './cluster.js';
import { timeLoop, type LoopResult } from './timeLoop.js';

export interface ScoringCaseResult {
  nodes: number;
  peers: number;
  /** evaluate() alone. */
  scoring: LoopResult;
  /** handlePrioritize / handleFilter on a parsed NodeNames body (no HTTP, no JSON). */
  prioritizeHandler: LoopResult;
  filterHandler: LoopResult;
}

export function runScoringCases(
  cluster: Cluster,
  bodies: ClusterBodies,
  opts: { durationMs: number; minOps: number },
): ScoringCaseResult[] {
  const config = extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: false } });
  const scoring = scoringConfig(config);
  // as the informer-backed cache holds it: choices assumed for 30 s
  const store = new PodIndex({ pods: cluster.pods, assumeTtlMs: DEFAULT_ASSUME_TTL_MS });
  const now = Date.now() / 1000;
  const snapshot = { matrix: buildMatrix(cluster, now), refreshedAt: now };
  const peerOpts = { networks: config.peers.networks, ignoreNetworks: config.peers.ignoreNetworks, defaultWeight: config.peers.defaultWeight };
  const ctx: HandlerContext = {
    podStore: store,
    matrix: () => snapshot,
    scoring,
    peers: peerOpts,
    decisions: new DecisionLog(config.decisions.keep),
    detailNodes: config.decisions.detailNodes,
    metrics: new ExtenderMetrics(() => undefined),
  };
  const loop = { durationMs: opts.durationMs, minOps: opts.minOps, warmup: 3 };
  return cluster.testPods.map((pod) => {
    const peers = resolvePeers(pod.info, store.pods(), peerOpts);
    const limits = parsePodLimits(pod.info.annotations);
    const candidates = cluster.nodeNames;
    const scoringResult = timeLoop(
      () => evaluate({ candidates, peers, limits, matrix: snapshot.matrix, now, config: scoring }),
      loop,
    );
    const body = JSON.parse(requestBody(pod, bodies, 'nodeNames')) as unknown;
    const check = (a: { status: number }) => {
      if (a.status !== 200) throw new Error(`handler answered ${a.status}`);
    };
    const prioritizeHandler = timeLoop(() => check(handlePrioritize(body, ctx)), loop);
    const filterHandler = timeLoop(() => check(handleFilter(body, ctx)), loop);
    return { nodes: cluster.nodeNames.length, peers: pod.peers, scoring: scoringResult, prioritizeHandler, filterHandler };
  });
}
