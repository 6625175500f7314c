// Helpers for tests against a lab's Kubernetes API (`lab up --kube`): pods in and out, waiting for
// binding, status and events, kubectl by full path, the extender's decisions.
import { readFile } from 'node:fs/promises';
import { CoreV1Api, KubeConfig, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { execa } from 'execa';
import { request } from 'undici';
import { waitFor } from './waitFor.js';
import type { Decision } from '../../extender/decisionLog.js';

export interface KubeClient {
  api: CoreV1Api;
  kubeconfig: string;
  kubectl: string;
}

export function kubeClient(kubeconfig: string, kubectl: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { api: kc.makeApiClient(CoreV1Api), kubeconfig, kubectl };
}

/** kubectl --kubeconfig KC ARGS (by full path); stdin optional. */
export async function kubectl(c: KubeClient, args: string[], input?: string) {
  return execa(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], { reject: false, timeout: 60_000, ...(input !== undefined ? { input } : {}) });
}

export interface PodSpecOptions {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  schedulerName?: string;
  nodeName?: string;
  command?: string[];
}

export function pod(o: PodSpecOptions): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace ?? 'default', labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: {
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      terminationGracePeriodSeconds: 5,
      containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.9', ...(o.command ? { command: o.command } : {}) }],
    },
  };
}

export async function createPod(c: KubeClient, p: V1Pod): Promise<V1Pod> {
  return c.api.createNamespacedPod({ namespace: p.metadata!.namespace ?? 'default', body: p });
}

export async function readPod(c: KubeClient, name: string, namespace = 'default'): Promise<V1Pod | undefined> {
  try {
    return await c.api.readNamespacedPod({ name, namespace });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Waits until the pod is bound and Running (as the hollow kubelet reports it). */
export async function waitRunning(c: KubeClient, name: string, timeoutMs = 60_000, namespace = 'default'): Promise<V1Pod> {
  return waitFor(
    `pod ${namespace}/${name} Running`,
    async () => {
      const p = await readPod(c, name, namespace);
      return p?.spec?.nodeName && p.status?.phase === 'Running' && p.status.podIP ? p : undefined;
    },
    timeoutMs,
    200,
  );
}

export async function podEvents(c: KubeClient, name: string, namespace = 'default'): Promise<CoreV1Event[]> {
  const list = await c.api.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items;
}

/** Waits for an event of the pod with this reason whose message matches. */
export async function waitEvent(c: KubeClient, name: string, reason: string, match: RegExp, timeoutMs = 60_000): Promise<CoreV1Event> {
  let seen: string[] = [];
  try {
    return await waitFor(
      `event ${reason} ${match} on pod ${name}`,
      async () => {
        const evs = await podEvents(c, name);
        seen = evs.map((e) => `${e.reason}: ${e.message}`);
        return evs.find((e) => e.reason === reason && match.test(e.message ?? ''));
      },
      timeoutMs,
      300,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; events seen: ${JSON.stringify(seen)}`);
  }
}

/** Deletes the pods (grace 0) and waits until they are gone. */
export async function deletePods(c: KubeClient, names: string[], namespace = 'default'): Promise<void> {
  for (const name of names) await c.api.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  await waitFor('pods gone', async () => ((await Promise.all(names.map((n) => readPod(c, n, namespace)))).every((p) => !p) ? true : undefined), 60_000, 300);
}

/** The extender's latest decisions for a pod (newest first). */
export async function decisions(extenderUrl: string, podName: string, verb?: string, namespace = 'default'): Promise<Decision[]> {
  const q = new URLSearchParams({ pod: `${namespace}/${podName}`, limit: '20', ...(verb ? { verb } : {}) });
  const res = await request(`${extenderUrl}/api/v1/decisions?${q.toString()}`, { signal: AbortSignal.timeout(3000) });
  return ((await res.body.json()) as { decisions: Decision[] }).decisions;
}

/** Inode of a network namespace (a /run/netns file or /proc/PID/ns/net), to compare two. */
export async function netnsInode(path: string): Promise<number | undefined> {
  const { statSync } = await import('node:fs');
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

export async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}
