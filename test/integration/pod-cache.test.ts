// The pod watch and the extender's pod cache against a real HTTP API endpoint (test/helpers/
// fakeKubeApi.ts) through @kubernetes/client-node's real list + watch code: initial list, live
// add/move/delete, server-closed watches, compaction (410 → relist), errors, paging, and the
// bind race (recordChoice before the watch confirms, TTL for unconfirmed choices).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { FakeKubeApi } from '../helpers/fakeKubeApi.js';
import { waitUntil } from '../helpers/waitFor.js';
import { watchPods, type PodWatch } from '../../src/kube/podWatch.js';
import { PodCache } from '../../extender/pods/podCache.js';

const log = pino({ level: process.env.LPM_TEST_LOG ?? 'silent' });
const fastRetry = { min: 50, max: 400 };

const names = (pods: Iterable<{ namespace: string; name: string }>): string[] =>
  [...pods].map((p) => `${p.namespace}/${p.name}`).sort();

describe('watchPods against a real HTTP API server', () => {
  let api: FakeKubeApi;
  let watch: PodWatch | undefined;

  beforeEach(async () => {
    api = await FakeKubeApi.start();
  });
  afterEach(async () => {
    watch?.stop();
    watch = undefined;
    await api.stop();
  });

  it('sends the list and watch requests the API expects and follows a field selector', async () => {
    api.addPod({ namespace: 'a', name: 'p1', nodeName: 'node-1', labels: { app: 'x' } });
    api.addPod({ namespace: 'b', name: 'p2', nodeName: 'node-2' });
    api.addPod({ namespace: 'b', name: 'p3', nodeName: 'node-1' });
    const events: string[] = [];
    watch = watchPods({
      connection: { server: api.url },
      fieldSelector: 'spec.nodeName=node-1',
      log,
      onAdd: (p) => events.push(`add ${p.metadata?.name}`),
      onUpdate: (p) => events.push(`update ${p.metadata?.name}`),
      onDelete: (p) => events.push(`delete ${p.metadata?.name}`),
    });
    await watch.start();
    expect(watch.synced).toBe(true);
    expect(watch.list().map((p) => p.metadata?.name).sort()).toEqual(['p1', 'p3']);
    expect(events.sort()).toEqual(['add p1', 'add p3']);

    // What @kubernetes/client-node 1.4 sends (the fake serves exactly this).
    await waitUntil('watch open', () => api.openWatchCount === 1);
    const [list] = api.requestsOf('list');
    const [w] = api.requestsOf('watch');
    console.log('requests seen by the fake API:', JSON.stringify(api.requests));
    expect(list).toMatchObject({ method: 'GET', path: '/api/v1/pods', query: { fieldSelector: 'spec.nodeName=node-1', limit: '500' } });
    expect(list!.accept).toMatch(/application\/json/);
    expect(w!.path).toBe('/api/v1/pods');
    expect(w!.query).toMatchObject({
      watch: 'true',
      resourceVersion: api.resourceVersion,
      fieldSelector: 'spec.nodeName=node-1',
      allowWatchBookmarks: 'true',
      timeoutSeconds: '300',
    });

    // Slim objects: what lpm reads survives, managedFields-size baggage does not.
    const p1 = watch.list().find((p) => p.metadata?.name === 'p1')!;
    expect(p1.metadata?.labels).toEqual({ app: 'x' });
    expect(p1.spec?.nodeName).toBe('node-1');
    expect(p1.status?.phase).toBe('Running');
    expect(p1.spec?.containers).toEqual([]);

    events.length = 0;
    api.addPod({ namespace: 'a', name: 'p4', nodeName: 'node-1' });
    api.addPod({ namespace: 'a', name: 'p5', nodeName: 'node-2' }); // not ours
    api.updatePod('b', 'p3', { labels: { v: '2' } });
    api.updatePod('a', 'p1', { nodeName: 'node-2' }); // leaves the selector: a deletion for us
    await waitUntil('events', () => events.length === 3);
    expect(events).toEqual(['add p4', 'update p3', 'delete p1']);
    expect(watch.list().map((p) => p.metadata?.name).sort()).toEqual(['p3', 'p4']);
  });

  it('lists in pages with limit/continue', async () => {
    for (let i = 0; i < 7; i++) api.addPod({ namespace: 'ns', name: `p${i}`, nodeName: 'n' });
    watch = watchPods({ connection: { server: api.url }, namespace: 'ns', pageSize: 3, log });
    await watch.start();
    expect(watch.list()).toHaveLength(7);
    const lists = api.requestsOf('list');
    expect(lists.map((r) => r.path)).toEqual(Array(3).fill('/api/v1/namespaces/ns/pods'));
    expect(lists[0]!.query.continue).toBeUndefined();
    expect(lists[1]!.query.continue).toBeTruthy();
    // The watch resumes from the list's snapshot version.
    await waitUntil('watch open', () => api.openWatchCount === 1);
    expect(api.requestsOf('watch')[0]!.query.resourceVersion).toBe(api.resourceVersion);
  });

  it('falls back to one unpaged list when the continue token expires', async () => {
    for (let i = 0; i < 5; i++) api.addPod({ namespace: 'ns', name: `p${i}`, nodeName: 'n' });
    api.expireNextContinue();
    const errors: unknown[] = [];
    watch = watchPods({ connection: { server: api.url }, pageSize: 2, log, onError: (e) => errors.push(e) });
    await watch.start();
    expect(watch.list()).toHaveLength(5);
    expect(api.requestsOf('list').map((r) => [r.query.limit ?? '-', r.query.continue ? 'continue' : '-'])).toEqual([
      ['2', '-'],
      ['2', 'continue'],
      ['-', '-'],
    ]);
    expect(errors).toEqual([]);
  });

  it('keeps retrying a failing list, then loads it; errors reach onError and are not thrown', async () => {
    api.addPod({ namespace: 'ns', name: 'p', nodeName: 'n' });
    api.failNext(2, 500, 'list');
    const errors: unknown[] = [];
    watch = watchPods({ connection: { server: api.url }, retryDelayMs: fastRetry, log, onError: (e) => errors.push(e) });
    await watch.start();
    expect(watch.synced).toBe(true);
    expect(errors).toHaveLength(2);
    expect(api.requestsOf('list')).toHaveLength(3);
    expect(watch.list()).toHaveLength(1);
  });

  it('restarts a watch that failed with a server error (the library alone would stop)', async () => {
    const added: string[] = [];
    const errors: unknown[] = [];
    watch = watchPods({
      connection: { server: api.url },
      retryDelayMs: fastRetry,
      log,
      onAdd: (p) => added.push(p.metadata!.name!),
      onError: (e) => errors.push(e),
    });
    await watch.start();
    await waitUntil('watch open', () => api.openWatchCount === 1);
    api.failNext(1, 503, 'watch');
    api.closeWatches();
    await waitUntil('error reported', () => errors.length === 1);
    await waitUntil('watch reopened', () => api.openWatchCount === 1);
    api.addPod({ namespace: 'ns', name: 'later', nodeName: 'n' });
    await waitUntil('later pod seen', () => added.includes('later'));
    expect(api.requestsOf('list')).toHaveLength(1); // resumed from its resourceVersion, no relist
  });

  it('resumes when the server ends the watch at timeoutSeconds', async () => {
    const added: string[] = [];
    watch = watchPods({ connection: { server: api.url }, watchTimeoutSeconds: 1, log, onAdd: (p) => added.push(p.metadata!.name!) });
    await watch.start();
    await waitUntil('second watch', () => api.requestsOf('watch').length >= 2, 5000);
    api.addPod({ namespace: 'ns', name: 'after-timeout', nodeName: 'n' });
    await waitUntil('pod seen', () => added.includes('after-timeout'));
    expect(api.requestsOf('list')).toHaveLength(1);
  });

  it('gives up on a silent (half-open) watch after its timeout and resumes', async () => {
    const added: string[] = [];
    watch = watchPods({ connection: { server: api.url }, watchTimeoutSeconds: 1, log, onAdd: (p) => added.push(p.metadata!.name!) });
    await watch.start();
    await waitUntil('watch open', () => api.openWatchCount === 1);
    expect(api.stallWatches()).toBe(1);
    api.addPod({ namespace: 'ns', name: 'sent-into-the-void', nodeName: 'n' });
    await new Promise((r) => setTimeout(r, 300));
    expect(added).toEqual([]); // the stalled connection delivers nothing
    // The watchdog (timeout + grace = 2 s) aborts it; the resume replays what was missed.
    await waitUntil('pod seen after resume', () => added.includes('sent-into-the-void'), 8000);
    expect(api.requestsOf('watch')).toHaveLength(2);
    expect(api.requestsOf('list')).toHaveLength(1);
  });

  it('bookmarks keep the resourceVersion fresh, so a resume after compaction needs no relist', async () => {
    watch = watchPods({ connection: { server: api.url }, labelSelector: 'app=x', log });
    await watch.start();
    await waitUntil('watch open', () => api.openWatchCount === 1);
    const listedAt = watch.resourceVersion;
    for (let i = 0; i < 3; i++) api.addPod({ namespace: 'ns', name: `other-${i}`, labels: { app: 'y' } }); // not ours
    expect(watch.resourceVersion).toBe(listedAt);
    api.sendBookmark();
    await waitUntil('bookmark applied', () => watch!.resourceVersion === api.resourceVersion);
    api.compact(); // history gone, watches closed: resuming from the bookmark is still valid
    await waitUntil('watch reopened', () => api.requestsOf('watch').length === 2 && api.openWatchCount === 1);
    expect(api.requestsOf('watch')[1]!.query.resourceVersion).toBe(api.resourceVersion);
    expect(api.requestsOf('list')).toHaveLength(1);
  });

  it('backs off instead of spinning when every watch ends at once', async () => {
    const added: string[] = [];
    watch = watchPods({ connection: { server: api.url }, retryDelayMs: fastRetry, log, onAdd: (p) => added.push(p.metadata!.name!) });
    await watch.start();
    api.endWatchesAtOnce(true);
    api.closeWatches();
    await new Promise((r) => setTimeout(r, 1500));
    // Backoff 0, 50, 100, 200, 400, 400... ms: about 8 watches in 1.5 s; a hot loop makes hundreds.
    const n = api.requestsOf('watch').length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThan(30);
    api.endWatchesAtOnce(false);
    api.addPod({ namespace: 'ns', name: 'calm-again', nodeName: 'n' });
    await waitUntil('pod seen', () => added.includes('calm-again'));
    expect(api.requestsOf('list')).toHaveLength(1);
  });

  it('stop() closes the watch and silences callbacks', async () => {
    const added: string[] = [];
    watch = watchPods({ connection: { server: api.url }, log, onAdd: (p) => added.push(p.metadata!.name!) });
    await watch.start();
    await waitUntil('watch open', () => api.openWatchCount === 1);
    watch.stop();
    await waitUntil('watch closed', () => api.openWatchCount === 0);
    api.addPod({ namespace: 'ns', name: 'too-late', nodeName: 'n' });
    await new Promise((r) => setTimeout(r, 200));
    expect(added).toEqual([]);
    expect(api.requestsOf('watch')).toHaveLength(1);
  });

  it('start() resolves on stop() when the API is unreachable', async () => {
    await api.stop();
    const errors: unknown[] = [];
    watch = watchPods({ connection: { server: api.url }, retryDelayMs: fastRetry, log, onError: (e) => errors.push(e) });
    const started = watch.start();
    await waitUntil('errors', () => errors.length >= 2);
    watch.stop();
    await started;
    expect(watch.synced).toBe(false);
    api = await FakeKubeApi.start(); // for afterEach
  });
});

