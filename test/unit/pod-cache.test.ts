// Pure parts of the pod placement cache: PodIndex (confirmed + assumed placements, indexes),
// the V1Pod → PodInfo conversion, pod slimming, error descriptions and connection checks.
// The watch itself is tested against a real HTTP API in test/integration/pod-cache.test.ts.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { PodIndex } from '../../extender/pods/podIndex.js';
import { podInfoFromV1 } from '../../extender/pods/podCache.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { describeKubeError, kubeConfigFor, slimPod } from '../../src/kube/podWatch.js';
import { FINISHED_POD_PHASES, isFinishedPhase, UNFINISHED_PODS_FIELD_SELECTOR } from '../../src/kube/pod.js';

const pod = (name: string, extra: Partial<PodInfo> = {}): PodInfo => ({
  namespace: 'ns',
  name,
  labels: {},
  annotations: {},
  ...extra,
});
const names = (pods: Iterable<PodInfo>): string[] => [...pods].map((p) => `${p.namespace}/${p.name}`).sort();

describe('PodIndex', () => {
  it('indexes pods by label, L2S-M network (both annotation forms) and namespace', () => {
    const idx = new PodIndex();
    idx.upsert(pod('a', { labels: { app: 'f' }, annotations: { 'l2sm/networks': 'net-1,other/net-2' }, nodeName: 'n1' }));
    idx.upsert(pod('b', { labels: { app: 'w' }, annotations: { 'l2sm/networks': '[{"name":"net-2","ips":["10.0.0.2/24"]}]' } }));
    idx.upsert({ ...pod('c', { labels: { app: 'f' } }), namespace: 'other' });
    idx.upsert(pod('bad', { annotations: { 'l2sm/networks': '[not json' } }));
    expect(names(idx.podsWithLabel('app', 'f'))).toEqual(['ns/a', 'other/c']);
    expect(names(idx.podsWithLabel('app', 'x'))).toEqual([]);
    expect(names(idx.podsOnNetwork('net-2'))).toEqual(['ns/a', 'ns/b']);
    expect(names(idx.podsOnNetwork('net-1'))).toEqual(['ns/a']);
    expect(names(idx.podsInNamespace('other'))).toEqual(['other/c']);
    expect(names(idx.pods())).toEqual(['ns/a', 'ns/b', 'ns/bad', 'other/c']);

    // An update moves the pod between buckets.
    idx.upsert(pod('a', { labels: { app: 'w' }, annotations: {}, nodeName: 'n1' }));
    expect(names(idx.podsWithLabel('app', 'f'))).toEqual(['other/c']);
    expect(names(idx.podsWithLabel('app', 'w'))).toEqual(['ns/a', 'ns/b']);
    expect(names(idx.podsOnNetwork('net-1'))).toEqual([]);
    idx.remove('ns', 'b');
    expect(names(idx.podsOnNetwork('net-2'))).toEqual([]);
    expect(idx.get('ns', 'b')).toBeUndefined();
  });

  it('leaves finished pods out', () => {
    const idx = new PodIndex();
    idx.upsert(pod('a', { nodeName: 'n1', phase: 'Running' }));
    idx.upsert(pod('a', { nodeName: 'n1', phase: 'Succeeded' }));
    idx.upsert(pod('b', { nodeName: 'n1', phase: 'Failed' }));
    expect(names(idx.pods())).toEqual([]);
  });

  it('assumes a recorded choice until the watch binds the pod (the watch wins)', () => {
    const idx = new PodIndex();
    idx.upsert(pod('p', { labels: { app: 'x' } }));
    idx.recordChoice(idx.get('ns', 'p')!, 'n2');
    expect(idx.get('ns', 'p')?.nodeName).toBe('n2');
    expect(idx.isAssumed('ns', 'p')).toBe(true);
    expect([...idx.podsWithLabel('app', 'x')][0]?.nodeName).toBe('n2');
    idx.upsert(pod('p', { labels: { app: 'x', v: '2' } })); // still pending
    expect(idx.get('ns', 'p')).toMatchObject({ nodeName: 'n2', labels: { v: '2' } });
    idx.upsert(pod('p', { labels: { app: 'x' }, nodeName: 'n3' }));
    expect(idx.get('ns', 'p')?.nodeName).toBe('n3');
    expect(idx.isAssumed('ns', 'p')).toBe(false);
    // A choice for a pod already bound is ignored: the watch knows better.
    idx.recordChoice(idx.get('ns', 'p')!, 'n9');
    expect(idx.get('ns', 'p')?.nodeName).toBe('n3');
  });

  it('expires an unconfirmed choice after the TTL; a pod the store does not know is never assumed', () => {
    let now = 0;
    const idx = new PodIndex({ assumeTtlMs: 1000, now: () => now });
    idx.upsert(pod('pending', { labels: { app: 'y' } }));
    expect(idx.recordChoice(pod('pending'), 'n1')).toBe(true);
    expect(idx.recordChoice(pod('unseen', { labels: { app: 'y' } }), 'n2')).toBe(false); // not in the watch: refused
    expect(idx.get('ns', 'unseen')).toBeUndefined();
    expect(names(idx.podsWithLabel('app', 'y'))).toEqual(['ns/pending']);
    now = 999;
    expect(idx.size).toEqual({ confirmed: 1, assumed: 1 });
    now = 1000;
    expect(idx.get('ns', 'pending')).toMatchObject({ name: 'pending' });
    expect(idx.get('ns', 'pending')?.nodeName).toBeUndefined();
    expect(idx.size).toEqual({ confirmed: 1, assumed: 0 });
  });

  it('one window per pod version: a choice never extends it, and after it the same version is refused', () => {
    let now = 0;
    const idx = new PodIndex({ assumeTtlMs: 1000, now: () => now });
    idx.upsert(pod('p', { uid: 'u1' }));
    expect(idx.recordChoice(pod('p', { uid: 'other' }), 'n1')).toBe(false); // another pod of that name
    expect(idx.recordChoice(pod('p'), 'n1')).toBe(false); // no uid: not the pod the store knows
    expect(idx.recordChoice(pod('p', { uid: 'u1' }), 'n1')).toBe(true);
    now = 900;
    expect(idx.recordChoice(pod('p', { uid: 'u1' }), 'n2')).toBe(true); // may move it...
    expect(idx.get('ns', 'p')?.nodeName).toBe('n2');
    now = 1000; // ...but not keep it: the window ends 1000 ms after the first choice
    expect(idx.get('ns', 'p')?.nodeName).toBeUndefined();
    for (let i = 0; i < 5; i++) {
      expect(idx.recordChoice(pod('p', { uid: 'u1' }), 'n3')).toBe(false); // renewing from outside: refused
      now += 100;
    }
    expect(idx.isAssumed('ns', 'p')).toBe(false);
    // the watch brings a new version of the pod (kube-scheduler recorded a failed attempt): a new window
    idx.upsert(pod('p', { uid: 'u1', labels: { attempt: '2' } }));
    expect(idx.recordChoice(pod('p', { uid: 'u1' }), 'n4')).toBe(true);
    expect(idx.get('ns', 'p')?.nodeName).toBe('n4');
  });

  it('drops the assumption when the pod is deleted, unless the deletion was of an older pod of that name', () => {
    const idx = new PodIndex();
    idx.upsert(pod('s-0', { uid: 'new' }));
    expect(idx.recordChoice(pod('s-0', { uid: 'new' }), 'n1')).toBe(true);
    idx.remove('ns', 's-0', 'old'); // the previous incarnation's DELETED event
    expect(idx.get('ns', 's-0')?.nodeName).toBe('n1');
    idx.remove('ns', 's-0', 'new');
    expect(idx.get('ns', 's-0')).toBeUndefined();
  });

  it('keeps every index equal to a scan of pods(), for any sequence of events (property)', () => {
    const nameArb = fc.constantFrom('a', 'b', 'c', 'd');
    const nsArb = fc.constantFrom('x', 'y');
    const labelsArb = fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('1', '2'), { maxKeys: 2 });
    const netsArb = fc.subarray(['n1', 'n2', 'n3']).map((l): Record<string, string> => (l.length ? { 'l2sm/networks': l.join(',') } : {}));
    const nodeArb = fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined });
    const podArb = fc.record({
      namespace: nsArb,
      name: nameArb,
      labels: labelsArb,
      annotations: netsArb,
      nodeName: nodeArb,
      phase: fc.constantFrom('Pending', 'Running', 'Succeeded'),
    });
    const opArb = fc.oneof(
      fc.record({ op: fc.constant('upsert' as const), pod: podArb }),
      fc.record({ op: fc.constant('remove' as const), pod: podArb }),
      fc.record({ op: fc.constant('choose' as const), pod: podArb, node: fc.constantFrom('k1', 'k2', 'k3') }),
      fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 600 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        let now = 0;
        const idx = new PodIndex({ assumeTtlMs: 1000, now: () => now });
        for (const o of ops) {
          if (o.op === 'upsert') idx.upsert(o.pod);
          else if (o.op === 'remove') idx.remove(o.pod.namespace, o.pod.name);
          else if (o.op === 'choose') idx.recordChoice(o.pod, o.node);
          else now += o.ms;
          const all = [...idx.pods()];
          for (const p of all) expect(idx.get(p.namespace, p.name)).toBe(p);
          expect(all.some((p) => p.phase === 'Succeeded' && !idx.isAssumed(p.namespace, p.name))).toBe(false);
          for (const k of ['app', 'tier']) {
            for (const v of ['1', '2']) expect(names(idx.podsWithLabel(k, v))).toEqual(names(all.filter((p) => p.labels[k] === v)));
          }
          for (const n of ['n1', 'n2', 'n3']) {
            expect(names(idx.podsOnNetwork(n))).toEqual(
              names(all.filter((p) => (p.annotations['l2sm/networks'] ?? '').split(',').includes(n))),
            );
          }
          for (const ns of ['x', 'y']) expect(names(idx.podsInNamespace(ns))).toEqual(names(all.filter((p) => p.namespace === ns)));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('finished pods (src/kube/pod.ts): one rule, as a predicate and as a field selector', () => {
  it('Succeeded and Failed are finished; Pending, Running, Unknown and no phase are not', () => {
    expect(FINISHED_POD_PHASES).toEqual(['Succeeded', 'Failed']);
    expect(['Succeeded', 'Failed'].map(isFinishedPhase)).toEqual([true, true]);
    expect(['Pending', 'Running', 'Unknown', undefined].map(isFinishedPhase)).toEqual([false, false, false, false]);
    expect(UNFINISHED_PODS_FIELD_SELECTOR).toBe('status.phase!=Succeeded,status.phase!=Failed');
  });
});

describe('podInfoFromV1', () => {
  it('takes what the scheduling path needs', () => {
    const v1: V1Pod = {
      metadata: { namespace: 'ns', name: 'p', uid: 'u1', labels: { a: 'b' }, annotations: { x: 'y' } },
      spec: { containers: [], nodeName: 'n1' },
      status: { phase: 'Running' },
    };
    expect(podInfoFromV1(v1)).toEqual({
      namespace: 'ns',
      name: 'p',
      uid: 'u1',
      labels: { a: 'b' },
      annotations: { x: 'y' },
      nodeName: 'n1',
      phase: 'Running',
    });
    expect(podInfoFromV1({ metadata: { namespace: 'ns', name: 'q' } })).toEqual({
      namespace: 'ns',
      name: 'q',
      labels: {},
      annotations: {},
    });
    expect(podInfoFromV1({ metadata: { name: 'no-namespace' } })).toBeUndefined();
  });
});

describe('slimPod', () => {
  it('keeps identity, labels, annotations, node and phase; drops the bulk', () => {
    const slim = slimPod({
      metadata: {
        namespace: 'ns',
        name: 'p',
        uid: 'u',
        resourceVersion: '7',
        labels: { a: 'b' },
        annotations: { 'l2sm/networks': 'n1', 'kubectl.kubernetes.io/last-applied-configuration': '{"huge":true}' },
        managedFields: [{ manager: 'kubectl' }],
        creationTimestamp: '2024-01-01T00:00:00Z' as unknown as Date, // watch events carry strings
      },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'i', env: [{ name: 'A', value: 'B' }] }] },
      status: { phase: 'Running', podIP: '10.1.0.5', containerStatuses: [] },
    });
    expect(slim.metadata).toMatchObject({ namespace: 'ns', name: 'p', uid: 'u', resourceVersion: '7', labels: { a: 'b' } });
    expect(slim.metadata?.annotations).toEqual({ 'l2sm/networks': 'n1' });
    expect(slim.metadata?.managedFields).toBeUndefined();
    expect(slim.metadata?.creationTimestamp).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(slim.spec).toMatchObject({ nodeName: 'n1', containers: [] });
    expect(slim.status).toMatchObject({ phase: 'Running', podIP: '10.1.0.5' });
    expect(slim.status?.containerStatuses).toBeUndefined();
  });
});

