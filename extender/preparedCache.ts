// The per-pod state one scheduling cycle prepares, kept from kube-scheduler's filter call to its
// prioritize call for the same pod (it makes both, in that order, one pod at a time): the pod's
// resolved peers, their nodes, its limits and the evaluation of every candidate. prioritize
// reuses it instead of resolving and evaluating again, as long as everything it was made from is
// unchanged (the stamp):
//   - the pod as the request gives it: uid, namespace/name, labels, the annotations lpm reads;
//   - the link matrix (a refresh makes a new object) and the traffic matrix (peers.traffic);
//   - the pod store: loaded or not, and the version of every index bucket peer resolution read
//     (peerLookups: the pods that can be peers; PodIndex.bucketVersion moves when a pod enters,
//     leaves or changes in one), so a watch event about an unrelated pod keeps the state;
//   - and it is at most `ttlMs` old (a cycle takes milliseconds; the evaluation's clock is the
//     filter's, so a value turning stale in between does not change the cycle's answers).
// Memory is bounded: at most `maxEntries` states and `maxNodes` candidate nodes over all of them
// (an evaluation holds ~30-60 bytes per candidate), the least recently stored dropped first; an
// entry goes as soon as prioritize has used it, and every entry when the matrix changes (entries
// hold the matrix they were evaluated on).
import type { IndexLookup } from './peers/peerAnnotations.js';
import type { PodStore } from './pods/podStore.js';

export interface PreparedStamp {
  /** The pod as the request gave it (preparedPodKey). */
  pod: string;
  /** The link matrix (identity) and the traffic matrix (identity; undefined without peers.traffic). */
  matrix: object | undefined;
  traffic: object | undefined;
  /** Whether the pod store was loaded. */
  storeReady: boolean;
  /** The index buckets peer resolution read, and their versions then. */
  reads: readonly IndexLookup[];
  versions: readonly number[];
}

export interface PreparedCacheOptions {
  /** States kept at most (default 16: kube-scheduler runs one cycle at a time). */
  maxEntries?: number;
  /** Candidate nodes over all kept states at most (default 50 000: ten 5000-node cycles). */
  maxNodes?: number;
  /** A state older than this is not reused (default 10 s). */
  ttlMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

interface Entry<T> {
  stamp: PreparedStamp;
  value: T;
  nodes: number;
  at: number;
}

export type PreparedLookup<T> = { value: T } | { miss: 'none' | 'changed' | 'expired' };

export class PreparedCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly maxEntries: number;
  private readonly maxNodes: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private heldNodes = 0;
  /** The matrix every kept state was evaluated on. */
  private matrix: object | undefined;

  constructor(opts: PreparedCacheOptions = {}) {
    this.maxEntries = Math.max(0, opts.maxEntries ?? 16);
    this.maxNodes = Math.max(0, opts.maxNodes ?? 50_000);
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** States kept, and the candidate nodes they hold. */
  get size(): { entries: number; nodes: number } {
    return { entries: this.entries.size, nodes: this.heldNodes };
  }

  /**
   * The state kept for `key` if its stamp still holds: `current` is the stamp now without the
   * store's versions, which are read from `store` for the buckets the state read. A state that no
   * longer holds is dropped.
   */
  get(key: string, current: Omit<PreparedStamp, 'reads' | 'versions'>, store: Pick<PodStore, 'bucketVersion'>): PreparedLookup<T> {
    this.newMatrix(current.matrix);
    const e = this.entries.get(key);
    if (!e) return { miss: 'none' };
    if (this.now() - e.at > this.ttlMs) {
      this.delete(key);
      return { miss: 'expired' };
    }
    const s = e.stamp;
    let holds = s.pod === current.pod && s.matrix === current.matrix && s.traffic === current.traffic && s.storeReady === current.storeReady;
    for (let i = 0; holds && i < s.reads.length; i++) holds = store.bucketVersion(s.reads[i]!.index, s.reads[i]!.key) === s.versions[i];
    if (!holds) {
      this.delete(key);
      return { miss: 'changed' };
    }
    return { value: e.value };
  }

  /** Keeps `value` for `key` (replacing what was kept), holding `nodes` candidate nodes. */
  set(key: string, stamp: PreparedStamp, value: T, nodes: number): void {
    this.newMatrix(stamp.matrix);
    this.delete(key);
    if (this.maxEntries === 0 || nodes > this.maxNodes) return;
    this.entries.set(key, { stamp, value, nodes, at: this.now() });
    this.heldNodes += nodes;
    // oldest first (Map keeps insertion order)
    for (const [k] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.heldNodes <= this.maxNodes) break;
      this.delete(k);
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.heldNodes -= e.nodes;
  }

  clear(): void {
    this.entries.clear();
    this.heldNodes = 0;
  }

  // A new matrix: every state was evaluated on another one, and would keep it alive.
  private newMatrix(matrix: object | undefined): void {
    if (matrix === this.matrix) return;
    this.matrix = matrix;
    this.clear();
  }
}

/**
 * What a prepared state depends on in the pod as a request gives it: identity, labels, and the
 * annotations peer resolution and limits read (not the whole pod: its status and the rest of its
 * metadata do not matter).
 */
export function preparedPodKey(
  pod: { namespace: string; name: string; uid?: string | undefined; labels: Readonly<Record<string, string>>; annotations: Readonly<Record<string, string>> },
  annotations: readonly string[],
): string {
  return JSON.stringify([pod.namespace, pod.name, pod.uid ?? '', pod.labels, annotations.map((a) => pod.annotations[a] ?? null)]);
}
