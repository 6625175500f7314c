// The pod store (the one PodStore implementation), without I/O: pods as the API reports them
// ("confirmed") plus the extender's own recent choices not yet confirmed ("assumed"), with
// indexes so resolving a pod's peers is a lookup, not a scan of every pod in the cluster.
//
// Fed with `upsert` / `remove` by PodCache (a PodIndex kept current by the pod watch) or, without
// Kubernetes, by whoever owns it: the extender (the config's `pods`), the scenario runner and the
// demo (pods as their driver places them), tests.
//
// The bind race: kube-scheduler binds a pod after our answer, and the watch event saying so can
// arrive after the next pod's scheduling request. `recordChoice` makes a pending pod the store
// knows (same uid) appear on the chosen node at once, once per version of the pod (callers of the
// extender are not trusted: see recordChoice). The assumption ends when
//   - an upsert reports the pod with a nodeName (the watch wins, even if it names another node),
//   - the pod is removed (or finishes: src/kube/pod.ts), or
//   - `assumeTtlMs` passes without confirmation (kube-scheduler may have picked another node, or
//     the bind failed), so a wrong guess cannot linger. Without a watch nothing would confirm a
//     choice, so by default an assumption does not expire; PodCache sets DEFAULT_ASSUME_TTL_MS.
// An upsert that still shows the pod pending keeps the assumption (its labels and annotations
// are taken from the update).
//
// Versions, so a result computed from the store can be reused while it still holds (the
// extender's prepared per-pod state, ../preparedCache.ts): every index bucket carries the store's
// change counter at its last change (0 once empty), and `version` is the last change anywhere. A
// change is a pod added or removed, or its node, labels or annotations changed; an update that
// changes none of them (a status update, the watch confirming an assumed placement) is none.
import { isFinishedPhase } from '../../src/kube/pod.js';
import { compilePeerAnnotations, indexKey, reverseIndexKeys, reverseLookupKeys } from '../peers/peerAnnotations.js';
import type { PodIndexName, PodInfo, PodStore } from './podStore.js';

/** How long PodCache assumes an unconfirmed choice. */
export const DEFAULT_ASSUME_TTL_MS = 30_000;

export interface PodIndexOptions {
  /** Pods to start with (as if upserted). */
  pods?: Iterable<PodInfo>;
  /** How long an unconfirmed choice stays assumed. Default: until the pod is upserted with a node or removed. */
  assumeTtlMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

interface Assumed {
  pod: PodInfo;
  nodeName: string;
  expiresAt: number;
}

/** The pods filed under one index key, by pod key, and the store's `version` at their last change. */
interface Bucket {
  pods: Map<string, PodInfo>;
  version: number;
}

export class PodIndex implements PodStore {
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly confirmed = new Map<string, PodInfo>();
  private readonly assumed = new Map<string, Assumed>();
  /** What readers see: confirmed, overlaid with assumed placements. */
  private readonly effective = new Map<string, PodInfo>();
  private readonly byNamespace = new Map<string, Bucket>();
  private readonly byLabel = new Map<string, Bucket>();
  private readonly byNetwork = new Map<string, Bucket>();
  /**
   * Pods declaring `lpm.l2sm.io/peers`, for reverse peering: filed under the "key=value" their
   * selectors require, or under "" when a selector requires no label value.
   */
  private readonly byPeerSelector = new Map<string, Bucket>();
  private readonly indexes: Record<PodIndexName, Map<string, Bucket>> = {
    namespace: this.byNamespace,
    label: this.byLabel,
    network: this.byNetwork,
    peerSelector: this.byPeerSelector,
  };
  /** Pod versions (confirmed objects) whose assumption window has been opened: one window each. */
  private readonly windowed = new WeakSet<PodInfo>();
  private nextExpiry = Infinity;
  private _ready = true;
  private changes = 0;

  constructor(opts: PodIndexOptions = {}) {
    this.ttl = opts.assumeTtlMs ?? Infinity;
    this.now = opts.now ?? Date.now;
    for (const p of opts.pods ?? []) this.upsert(p);
  }

  /** True unless its owner says otherwise (PodCache: once the watch's first list is loaded). */
  get ready(): boolean {
    return this._ready;
  }

  set ready(v: boolean) {
    this._ready = v;
  }

  /** Every known pod, assumed placements included. A live view: do not mutate while iterating. */
  pods(): Iterable<PodInfo> {
    this.expire();
    return this.effective.values();
  }

  get(namespace: string, name: string): PodInfo | undefined {
    this.expire();
    return this.effective.get(podKey(namespace, name));
  }

  /** Pods whose label `key` has exactly `value` (the candidates for an equality selector), in `namespace` when given. */
  podsWithLabel(key: string, value: string, namespace?: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byLabel.get(indexKey.label(key, value, namespace)));
  }

