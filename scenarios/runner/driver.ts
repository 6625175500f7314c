// The scheduling driver: what kube-scheduler does for a pod when an extender is configured
// (nodeCacheCapable: true), reduced to the parts that matter for placement:
//   1. its own filters (here: node capacity, NodeResourcesFit-like);
//   2. POST /filter to the extender with the feasible node names; nodes it fails are gone;
//      none left -> unschedulable; exactly one left -> that node, no scoring (as kube-scheduler);
//   3. POST /prioritize; total(n) = Score(n) × weight × 10 + spreadWeight × spread(n);
//   4. the highest total wins; ties go to the first node name (kube-scheduler picks at random);
//   5. bind: the pod store learns the placement, so the next pods see this one as a peer.
// Without an extender (the "default" placement) steps 2-3 are skipped: spread only.
import type { PodIndex } from '../../extender/pods/podIndex.js';
import type { ScenarioPod } from '../scenarioFile.js';
import { podId } from '../scenarioFile.js';
import type { ExtenderClient } from './extenderClient.js';
import { podObject, podUid } from './podObject.js';
import { nodeHasRoom, spreadScore } from './spread.js';

export interface NodeScore {
  node: string;
  /** The extender's 0..10 score (absent: no extender, or prioritize was not called). */
  extender?: number;
  spread: number;
  total: number;
}

export interface Placement {
  pod: string;
  /** null: unschedulable. */
  node: string | null;
  /** Bound by the scenario (nodeName), not scheduled. */
  preplaced?: boolean;
  /** Why it is unschedulable. */
  reason?: string;
  /** Nodes removed, and why (capacity or the extender's filter). */
  filtered: Record<string, string>;
  /** Scores of the nodes that were scored, best first. */
  scores: NodeScore[];
  /** Lab mode through kube-scheduler: who placed it (scheduler name, or "bound by nodeName"). */
  scheduler?: string;
  /** Lab mode through kube-scheduler: the pod's events ("COMPONENT REASON: message"), oldest first. */
  events?: string[];
}

/** Where placements go: the extender's pod store in sim/lab mode. */
export interface PodSink {
  /** The pod exists (pending). */
  arrived(pod: ScenarioPod): void;
  /** The pod is bound to `node`. */
  bound(pod: ScenarioPod, node: string): void;
}

/** A sink that tells the extender's pod store, as a pod watch would. */
export function podStoreSink(store: Pick<PodIndex, 'upsert'>): PodSink {
  const info = (p: ScenarioPod) => ({ namespace: p.namespace, name: p.name, labels: p.labels, annotations: p.annotations });
  return {
    arrived: (p) => store.upsert({ ...info(p), phase: 'Pending' }),
    bound: (p, node) => store.upsert({ ...info(p), nodeName: node, phase: 'Running' }),
  };
}

export interface DriverOptions {
  nodes: readonly string[];
  /** Extender weight (KubeSchedulerConfiguration extenders[].weight). */
  weight: number;
  spreadWeight: number;
  podsPerNode: number;
  /** Per-node exceptions to podsPerNode. */
  capacity?: Readonly<Record<string, number>>;
  schedulerName: string;
  /** Undefined: no extender (default-like placement). */
  extender?: ExtenderClient;
  sink?: PodSink;
  /** Tag for pod UIDs. */
  run?: string;
}

export class SchedulingDriver {
  private readonly load = new Map<string, number>();
  readonly placements: Placement[] = [];

  constructor(private readonly opts: DriverOptions) {
    for (const n of opts.nodes) this.load.set(n, 0);
  }

  podsOn(node: string): number {
    return this.load.get(node) ?? 0;
  }

  capacityOf(node: string): number {
    return this.opts.capacity?.[node] ?? this.opts.podsPerNode;
  }

  /** Places one pod (or binds it to its nodeName) and records the placement. */
  async schedule(pod: ScenarioPod): Promise<Placement> {
    const p = await this.decide(pod);
    if (p.node !== null) {
      this.load.set(p.node, this.podsOn(p.node) + 1);
      this.opts.sink?.bound(pod, p.node);
    }
    this.placements.push(p);
    return p;
  }

  private async decide(pod: ScenarioPod): Promise<Placement> {
    const { opts } = this;
    const id = podId(pod);
    this.opts.sink?.arrived(pod);
    if (pod.nodeName !== undefined) return { pod: id, node: pod.nodeName, preplaced: true, filtered: {}, scores: [] };

    const filtered: Record<string, string> = {};
    let feasible = opts.nodes.filter((n) => {
      if (nodeHasRoom(this.podsOn(n), this.capacityOf(n))) return true;
      filtered[n] = `node is full (${this.podsOn(n)}/${this.capacityOf(n)} pods)`;
      return false;
    });
    if (feasible.length === 0) return { pod: id, node: null, reason: 'no node has room', filtered, scores: [] };

    const body = podObject(pod, { schedulerName: opts.schedulerName, uid: podUid(pod, opts.run ?? 'scenario') });
    if (opts.extender) {
      const f = await opts.extender.filter(body, feasible);
      Object.assign(filtered, f.failed);
      const passed = new Set(f.passed);
      feasible = feasible.filter((n) => passed.has(n));
      if (feasible.length === 0)
        return { pod: id, node: null, reason: 'the extender filtered every node', filtered, scores: [] };
    }
    if (feasible.length === 1) return { pod: id, node: feasible[0]!, filtered, scores: [] };

    const ext = opts.extender ? await opts.extender.prioritize(body, feasible) : undefined;
    const scores = feasible.map((node): NodeScore => {
      const spread = spreadScore(this.podsOn(node), this.capacityOf(node));
      const e = ext?.get(node);
      const total = (e ?? 0) * opts.weight * 10 + opts.spreadWeight * spread;
      return { node, ...(ext ? { extender: e ?? 0 } : {}), spread, total };
    });
    scores.sort((a, b) => b.total - a.total || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { pod: id, node: scores[0]!.node, filtered, scores };
  }
}

/** "node3 (total 590 = ext 10×5×10 + spread 90); node2 ..." for progress lines and failures. */
export function describePlacement(p: Placement, weight: number): string {
  if (p.preplaced) return `${p.node} (pre-placed)`;
  const parts: string[] = [];
  if (p.node === null) parts.push(`unschedulable: ${p.reason}`);
  else parts.push(p.node);
  if (p.scores.length)
    parts.push(
      'scores ' +
        p.scores
          .map((s) => `${s.node}=${s.total}${s.extender !== undefined ? ` (ext ${s.extender}×${weight}×10 + spread ${s.total - s.extender * weight * 10})` : ''}`)
          .join(', '),
    );
  const f = Object.entries(p.filtered);
  if (f.length) parts.push('filtered ' + f.map(([n, why]) => `${n}: ${why}`).join('; '));
  return parts.join(' | ');
}