describe('PodCache (the extender pod placement cache) against a real HTTP API server', () => {
  let api: FakeKubeApi;
  let cache: PodCache | undefined;
  let clock = 1_000_000;

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    clock = 1_000_000;
  });
  afterEach(async () => {
    cache?.stop();
    cache = undefined;
    await api.stop();
  });

  function newCache(): PodCache {
    return new PodCache({ connection: { server: api.url }, log, retryDelayMs: fastRetry, assumeTtlMs: 30_000, now: () => clock });
  }

  it('is ready after the initial list, and follows pods added, moved and deleted', async () => {
    api.addPod({ namespace: 'app', name: 'f', nodeName: 'node1', labels: { app: 'f' }, annotations: { 'l2sm/networks': 'net-a' } });
    api.addPod({ namespace: 'app', name: 'w', nodeName: 'node2', labels: { app: 'w' }, annotations: { 'l2sm/networks': 'net-a,net-b' } });
    api.addPod({ namespace: 'app', name: 'done', nodeName: 'node2', phase: 'Succeeded' });
    cache = newCache();
    expect(cache.ready).toBe(false);
    await cache.start();
    expect(cache.ready).toBe(true);
    expect(names(cache.pods())).toEqual(['app/f', 'app/w']); // finished pods take no place
    expect(api.requestsOf('list')[0]!.query.fieldSelector).toBe('status.phase!=Succeeded,status.phase!=Failed');
    expect(cache.get('app', 'w')).toMatchObject({ nodeName: 'node2', labels: { app: 'w' }, phase: 'Running' });
    expect(names(cache.podsOnNetwork('net-a'))).toEqual(['app/f', 'app/w']);

    api.addPod({ namespace: 'app', name: 's', nodeName: 'node3', labels: { app: 's' }, annotations: { 'l2sm/networks': 'net-b' } });
    await waitUntil('s added', () => cache!.get('app', 's')?.nodeName === 'node3');
    expect(names(cache.podsOnNetwork('net-b'))).toEqual(['app/s', 'app/w']);

    api.updatePod('app', 'f', { nodeName: 'node4' });
    await waitUntil('f moved', () => cache!.get('app', 'f')?.nodeName === 'node4');
    expect([...cache.podsWithLabel('app', 'f')].map((p) => p.nodeName)).toEqual(['node4']);

    api.deletePod('app', 'w');
    await waitUntil('w deleted', () => cache!.get('app', 'w') === undefined);
    expect(names(cache.podsOnNetwork('net-a'))).toEqual(['app/f']);

    api.updatePod('app', 's', { phase: 'Failed' }); // finishes: leaves the field selector
    await waitUntil('s finished', () => cache!.get('app', 's') === undefined);
    expect(names(cache.pods())).toEqual(['app/f']);
  });

  it('recovers when the server closes the watch, without relisting, and sees later events', async () => {
    api.addPod({ namespace: 'ns', name: 'a', nodeName: 'n1' });
    cache = newCache();
    await cache.start();
    await waitUntil('watch open', () => api.openWatchCount === 1);
    expect(api.closeWatches()).toBe(1);
    await waitUntil('watch reopened', () => api.openWatchCount === 1 && api.requestsOf('watch').length === 2);
    api.addPod({ namespace: 'ns', name: 'b', nodeName: 'n2' });
    api.updatePod('ns', 'a', { nodeName: 'n3' });
    await waitUntil('events after reconnect', () => cache!.get('ns', 'b')?.nodeName === 'n2' && cache!.get('ns', 'a')?.nodeName === 'n3');
    expect(api.requestsOf('list')).toHaveLength(1);
    // The second watch resumed where the first stopped.
    expect(Number(api.requestsOf('watch')[1]!.query.resourceVersion)).toBeGreaterThan(Number(api.requestsOf('watch')[0]!.query.resourceVersion) - 1);
  });

  for (const mode of ['event', 'status'] as const) {
    it(`relists after a compacted resourceVersion (410 as ${mode === 'event' ? 'an ERROR event' : 'HTTP status'}) and catches up`, async () => {
      api.addPod({ namespace: 'ns', name: 'stays', nodeName: 'n1' });
      api.addPod({ namespace: 'ns', name: 'goes', nodeName: 'n1' });
      api.addPod({ namespace: 'ns', name: 'moves', nodeName: 'n1' });
      cache = newCache();
      await cache.start();
      await waitUntil('watch open', () => api.openWatchCount === 1);
      const rvBefore = api.resourceVersion;
      // While the client is disconnected, things change and the history is compacted away.
      api.closeWatches();
      api.deletePod('ns', 'goes');
      api.updatePod('ns', 'moves', { nodeName: 'n2' });
      api.addPod({ namespace: 'ns', name: 'new', nodeName: 'n3' });
      api.compact({ mode });
      await waitUntil('relisted', () => api.requestsOf('list').length === 2);
      await waitUntil('caught up', () => cache!.get('ns', 'goes') === undefined && cache!.get('ns', 'new')?.nodeName === 'n3');
      expect(cache.get('ns', 'moves')?.nodeName).toBe('n2');
      expect(names(cache.pods())).toEqual(['ns/moves', 'ns/new', 'ns/stays']);
      // The rejected resume used the old version; the next watch starts from the relist.
      const watches = api.requestsOf('watch');
      expect(watches[1]!.query.resourceVersion).toBe(rvBefore);
      await waitUntil('watch reopened', () => api.openWatchCount === 1);
      expect(api.requestsOf('watch').at(-1)!.query.resourceVersion).toBe(api.resourceVersion);
      // And it keeps following.
      api.addPod({ namespace: 'ns', name: 'after', nodeName: 'n4' });
      await waitUntil('after seen', () => cache!.get('ns', 'after')?.nodeName === 'n4');
    });
  }

  it('bind race: a recorded choice is visible at once, the watch replaces it, the TTL expires it', async () => {
    api.addPod({ namespace: 'app', name: 'peer', nodeName: 'node1', labels: { app: 'p' } });
    api.addPod({ namespace: 'app', name: 'p1', labels: { app: 'p' } }); // pending
    api.addPod({ namespace: 'app', name: 'p2', labels: { app: 'p' } }); // pending, never bound
    cache = newCache();
    await cache.start();
    expect(cache.get('app', 'p1')?.nodeName).toBeUndefined();

    // The extender picked node2 for p1: before any watch event, p1's peers see it there.
    const p1 = cache.get('app', 'p1')!;
    cache.recordChoice(p1, 'node2');
    expect(cache.get('app', 'p1')?.nodeName).toBe('node2');
    expect(cache.isAssumed('app', 'p1')).toBe(true);
    expect([...cache.podsWithLabel('app', 'p')].map((p) => `${p.name}@${p.nodeName ?? '-'}`).sort()).toEqual([
      'p1@node2',
      'p2@-',
      'peer@node1',
    ]);

    // A pod the watch has not reported: anyone can call /prioritize, so nothing is assumed for it.
    expect(cache.recordChoice({ namespace: 'app', name: 'p3', labels: { app: 'p' }, annotations: {} }, 'node1')).toBe(false);
    expect(cache.get('app', 'p3')).toBeUndefined();

    // An update that still shows p1 pending keeps the assumption (and takes its new labels).
    api.updatePod('app', 'p1', { labels: { app: 'p', v: '2' } });
    await waitUntil('label update', () => cache!.get('app', 'p1')?.labels.v === '2');
    expect(cache.get('app', 'p1')?.nodeName).toBe('node2');

    // kube-scheduler actually bound p1 to node3 (another plugin outweighed us): the watch wins.
    api.updatePod('app', 'p1', { nodeName: 'node3' });
    await waitUntil('bind confirmed', () => cache!.get('app', 'p1')?.nodeName === 'node3');
    expect(cache.isAssumed('app', 'p1')).toBe(false);

    // p3 appears in the watch pending; now its choice counts (same uid), then it is bound where we said.
    api.addPod({ namespace: 'app', name: 'p3', labels: { app: 'p' } });
    await waitUntil('p3 listed', () => api.requestsOf('watch').length >= 1 && cache!.get('app', 'p3')?.uid !== undefined);
    expect(cache.recordChoice({ namespace: 'app', name: 'p3', uid: 'not-its-uid', labels: {}, annotations: {} }, 'node1')).toBe(false);
    expect(cache.recordChoice(cache.get('app', 'p3')!, 'node1')).toBe(true);
    expect(cache.get('app', 'p3')?.nodeName).toBe('node1'); // assumed
    api.updatePod('app', 'p3', { nodeName: 'node1' });
    await waitUntil('p3 confirmed', () => !cache!.isAssumed('app', 'p3'));
    expect(cache.get('app', 'p3')?.nodeName).toBe('node1');

    // p2's choice is never confirmed: after the TTL it is pending again.
    cache.recordChoice(cache.get('app', 'p2')!, 'node4');
    expect(cache.get('app', 'p2')?.nodeName).toBe('node4');
    clock += 29_000;
    expect(cache.get('app', 'p2')?.nodeName).toBe('node4');
    clock += 2_000;
    expect(cache.get('app', 'p2')?.nodeName).toBeUndefined();
    expect(cache.isAssumed('app', 'p2')).toBe(false);
    expect(cache.size).toEqual({ confirmed: 4, assumed: 0 });
    // ...and asking again does not renew it: one window per version of the pod
    expect(cache.recordChoice(cache.get('app', 'p2')!, 'node4')).toBe(false);

    // A new version of p2 (say kube-scheduler recorded its failed attempt) gets a window again;
    // a deleted pod drops its assumption too.
    api.updatePod('app', 'p2', { labels: { app: 'p', attempt: '2' } });
    await waitUntil('p2 updated', () => cache!.get('app', 'p2')?.labels.attempt === '2');
    expect(cache.recordChoice(cache.get('app', 'p2')!, 'node4')).toBe(true);
    api.deletePod('app', 'p2');
    await waitUntil('p2 gone', () => cache!.get('app', 'p2') === undefined);
    expect(cache.size.assumed).toBe(0);
  });
});
