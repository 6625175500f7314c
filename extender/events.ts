// Kubernetes Events on pods whose annotations the extender ignored for exceeding a cap
// (peers/peerAnnotations.ts ANNOTATION_CAPS), so the pod's owner sees why lpm did nothing for it
// (`kubectl describe pod`) without access to the extender's decision log.
//
// Events are written off the scheduling path (the API call is not awaited) and bounded: one per
// pod (uid) and message set per `dedupMs` (10 min), at most `perSecond` (with a burst) in all, a
// bounded memory of pods already told; what is dropped is counted. Only for pods the pod store
// knows with the same uid (the caller checks): an outside caller of /prioritize cannot make the
// extender write Events about pods it made up. Needs RBAC `create` on `events` (core group).
import { hostname } from 'node:os';
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { kubeConfigFor, describeKubeError, type KubeConnection } from '../src/kube/podWatch.js';
import type { Logger } from '../src/log.js';
import type { PodInfo } from './pods/podStore.js';

export const EVENT_REASON = 'LpmAnnotationIgnored';
export const EVENT_COMPONENT = 'lpm-extender';

export type EventResult = 'created' | 'deduplicated' | 'rate_limited' | 'error';

/** Where the handlers report a pod whose annotations were ignored (the message lists why). */
export interface PodEventSink {
  annotationsIgnored(pod: PodInfo, message: string): void;
}

/** Writes the Event; a test passes its own. */
export type CreateEvent = (namespace: string, event: CoreV1Event) => Promise<unknown>;

export interface EventRecorderOptions {
  /** How to write an Event; default: CoreV1Api.createNamespacedEvent over `connection`. */
  create?: CreateEvent;
  connection?: KubeConnection;
  /** One Event per pod and message within this time (ms). Default 10 minutes. */
  dedupMs?: number;
  /** Events per second in all, and the burst above it. Default 5/s, burst 20. */
  perSecond?: number;
  burst?: number;
  /** Pods remembered for deduplication (oldest forgotten first). Default 10 000. */
  maxTracked?: number;
  onResult?: (result: EventResult) => void;
  log?: Logger;
  /** Clock (ms), for tests. */
  now?: () => number;
}

const MAX_MESSAGE = 1024;

export class EventRecorder implements PodEventSink {
  private readonly create: CreateEvent;
  private readonly dedupMs: number;
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  /** uid -> { message, at }, oldest first (Map order). */
  private readonly told = new Map<string, { message: string; at: number }>();
  private tokens: number;
  private refilledAt: number;
  private readonly instance = hostname();

  constructor(private readonly opts: EventRecorderOptions) {
    this.dedupMs = opts.dedupMs ?? 600_000;
    this.perSecond = opts.perSecond ?? 5;
    this.burst = opts.burst ?? 20;
    this.maxTracked = opts.maxTracked ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.tokens = this.burst;
    this.refilledAt = this.now();
    if (opts.create) this.create = opts.create;
    else {
      const api = kubeConfigFor(opts.connection ?? {}).makeApiClient(CoreV1Api);
      this.create = (namespace, body) => api.createNamespacedEvent({ namespace, body });
    }
  }

  annotationsIgnored(pod: PodInfo, message: string): void {
    if (!pod.uid) return;
    const now = this.now();
    const seen = this.told.get(pod.uid);
    if (seen && seen.message === message && now - seen.at < this.dedupMs) return this.result('deduplicated');
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return this.result('rate_limited');
    this.tokens -= 1;
    this.told.delete(pod.uid);
    this.told.set(pod.uid, { message, at: now });
    while (this.told.size > this.maxTracked) this.told.delete(this.told.keys().next().value!);
    const at = new Date(now);
    const event: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${pod.name.slice(0, 200)}.`, namespace: pod.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
      reason: EVENT_REASON,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message,
      type: 'Warning',
      source: { component: EVENT_COMPONENT },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    this.create(pod.namespace, event).then(
      () => this.result('created'),
      (err: unknown) => {
        this.result('error');
        this.opts.log?.warn({ pod: `${pod.namespace}/${pod.name}`, err: describeKubeError(err) }, 'cannot record a pod event (RBAC: create on events?)');
      },
    );
  }

  private result(r: EventResult): void {
    this.opts.onResult?.(r);
  }
}
