// The Pod object the driver (and the bench, bench/cluster.ts) sends to the extender, shaped like
// what kube-scheduler POSTs (see test/fixtures/kube-scheduler/*.captured-*.json): full metadata,
// a spec with one container and its requests, status Pending. The extender reads only identity,
// labels, annotations and nodeName, but sending the real shape keeps the simulation honest about
// body parsing.
import { createHash } from 'node:crypto';
import type { ScenarioPod } from '../scenarioFile.js';

export interface PodObjectOptions {
  schedulerName: string;
  /** metadata.uid (podUid gives a stable one). */
  uid: string;
  /** metadata.creationTimestamp; default now. */
  createdAt?: Date;
  /** metadata.resourceVersion; default "1". */
  resourceVersion?: string;
  /** More metadata the API server fills in (generateName, managedFields, ...). */
  metadata?: Record<string, unknown>;
}

/** A stable UID per pod and run, so decision logs of two runs line up. */
export function podUid(pod: Pick<ScenarioPod, 'namespace' | 'name'>, run: string): string {
  const h = createHash('sha256').update(`${run}/${pod.namespace}/${pod.name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function podObject(
  pod: Pick<ScenarioPod, 'namespace' | 'name' | 'labels' | 'annotations'>,
  opts: PodObjectOptions,
): Record<string, unknown> {
  return {
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: opts.uid,
      resourceVersion: opts.resourceVersion ?? '1',
      creationTimestamp: (opts.createdAt ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z'),
      labels: { ...pod.labels },
      annotations: { ...pod.annotations },
      ...opts.metadata,
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.9',
          resources: { requests: { cpu: '100m', memory: '64Mi' } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      schedulerName: opts.schedulerName,
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
}

/** ExtenderArgs in NodeNames mode (nodeCacheCapable: true), as kube-scheduler sends it. */
export function extenderArgs(pod: Record<string, unknown>, nodeNames: readonly string[]): Record<string, unknown> {
  return { Pod: pod, Nodes: null, NodeNames: [...nodeNames] };
}
