// Agent pods -> measurement peers, for Kubernetes discovery. Each agent pod stands for its node:
// the peer's name is the pod's spec.nodeName, its address the pod's address on the measured
// L2S-M network (Multus network-status, else the static address in l2sm/networks), falling
// back to status.podIP. Pure: the agent feeds it the informer's current pod list.
import { isIP } from 'node:net';
import { addressOnNetwork } from '../src/l2sm.js';

export interface PeerEntry {
  name: string;
  address: string;
}

/** The parts of a V1Pod this mapping reads (structurally compatible with @kubernetes/client-node's V1Pod). */
export interface PodLike {
  metadata?: { name?: string; annotations?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: { nodeName?: string };
  status?: { podIP?: string; phase?: string };
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** One peer per node with a usable agent pod; self, unscheduled, terminating and address-less pods are skipped. */
export function peersFromPods(pods: Iterable<PodLike>, opts: { self: string; network: string }): PeerEntry[] {
  const byNode = new Map<string, { peer: PeerEntry; pod: string }>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node || node === opts.self || !NODE_NAME.test(node)) continue;
    if (pod.metadata?.deletionTimestamp) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const address = addressOnNetwork(pod.metadata?.annotations ?? {}, opts.network) ?? pod.status?.podIP;
    if (!address || isIP(address) === 0) continue;
    const podName = pod.metadata?.name ?? '';
    const seen = byNode.get(node);
    // Two agent pods on one node (a rollout): keep one, chosen the same way on every agent.
    if (!seen || podName < seen.pod) byNode.set(node, { peer: { name: node, address }, pod: podName });
  }
  return [...byNode.values()].map((v) => v.peer).sort(byName);
}

/** Static peers plus discovered ones; a static entry wins over a discovered one with the same name. */
export function mergePeers(staticPeers: readonly PeerEntry[], discovered: readonly PeerEntry[], self?: string): PeerEntry[] {
  const out = new Map<string, PeerEntry>();
  for (const p of discovered) if (p.name !== self) out.set(p.name, p);
  for (const p of staticPeers) if (p.name !== self) out.set(p.name, p);
  return [...out.values()].sort(byName);
}

// Plain code-unit order, not locale order: every agent must sort the node list identically.
const byName = (a: PeerEntry, b: PeerEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