  /** Pods with the label `key`, whatever its value, in `namespace` when given. */
  podsWithLabelKey(key: string, namespace?: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byLabel.get(indexKey.labelKey(key, namespace)));
  }

  /** Pods attached to an L2S-M network: by name (as in `l2sm/networks`, any namespace), or exactly `namespace`/`network`. */
  podsOnNetwork(network: string, namespace?: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byNetwork.get(indexKey.network(network, namespace)));
  }

  /** The pods filed under one key of one index (keys: `indexKey`, `reverseIndexKeys` in ../peers/peerAnnotations.ts). */
  lookup(index: PodIndexName, key: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.indexes[index].get(key));
  }

  podsInNamespace(namespace: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byNamespace.get(namespace));
  }

  /**
   * Pods whose `lpm.l2sm.io/peers` may select `target` (a superset; see reverseIndexKeys in
   * ../peers/peerAnnotations.ts): declarers of its own namespace, and of the namespaces in
   * `crossFrom` ("*": any) whose selectors reach across.
   */
  peerDeclarersFor(target: Pick<PodInfo, 'namespace' | 'labels'>, crossFrom: readonly string[] = []): Iterable<PodInfo> {
    this.expire();
    const out = new Set<PodInfo>();
    for (const k of reverseLookupKeys(target, crossFrom)) {
      const b = this.byPeerSelector.get(k);
      if (b) for (const p of b.pods.values()) out.add(p);
    }
    return [...out];
  }

  /** The last change to any pod (see the top of this file); what a scan of pods() depends on. */
  get version(): number {
    this.expire();
    return this.changes;
  }

  /**
   * The version of one index bucket: `version` at the last change to a pod filed under `key`
   * (entering, leaving, or changed while in it), 0 when no pod is. Equal versions, equal contents.
   * Keys are lookup()'s: `indexKey` and `reverseIndexKeys` in ../peers/peerAnnotations.ts.
   */
  bucketVersion(index: PodIndexName, key: string): number {
    this.expire();
    return this.indexes[index].get(key)?.version ?? 0;
  }

  get size(): { confirmed: number; assumed: number } {
    this.expire();
    return { confirmed: this.confirmed.size, assumed: this.assumed.size };
  }

  /** A pod as the API reports it (added or changed). Finished pods are removed. */
  upsert(pod: PodInfo): void {
    const key = podKey(pod.namespace, pod.name);
    if (isFinishedPhase(pod.phase)) {
      this.remove(pod.namespace, pod.name);
      return;
    }
    this.confirmed.set(key, pod);
    const a = this.assumed.get(key);
    if (a && (pod.nodeName || (a.pod.uid && pod.uid && a.pod.uid !== pod.uid))) this.assumed.delete(key);
    this.refresh(key);
  }

  /** The pod is gone. With `uid`, an assumption about a newer pod of the same name survives. */
  remove(namespace: string, name: string, uid?: string): void {
    const key = podKey(namespace, name);
    this.confirmed.delete(key);
    const a = this.assumed.get(key);
    if (a && !(uid && a.pod.uid && a.pod.uid !== uid)) this.assumed.delete(key);
    this.refresh(key);
  }

  /**
   * Assumes the pod on `nodeName` (the bind race, above). Only for a pod the store knows, pending,
   * with the same uid when the store has one; and once per version of it: the first choice opens
   * a window of `assumeTtlMs`, a later choice within it may move the pod but never extends it, and
   * after it a choice is refused until the pod changes (a new version from the watch). So callers
   * (anyone who can reach /prioritize) can neither invent pods nor keep an assumption alive.
   * Returns whether the choice was recorded.
   */
  recordChoice(pod: PodInfo, nodeName: string): boolean {
    this.expire();
    const key = podKey(pod.namespace, pod.name);
    const known = this.confirmed.get(key);
    if (!known || known.nodeName) return false; // unknown, or already bound: the watch knows
    if (known.uid && known.uid !== pod.uid) return false;
    const a = this.assumed.get(key);
    if (a) {
      // the window is open: the choice may change, its end does not
      this.windowed.add(known);
      if (a.nodeName !== nodeName) {
        a.nodeName = nodeName;
        this.refresh(key);
      }
      return true;
    }
    if (this.windowed.has(known)) return false;
    this.windowed.add(known);
    const expiresAt = this.now() + this.ttl;
    this.assumed.set(key, { pod: known, nodeName, expiresAt });
    this.nextExpiry = Math.min(this.nextExpiry, expiresAt);
    this.refresh(key);
    return true;
  }

  /** Is this pod's placement an unconfirmed choice? */
  isAssumed(namespace: string, name: string): boolean {
    this.expire();
    return this.assumed.has(podKey(namespace, name));
  }

  private expire(): void {
    if (this.assumed.size === 0) return;
    const now = this.now();
    if (now < this.nextExpiry) return;
    let next = Infinity;
    for (const [key, a] of this.assumed) {
      if (a.expiresAt <= now) {
        this.assumed.delete(key);
        this.refresh(key);
      } else next = Math.min(next, a.expiresAt);
    }
    this.nextExpiry = next;
  }

  /** Recomputes the effective pod for a key and moves it between index buckets. */
  private refresh(key: string): void {
    const old = this.effective.get(key);
    const c = this.confirmed.get(key);
    const a = this.assumed.get(key);
    let pod: PodInfo | undefined = c;
    if (a) pod = { ...(c ?? a.pod), nodeName: a.nodeName };
    if (old && pod && samePlacement(old, pod)) {
      // nothing peer resolution reads has changed: the new object takes the old one's place, and
      // no version moves (a status update, the watch confirming what was assumed)
      this.effective.set(key, pod);
      this.index(key, pod, undefined);
      return;
    }
    const version = ++this.changes;
    if (old) this.unindex(key, old, version);
    if (pod) {
      this.effective.set(key, pod);
      this.index(key, pod, version);
    } else {
      this.effective.delete(key);
    }
  }

  /** Files the pod in its buckets; `version` undefined: replacing an equal pod (versions kept). */
  private index(key: string, pod: PodInfo, version: number | undefined): void {
    add(this.byNamespace, pod.namespace, key, pod, version);
    for (const k of labelKeys(pod)) add(this.byLabel, k, key, pod, version);
    for (const n of networkKeys(pod)) add(this.byNetwork, n, key, pod, version);
    for (const k of reverseIndexKeys(pod)) add(this.byPeerSelector, k, key, pod, version);
  }

  private unindex(key: string, pod: PodInfo, version: number): void {
    drop(this.byNamespace, pod.namespace, key, version);
    for (const k of labelKeys(pod)) drop(this.byLabel, k, key, version);
    for (const n of networkKeys(pod)) drop(this.byNetwork, n, key, version);
    for (const k of reverseIndexKeys(pod)) drop(this.byPeerSelector, k, key, version);
  }
}

