// What the scheduling path needs to know about pods: where each one runs, and its labels and
// annotations (to resolve peers). Implemented by the informer-backed cache (Kubernetes) and by an
// in-memory store (scenario sim mode, tests). Reads are synchronous: no I/O while scheduling.

export interface PodInfo {
  namespace: string;
  name: string;
  uid?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** spec.nodeName; undefined while the pod is pending. */
  nodeName?: string;
  /** status.phase (Pending, Running, Succeeded, Failed, Unknown). */
  phase?: string;
}

export interface PodStore {
  /** True once the initial list has been loaded. */
  readonly ready: boolean;
  /** Every known pod (including pods placed by the extender but not yet confirmed by the watch). */
  pods(): Iterable<PodInfo>;
  get(namespace: string, name: string): PodInfo | undefined;
  /**
   * Remembers the node the extender chose for a pod, until the watch reports the pod bound
   * (kube-scheduler binds after our answer, and the watch event can arrive after the next pod's
   * scheduling request: without this, a burst of peers would not see each other).
   */
  recordChoice(pod: PodInfo, nodeName: string): void;

  // Optional indexes (PodCache and PodIndex have them), so peer resolution is a lookup instead
  // of a scan of every pod; callers fall back to filtering pods() when a store lacks them.
  // Results include assumed placements, like pods().
  /** Pods whose label `key` has exactly `value` (candidates for an equality selector requirement). */
  podsWithLabel?(key: string, value: string): Iterable<PodInfo>;
  /** Pods attached to the L2S-M network `network` (its name in `l2sm/networks`). */
  podsOnNetwork?(network: string): Iterable<PodInfo>;
  /** Pods of one namespace. */
  podsInNamespace?(namespace: string): Iterable<PodInfo>;
  /** Pods whose `lpm.l2sm.io/peers` may select a pod with these labels (../peers/peerAnnotations.ts PeerIndex). */
  peerDeclarersFor?(labels: Readonly<Record<string, string>>): Iterable<PodInfo>;
}
