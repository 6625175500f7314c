// The extender's pod placement cache: the pod store (PodIndex) kept current by a list + watch on
// pods (src/kube/podWatch.ts), so the scheduling path knows where every peer runs without calling
// the API. State, indexes and the bind race live in PodIndex (pure); this file only wires the
// watch to it.
//
//   const cache = new PodCache({ connection: { kubeconfig }, log });
//   void cache.start();          // resolves after the first list; `ready` turns true then
//   cache.get('ns', 'web-0');    // synchronous reads, confirmed + assumed placements
//   cache.recordChoice(pod, 'node-3');   // see PodIndex for the bind race
//   cache.stop();
//
// Finished pods (src/kube/pod.ts) are left out server-side (field selector) and client-side.
// Needs RBAC list and watch on pods cluster-wide (or in `namespace`).
import { watchPods, type KubeConnection, type PodWatch } from '../../src/kube/podWatch.js';
import { UNFINISHED_PODS_FIELD_SELECTOR, type PodLike } from '../../src/kube/pod.js';
import { createLogger, type Logger } from '../../src/log.js';
import { DEFAULT_ASSUME_TTL_MS, PodIndex } from './podIndex.js';
import type { PodInfo } from './podStore.js';

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

export class PodCache extends PodIndex {
  private readonly watch: PodWatch;
  private readonly log: Logger;

  constructor(opts: PodCacheOptions) {
    super({ assumeTtlMs: opts.assumeTtlMs ?? DEFAULT_ASSUME_TTL_MS, ...(opts.now ? { now: opts.now } : {}) });
    this.log = opts.log ?? createLogger('pod-cache');
    this.watch = watchPods({
      connection: opts.connection,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
      fieldSelector: UNFINISHED_PODS_FIELD_SELECTOR,
      ...(opts.retryDelayMs ? { retryDelayMs: opts.retryDelayMs } : {}),
      ...(opts.watchTimeoutSeconds ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
      log: this.log,
      onAdd: (pod) => this.upsertV1(pod),
      onUpdate: (pod) => this.upsertV1(pod),
      onDelete: (pod) => {
        const info = podInfoFromV1(pod);
        if (info) this.remove(info.namespace, info.name, info.uid);
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

  /** True once the watch's first list is loaded. */
  override get ready(): boolean {
    return this.watch.synced;
  }

  private upsertV1(pod: PodLike): void {
    const info = podInfoFromV1(pod);
    if (info) this.upsert(info);
    else this.log.warn({ pod: pod.metadata }, 'pod without namespace/name ignored');
  }
}

/** The fields the scheduling path needs, from an API pod; undefined if it has no name. */
export function podInfoFromV1(pod: PodLike): PodInfo | undefined {
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
