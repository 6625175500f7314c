// The pod placement map the scheduling path reads, without I/O: pods as the API reports them
// ("confirmed") plus the extender's own recent choices not yet confirmed ("assumed"), with
// indexes so resolving a pod's peers is a lookup, not a scan of every pod in the cluster.
//
// Fed by PodCache (from the watch) or directly (scenario sim mode, tests): `upsert` / `remove`.
//
// The bind race: kube-scheduler binds a pod after our answer, and the watch event saying so can
// arrive after the next pod's scheduling request. `recordChoice` makes the pod appear on the
// chosen node at once. The assumption ends when
//   - the watch reports the pod with a nodeName (the watch wins, even if it names another node),
//   - the pod is deleted (or finishes: Succeeded/Failed), or
//   - `assumeTtlMs` passes without confirmation (kube-scheduler may have picked another node, or
//     the bind failed), so a wrong guess cannot linger.
// A watch update that still shows the pod pending keeps the assumption (its labels and
// annotations are taken from the update).
import { parseL2smNetworks, L2SM_NETWORKS_ANNOTATION } from '../../src/l2sm.js';
import { PEERS_ANNOTATION, peerSelectorIndexKeys } from '../peers/peerAnnotations.js';
import type { PodInfo, PodStore } from './podStore.js';

export const DEFAULT_ASSUME_TTL_MS = 30_000;

export interface PodIndexOptions {
  /** How long an unconfirmed choice stays assumed. Default 30 s. */
  assumeTtlMs?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

interface Assumed {
  pod: PodInfo;
  nodeName: string;
  expiresAt: number;
}

type Bucket = Map<string, PodInfo>;

/** Pods that take no place on a node (finished). */
export function isFinished(phase: string | undefined): boolean {
  return phase === 'Succeeded' || phase === 'Failed';
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
  private nextExpiry = Infinity;
  private _ready = true;

  constructor(opts: PodIndexOptions = {}) {
    this.ttl = opts.assumeTtlMs ?? DEFAULT_ASSUME_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

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

  /** Pods whose label `key` has exactly `value` (the candidates for an equality selector). */
  podsWithLabel(key: string, value: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byLabel.get(labelKey(key, value)));
  }

  /** Pods attached to an L2S-M network (by name, as in `l2sm/networks`, namespace prefix ignored). */
  podsOnNetwork(network: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byNetwork.get(network));
  }

  podsInNamespace(namespace: string): Iterable<PodInfo> {
    this.expire();
    return snapshot(this.byNamespace.get(namespace));
  }

  /** Pods whose `lpm.l2sm.io/peers` may select a pod with these labels (a superset; see ../peers/peerAnnotations.ts). */
  peerDeclarersFor(labels: Readonly<Record<string, string>>): Iterable<PodInfo> {
    this.expire();
    const out = new Set<PodInfo>(this.byPeerSelector.get('')?.values() ?? []);
    for (const [k, v] of Object.entries(labels)) {
      const b = this.byPeerSelector.get(labelKey(k, v));
      if (b) for (const p of b.values()) out.add(p);
    }
    return [...out];
  }

  get size(): { confirmed: number; assumed: number } {
    this.expire();
    return { confirmed: this.confirmed.size, assumed: this.assumed.size };
  }

  /** A pod as the API reports it (added or changed). Finished pods are removed. */
  upsert(pod: PodInfo): void {
    const key = podKey(pod.namespace, pod.name);
    if (isFinished(pod.phase)) {
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

  recordChoice(pod: PodInfo, nodeName: string): void {
    const key = podKey(pod.namespace, pod.name);
    const known = this.confirmed.get(key);
    if (known?.nodeName && (!pod.uid || !known.uid || pod.uid === known.uid)) return; // already bound: the watch knows
    const expiresAt = this.now() + this.ttl;
    this.assumed.set(key, { pod: known ?? pod, nodeName, expiresAt });
    this.nextExpiry = Math.min(this.nextExpiry, expiresAt);
    this.refresh(key);
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
    if (old) this.unindex(key, old);
    if (pod) {
      this.effective.set(key, pod);
      this.index(key, pod);
    } else {
      this.effective.delete(key);
    }
  }

  private index(key: string, pod: PodInfo): void {
    add(this.byNamespace, pod.namespace, key, pod);
    for (const [k, v] of Object.entries(pod.labels)) add(this.byLabel, labelKey(k, v), key, pod);
    for (const n of networksOf(pod)) add(this.byNetwork, n, key, pod);
    for (const k of peerSelectorIndexKeys(pod.annotations[PEERS_ANNOTATION])) add(this.byPeerSelector, k ?? '', key, pod);
  }

  private unindex(key: string, pod: PodInfo): void {
    drop(this.byNamespace, pod.namespace, key);
    for (const [k, v] of Object.entries(pod.labels)) drop(this.byLabel, labelKey(k, v), key);
    for (const n of networksOf(pod)) drop(this.byNetwork, n, key);
    for (const k of peerSelectorIndexKeys(pod.annotations[PEERS_ANNOTATION])) drop(this.byPeerSelector, k ?? '', key);
  }
}

// Index results are copies: a read may expire an assumption, which moves its pod in a bucket.
function snapshot(bucket: Bucket | undefined): PodInfo[] {
  return bucket ? [...bucket.values()] : [];
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

// "=" cannot appear in a label key, so key=value is unambiguous.
function labelKey(key: string, value: string): string {
  return `${key}=${value}`;
}

function networksOf(pod: PodInfo): string[] {
  const parsed = parseL2smNetworks(pod.annotations[L2SM_NETWORKS_ANNOTATION]);
  return parsed.ok ? [...new Set(parsed.value.map((a) => a.name))] : [];
}

function add(map: Map<string, Bucket>, bucket: string, key: string, pod: PodInfo): void {
  let b = map.get(bucket);
  if (!b) map.set(bucket, (b = new Map()));
  b.set(key, pod);
}

function drop(map: Map<string, Bucket>, bucket: string, key: string): void {
  const b = map.get(bucket);
  if (!b) return;
  b.delete(key);
  if (b.size === 0) map.delete(bucket);
}
