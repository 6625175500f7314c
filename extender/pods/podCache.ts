// The extender's pod placement cache: a PodStore kept current by a list + watch on pods
// (src/kube/podWatch.ts), so the scheduling path knows where every peer runs without calling the
// API. State and indexes live in PodIndex (pure); this file only wires the watch to it.
//
//   const cache = new PodCache({ connection: { kubeconfig }, log });
//   void cache.start();          // resolves after the first list; `ready` turns true then
//   cache.get('ns', 'web-0');    // synchronous reads, confirmed + assumed placements
//   cache.recordChoice(pod, 'node-3');   // see PodIndex for the bind race
//   cache.stop();
//
// Finished pods (Succeeded/Failed) are left out server-side (field selector) and client-side.
// Needs RBAC get/list/watch on pods cluster-wide (or in `namespace`).
import type { V1Pod } from '@kubernetes/client-node';
import { watchPods, type KubeConnection, type PodWatch } from '../../src/kube/podWatch.js';
import { createLogger, type Logger } from '../../src/log.js';
import { PodIndex } from './podIndex.js';
import type { PodInfo, PodStore } from './podStore.js';

export interface PodCacheOptions {
  connection: KubeConnection;
  /** Only pods of this namespace; all namespaces when absent. */
  namespace?: string;
  /** Only pods matching this label selector. */
  labelSelector?: string;
  /** How long the extender's unconfirmed choice for a pod stays assumed. Default 30 s. */
  assumeTtlMs?: number;
  log?: Logger;
  /** Passed to watchPods (tests use short delays). */
  retryDelayMs?: { min: number; max: number };
  watchTimeoutSeconds?: number;
  /** Clock (ms) for the assumption TTL, for tests. */
  now?: () => number;
}

/** Leaves finished pods out on the server, so the watch sends them as deletions. */
export const UNFINISHED_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

export class PodCache implements PodStore {
  private readonly index: PodIndex;
  private readonly watch: PodWatch;
  private readonly log: Logger;

  constructor(opts: PodCacheOptions) {
    this.log = opts.log ?? createLogger('pod-cache');
    this.index = new PodIndex({
      ...(opts.assumeTtlMs !== undefined ? { assumeTtlMs: opts.assumeTtlMs } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.watch = watchPods({
      connection: opts.connection,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
      fieldSelector: UNFINISHED_PODS,
      ...(opts.retryDelayMs ? { retryDelayMs: opts.retryDelayMs } : {}),
      ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
      log: this.log,
      onAdd: (pod) => this.upsert(pod),
      onUpdate: (pod) => this.upsert(pod),
      onDelete: (pod) => {
        const info = podInfoFromV1(pod);
        if (info) this.index.remove(info.namespace, info.name, info.uid);
      },
    });
  }

  /** Resolves once the first list is loaded (then `ready` is true), or when stopped. */
  async start(): Promise<void> {
    await this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  get ready(): boolean {
    return this.watch.synced;
  }

  pods(): Iterable<PodInfo> {
    return this.index.pods();
  }

  get(namespace: string, name: string): PodInfo | undefined {
    return this.index.get(namespace, name);
  }

  recordChoice(pod: PodInfo, nodeName: string): void {
    this.index.recordChoice(pod, nodeName);
  }

  podsWithLabel(key: string, value: string): Iterable<PodInfo> {
    return this.index.podsWithLabel(key, value);
  }

  podsOnNetwork(network: string): Iterable<PodInfo> {
    return this.index.podsOnNetwork(network);
  }

  podsInNamespace(namespace: string): Iterable<PodInfo> {
    return this.index.podsInNamespace(namespace);
  }

  peerDeclarersFor(labels: Readonly<Record<string, string>>): Iterable<PodInfo> {
    return this.index.peerDeclarersFor(labels);
  }

  /** Is this pod's placement the extender's unconfirmed choice? (for decision explanations) */
  isAssumed(namespace: string, name: string): boolean {
    return this.index.isAssumed(namespace, name);
  }

  /** Counts for /metrics and logs. */
  get size(): { confirmed: number; assumed: number } {
    return this.index.size;
  }

  private upsert(pod: V1Pod): void {
    const info = podInfoFromV1(pod);
    if (info) this.index.upsert(info);
    else this.log.warn({ pod: pod.metadata }, 'pod without namespace/name ignored');
  }
}

/** The fields the scheduling path needs, from an API pod; undefined if it has no name. */
export function podInfoFromV1(pod: V1Pod): PodInfo | undefined {
  const m = pod.metadata;
  if (!m?.name || !m.namespace) return undefined;
  return {
    namespace: m.namespace,
    name: m.name,
    ...(m.uid ? { uid: m.uid } : {}),
    labels: { ...(m.labels ?? {}) },
    annotations: { ...(m.annotations ?? {}) },
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
  };
}
