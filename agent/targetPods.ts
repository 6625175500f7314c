// Agent pods -> measurement targets, for Kubernetes discovery. Each agent pod stands for its node:
// the target's name is the pod's spec.nodeName, its address the pod's address on the measured
// L2S-M network (Multus network-status, else the static address in l2sm/networks), falling
// back to status.podIP. Pure: the agent feeds it the informer's current pod list.
import { isIP } from 'node:net';
import { addressOnNetwork } from '../src/l2sm.js';
import { isFinishedPhase, type PodLike } from '../src/kube/pod.js';

export interface TargetEntry {
  name: string;
  address: string;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** One target per node with a usable agent pod; self, unscheduled, terminating and address-less pods are skipped. */
export function targetsFromPods(pods: Iterable<PodLike>, opts: { self: string; network: string }): TargetEntry[] {
  const byNode = new Map<string, { target: TargetEntry; pod: string }>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node || node === opts.self || !NODE_NAME.test(node)) continue;
    if (pod.metadata?.deletionTimestamp) continue;
    if (isFinishedPhase(pod.status?.phase)) continue;
    const address = addressOnNetwork(pod.metadata?.annotations ?? {}, opts.network) ?? pod.status?.podIP;
    if (!address || isIP(address) === 0) continue;
    const podName = pod.metadata?.name ?? '';
    const seen = byNode.get(node);
    // Two agent pods on one node (a rollout): keep one, chosen the same way on every agent.
    if (!seen || podName < seen.pod) byNode.set(node, { target: { name: node, address }, pod: podName });
  }
  return [...byNode.values()].map((v) => v.target).sort(byName);
}

/** Static targets plus discovered ones; a static entry wins over a discovered one with the same name. */
export function mergeTargets(staticTargets: readonly TargetEntry[], discovered: readonly TargetEntry[], self?: string): TargetEntry[] {
  const out = new Map<string, TargetEntry>();
  for (const t of discovered) if (t.name !== self) out.set(t.name, t);
  for (const t of staticTargets) if (t.name !== self) out.set(t.name, t);
  return [...out.values()].sort(byName);
}

// Plain code-unit order, not locale order: every agent must sort the node list identically.
const byName = (a: TargetEntry, b: TargetEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