describe('describeKubeError', () => {
  it('names the HTTP status and the API message, with an RBAC hint for 401/403', () => {
    const forbidden = Object.assign(new Error('HTTP-Code: 403\nMessage: Unknown API Status Code!'), {
      code: 403,
      body: JSON.stringify({ kind: 'Status', message: 'pods is forbidden: User "x" cannot list resource "pods"' }),
    });
    expect(describeKubeError(forbidden)).toBe(
      'HTTP 403: pods is forbidden: User "x" cannot list resource "pods" (the service account needs list and watch on pods)',
    );
    expect(describeKubeError(Object.assign(new Error('Service Unavailable'), { statusCode: 503 }))).toBe('HTTP 503: Service Unavailable');
    expect(describeKubeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(
      'connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)',
    );
  });
});

describe('kubeConfigFor', () => {
  it('uses an explicit server URL as the current cluster', () => {
    const kc = kubeConfigFor({ server: 'http://127.0.0.1:8001/' });
    expect(kc.getCurrentCluster()?.server).toBe('http://127.0.0.1:8001');
  });
  it('with a kubeconfig too, uses its credentials against the given server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lpm-kubeconfig-'));
    try {
      const file = join(dir, 'config');
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]',
          'users: [{name: u, user: {token: secret-token}}]',
          'contexts: [{name: x, context: {cluster: c, user: u}}]',
          'current-context: x',
        ].join('\n'),
      );
      expect(kubeConfigFor({ kubeconfig: file }).getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
      const kc = kubeConfigFor({ kubeconfig: file, server: 'https://api.example:6443/' });
      expect(kc.getCurrentCluster()?.server).toBe('https://api.example:6443');
      expect(kc.getCurrentUser()?.token).toBe('secret-token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('rejects unusable connections with the field named', () => {
    expect(() => kubeConfigFor({ server: 'not a url' })).toThrow(/kubernetes\.server: "not a url" is not a URL/);
    expect(() => kubeConfigFor({ server: 'ftp://x' })).toThrow(/kubernetes\.server: .* must be an http/);
    expect(() => kubeConfigFor({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/kubernetes\.kubeconfig: cannot load "\/nonexistent\/kubeconfig"/);
  });
});
