// Cluster mode: the scenario's pods are created in the cluster of KUBECONFIG, in arrival order,
// with the scenario's schedulerName (our KubeSchedulerConfiguration profile with the extender);
// each one is awaited until it is bound or reported unschedulable; all are deleted at the end.
// Only the lpm placement exists here, and link changes (events) cannot be applied.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { podId, type Scenario } from '../scenarioFile.js';
import type { Placement } from './driver.js';
import { clusterPod, podOutcome } from './clusterPods.js';
import type { PlacementRun } from './placementRun.js';
import type { RunOptions } from './run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a pod may stay pending before it counts as unschedulable. */
const SCHEDULE_TIMEOUT_MS = 60_000;

export async function runCluster(s: Scenario, name: string, opts: RunOptions): Promise<PlacementRun[]> {
  if (s.events.length) throw new Error('cluster mode cannot change links: the scenario has events (run it in sim or lab mode)');
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  const api = kc.makeApiClient(CoreV1Api);

  const clusterNodes = new Set((await api.listNode()).items.map((n) => n.metadata?.name ?? ''));
  const missing = s.topology.nodes.map((n) => n.name).filter((n) => !clusterNodes.has(n));
  if (missing.length)
    throw new Error(`the cluster has no node ${missing.join(', ')} (its nodes: ${[...clusterNodes].join(', ')}); the scenario's node names must match`);

  const created: Array<{ name: string; namespace: string }> = [];
  const placements: Placement[] = [];
  try {
    for (const pod of s.pods) {
      const body = clusterPod(pod, s, name);
      await api.createNamespacedPod({ namespace: pod.namespace, body });
      created.push({ name: pod.name, namespace: pod.namespace });
      const until = Date.now() + SCHEDULE_TIMEOUT_MS;
      let p: Placement = { pod: podId(pod), node: null, reason: `still pending after ${SCHEDULE_TIMEOUT_MS / 1000}s`, filtered: {}, scores: [] };
      while (Date.now() < until) {
        const o = podOutcome(await api.readNamespacedPod({ name: pod.name, namespace: pod.namespace }));
        if (o.state === 'scheduled') {
          p = { pod: podId(pod), node: o.node, ...(pod.nodeName ? { preplaced: true } : {}), filtered: {}, scores: [] };
          break;
        }
        if (o.state === 'unschedulable') {
          p = { pod: podId(pod), node: null, reason: o.message, filtered: {}, scores: [] };
          break;
        }
        await sleep(500);
      }
      opts.progress(`  cluster  ${p.pod} -> ${p.node ?? `unschedulable: ${p.reason}`}`);
      placements.push(p);
    }
    return [{ name: 'lpm', placements, nodeOf: new Map(placements.map((x) => [x.pod, x.node])) }];
  } finally {
    for (const c of created.reverse())
      await api
        .deleteNamespacedPod({ name: c.name, namespace: c.namespace, gracePeriodSeconds: 0 })
        .catch((err: Error) => opts.progress(`  could not delete pod ${c.namespace}/${c.name}: ${err.message}`));
  }
}