// Index results are copies: a read may expire an assumption, which moves its pod in a bucket.
function snapshot(bucket: Bucket | undefined): PodInfo[] {
  return bucket ? [...bucket.pods.values()] : [];
}

/** Same for peer resolution: identity, node, labels and annotations (the phase of a live pod is not read). */
function samePlacement(a: PodInfo, b: PodInfo): boolean {
  return (
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.uid === b.uid &&
    a.nodeName === b.nodeName &&
    isFinishedPhase(a.phase) === isFinishedPhase(b.phase) &&
    sameRecord(a.labels, b.labels) &&
    sameRecord(a.annotations, b.annotations)
  );
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k] || !Object.prototype.hasOwnProperty.call(b, k)) return false;
    n++;
  }
  for (const k in b) if (Object.prototype.hasOwnProperty.call(b, k)) n--;
  return n === 0;
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The label index keys of a pod: "key=value" and "key", each also within its namespace (indexKey). */
function labelKeys(pod: PodInfo): string[] {
  const keys: string[] = [];
  for (const [k, v] of Object.entries(pod.labels))
    keys.push(indexKey.label(k, v), indexKey.label(k, v, pod.namespace), indexKey.labelKey(k), indexKey.labelKey(k, pod.namespace));
  return keys;
}

/** The network index keys of a pod: each network's name and its "namespace/name" (capped: compilePeerAnnotations). */
function networkKeys(pod: PodInfo): string[] {
  const full = compilePeerAnnotations(pod).networks;
  if (full.length === 0) return [];
  const keys = new Set<string>();
  for (const k of full) keys.add(k).add(k.slice(k.indexOf('/') + 1));
  return [...keys];
}

function add(map: Map<string, Bucket>, bucket: string, key: string, pod: PodInfo, version: number | undefined): void {
  let b = map.get(bucket);
  // (a new bucket always comes with a version; NaN, never equal to itself, if it ever did not)
  if (!b) map.set(bucket, (b = { pods: new Map<string, PodInfo>(), version: version ?? NaN }));
  b.pods.set(key, pod);
  if (version !== undefined) b.version = version;
}

function drop(map: Map<string, Bucket>, bucket: string, key: string, version: number): void {
  const b = map.get(bucket);
  if (!b) return;
  b.pods.delete(key);
  // an empty bucket is gone, version 0: the same as one never filled (the same contents)
  if (b.pods.size === 0) map.delete(bucket);
  else b.version = version;
}
