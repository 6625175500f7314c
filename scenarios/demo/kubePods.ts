// The demo's example pods through the real kube-schedulers (lab mode with the Kubernetes binaries,
// `lab up --kube`): each pod becomes a Pod object in the lab's API server (lpm-scheduler as its
// schedulerName, or bound by nodeName), is placed by lpm-scheduler calling the lab's lpm extender,
// and is explained from the extender's decisions (its /api/v1/decisions) and kube-scheduler's own
// events for the pod (Scheduled, or FailedScheduling with the reason).
import { CoreV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import type { Decision } from '../../extender/decisionLog.js';
import { kubeConfigFor } from '../../src/kube/podWatch.js';
import type { LabState } from '../lab/state.js';
import type { Placement } from '../runner/driver.js';
import { podId, type ScenarioPod } from '../scenarioFile.js';
import type { Topology } from '../topology.js';
import { explainPlacement } from './explain.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The topology with `pods` capacity per node (the demo's pods per node), for the lab's Nodes. */
export function withPodCapacity(topology: Topology, podsPerNode: number): Topology {
  return {
    ...topology,
    nodes: topology.nodes.map((n) => (n.capacity?.pods !== undefined ? n : { ...n, capacity: { ...(n.capacity ?? {}), pods: String(podsPerNode) } })),
  };
}

const eventText = (e: CoreV1Event) => `${e.reportingComponent || e.source?.component || '?'} ${e.reason}: ${e.message ?? ''}`;

async function labDecisions(extenderUrl: string, pod: string): Promise<Decision[]> {
  try {
    const q = new URLSearchParams({ pod, limit: '20' });
    const res = await fetch(`${extenderUrl}/api/v1/decisions?${q.toString()}`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return [];
    return ((await res.json()) as { decisions: Decision[] }).decisions;
  } catch {
    return [];
  }
}

/**
 * Creates the pods one after the other and prints where kube-scheduler put each, why (the
 * extender's decisions) and kube-scheduler's event. `weight`: the extender's weight in
 * lpm-scheduler's configuration (for the totals shown).
 */
export async function scheduleThroughKube(
  state: LabState,
  pods: readonly ScenarioPod[],
  o: { schedulerName: string; weight: number; out: (text: string) => void; signal: AbortSignal },
): Promise<void> {
  const k = state.kube!;
  const api = kubeConfigFor({ kubeconfig: k.kubeconfig }).makeApiClient(CoreV1Api);
  for (const ns of new Set(pods.map((p) => p.namespace)))
    if (ns !== 'default')
      await api.createNamespace({ body: { metadata: { name: ns } } }).catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
  for (const p of pods) {
    o.signal.throwIfAborted();
    const body: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels }, annotations: { ...p.annotations } },
      spec: {
        ...(p.nodeName !== undefined ? { nodeName: p.nodeName } : { schedulerName: o.schedulerName }),
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }],
      },
    };
    const made = await api.createNamespacedPod({ namespace: p.namespace, body });
    const events = async () =>
      (await api.listNamespacedEvent({ namespace: p.namespace, fieldSelector: `involvedObject.name=${p.name}` })).items.filter(
        (e) => e.involvedObject.uid === made.metadata?.uid,
      );
    let node: string | null = null;
    let evs: CoreV1Event[] = [];
    let failedAt = 0;
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      o.signal.throwIfAborted();
      const cur = await api.readNamespacedPod({ name: p.name, namespace: p.namespace });
      evs = await events();
      if (cur.spec?.nodeName) {
        node = cur.spec.nodeName;
        // Running (the hollow kubelet), and a moment for the extender's pod watch: the next pods' peers
        while (Date.now() < until && (await api.readNamespacedPod({ name: p.name, namespace: p.namespace })).status?.phase !== 'Running') await sleep(200);
        await sleep(500);
        evs = await events();
        break;
      }
      if (evs.some((e) => e.reason === 'FailedScheduling')) {
        failedAt ||= Date.now();
        if (Date.now() - failedAt > 3000) break;
      }
      await sleep(250);
    }
    const id = podId(p);
    const decisions = p.nodeName === undefined ? await labDecisions(k.extender!.url, id) : [];
    const filter = decisions.find((d) => d.verb === 'filter');
    const prioritize = decisions.find((d) => d.verb === 'prioritize');
    const failed = evs.filter((e) => e.reason === 'FailedScheduling').pop();
    const placement: Placement = {
      pod: id,
      node,
      ...(p.nodeName !== undefined ? { preplaced: true } : {}),
      ...(node === null ? { reason: failed?.message ?? 'not scheduled within 60s' } : {}),
      filtered: Object.fromEntries((filter?.nodes ?? []).filter((n) => n.filtered).map((n) => [n.node, n.filtered!])),
      // the extender's part of kube-scheduler's total (its plugins add their own scores)
      scores: (prioritize?.nodes ?? [])
        .map((n) => ({ node: n.node, extender: n.score, spread: 0, total: n.score * o.weight * 10 }))
        .sort((a, b) => b.total - a.total),
    };
    const lines = explainPlacement(placement, decisions);
    const shown = evs.filter((e) => e.reason === 'Scheduled' || e.reason === 'FailedScheduling').slice(-1);
    for (const e of shown) lines.push(`      kube-scheduler event: ${eventText(e)}`);
    o.out(lines.join('\n'));
  }
}
