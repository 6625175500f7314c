// What the scheduling path needs to know about pods: where each one runs, and its labels and
// annotations (to resolve peers). One implementation, PodIndex (podIndex.ts), with the indexes
// peer resolution looks pods up by: with Kubernetes it is PodCache (a PodIndex fed by a pod
// watch), without it the config's pods (scenario sim mode, demo, tests: whoever owns the store
// upserts). Reads are synchronous: no I/O while scheduling.
import type { PeerIndex } from '../peers/peerAnnotations.js';

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

/**
 * The indexes of PeerIndex (by label, L2S-M network, namespace, reverse peer selector) make peer
 * resolution a lookup instead of a scan of every pod; like pods(), they include assumed placements.
 */
/** The store's indexes (PeerIndex's lookups), for bucketVersion. */
export type PodIndexName = 'namespace' | 'label' | 'network' | 'peerSelector';

export interface PodStore extends PeerIndex {
  /** True once the initial list has been loaded. */
  readonly ready: boolean;
  /** Every known pod (including pods placed by the extender but not yet confirmed by the watch). */
  pods(): Iterable<PodInfo>;
  get(namespace: string, name: string): PodInfo | undefined;
  /**
   * Remembers the node the extender chose for a pod, until the watch reports the pod bound
   * (kube-scheduler binds after our answer, and the watch event can arrive after the next pod's
   * scheduling request: without this, a burst of peers would not see each other). Only for a
   * pending pod the store knows (same uid), once per version of it (PodIndex.recordChoice);
   * returns whether it was recorded.
   */
  recordChoice(pod: PodInfo, nodeName: string): boolean;
  /**
   * Changes, so a result computed from the store can be reused while it holds (podIndex.ts):
   * `version` moves with any change that can change a pod's peers, `bucketVersion` with a change
   * to the pods filed under one index key (0 when there are none).
   */
  readonly version: number;
  bucketVersion(index: PodIndexName, key: string): number;
}
