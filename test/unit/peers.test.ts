import { describe, expect, it } from 'vitest';
import { matchesSelector, parseLabelSelector } from '../../src/labelSelector.js';
import { parsePeerSelectors, parsePeerWeights, resolvePeers } from '../../extender/peers/peerAnnotations.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { parsePodLimits } from '../../extender/scoring/podLimits.js';
import { TrafficMatrix } from '../../extender/peers/trafficMatrix.js';

const pod = (name: string, o: Partial<PodInfo> = {}): PodInfo => ({
  namespace: 'shop',
  name,
  labels: {},
  annotations: {},
  ...o,
});

describe('label selectors', () => {
  it('matches every Kubernetes operator', () => {
    const s = parseLabelSelector('app=db, tier in (cache,queue), env!=dev, zone, !canary');
    expect(matchesSelector(s, { app: 'db', tier: 'cache', env: 'prod', zone: 'a' })).toBe(true);
    expect(matchesSelector(s, { app: 'db', tier: 'cache', env: 'dev', zone: 'a' })).toBe(false);
    expect(matchesSelector(s, { app: 'db', tier: 'web', zone: 'a' })).toBe(false);
    expect(matchesSelector(s, { app: 'db', tier: 'cache' })).toBe(false);
    expect(matchesSelector(s, { app: 'db', tier: 'cache', zone: 'a', canary: 'y' })).toBe(false);
    expect(matchesSelector(parseLabelSelector('app.kubernetes.io/name==x, k notin (a)'), { 'app.kubernetes.io/name': 'x' })).toBe(true);
  });
  it('rejects garbage naming the part', () => {
    expect(() => parseLabelSelector('app=db,,x')).toThrow(/empty requirement/);
    expect(() => parseLabelSelector('app=d b')).toThrow(/app=d b/);
    expect(() => parseLabelSelector('tier in ()')).toThrow(/empty value set/);
  });
});

describe('lpm.l2sm.io/peers', () => {
  it('reads ";" alternatives with namespace prefixes, and the JSON list form', () => {
    const a = parsePeerSelectors('app=db; tier in (cache,queue); monitoring:app=prometheus; *:role=any');
    expect(a.warnings).toEqual([]);
    expect(a.selectors.map((s) => [s.namespace, s.selector.requirements.length])).toEqual([
      [undefined, 1],
      [undefined, 1],
      ['monitoring', 1],
      ['*', 1],
    ]);
    const j = parsePeerSelectors('["app=db", {"selector": "app=x", "namespace": "other"}, 5]');
    expect(j.selectors.map((s) => s.namespace)).toEqual([undefined, 'other']);
    expect(j.warnings).toEqual([expect.stringMatching(/\[2\]/)]);
  });
  it('warns about a selector that can never match (commas are AND)', () => {
    const r = parsePeerSelectors('app=cart,app=catalog');
    expect(r.warnings[0]).toMatch(/can never match.*app in \(a,b\)/);
  });
  it('drops a bad alternative with a warning and keeps the rest', () => {
    const r = parsePeerSelectors('app=db; ===; app=web');
    expect(r.selectors).toHaveLength(2);
    expect(r.warnings).toHaveLength(1);
  });
});

describe('lpm.l2sm.io/peer-weights', () => {
  it('reads "SELECTOR: WEIGHT" entries, rates, and the JSON object form', () => {
    const r = parsePeerWeights('app=cart: 30; tier in (a,b): 1.5; other:app=x: 12MB/s');
    expect(r.warnings).toEqual([]);
    expect(r.rules.map((x) => [x.text, x.namespace, x.weight])).toEqual([
      ['app=cart', undefined, 30],
      ['tier in (a,b)', undefined, 1.5],
      ['other:app=x', 'other', 12e6],
    ]);
    expect(parsePeerWeights('{"app=cart": 80, "app=db": "bad"}')).toMatchObject({
      rules: [{ weight: 80 }],
      warnings: [expect.stringMatching(/app=db/)],
    });
  });
});

describe('resolvePeers', () => {
  const scheduling = pod('web-0', {
    uid: 'u-web-0',
    labels: { app: 'web' },
    annotations: { 'l2sm/networks': 'shop-net', 'lpm.l2sm.io/peers': 'app=db; monitoring:app=prom', 'lpm.l2sm.io/peer-weights': 'app=db: 5' },
  });
  const pods: PodInfo[] = [
    { ...scheduling, nodeName: 'n9' }, // itself (already bound in the store): skipped
    pod('db-0', { labels: { app: 'db' }, nodeName: 'n1' }),
    pod('db-1', { labels: { app: 'db' }, nodeName: 'n1' }),
    pod('db-2', { labels: { app: 'db' } }), // pending
    pod('db-old', { labels: { app: 'db' }, nodeName: 'n1', phase: 'Succeeded' }),
    pod('db-elsewhere', { namespace: 'other', labels: { app: 'db' }, nodeName: 'n1' }),
    pod('prom-0', { namespace: 'monitoring', labels: { app: 'prom' }, nodeName: 'n2' }),
    pod('cache-0', { annotations: { 'l2sm/networks': '[{"name":"shop-net"}]' }, nodeName: 'n3' }),
    pod('cache-x', { annotations: { 'l2sm/networks': 'other-net' }, nodeName: 'n3' }),
    pod('agent', { annotations: { 'l2sm/networks': 'shop-net,lpm-measurement' }, nodeName: 'n4' }),
    pod('lb', { labels: { app: 'lb' }, annotations: { 'lpm.l2sm.io/peers': 'app=web', 'lpm.l2sm.io/peer-weights': 'app=web: 7' }, nodeName: 'n5' }),
    pod('unrelated', { labels: { app: 'x' }, nodeName: 'n6' }),
  ];

  it('finds network, selector and reverse-selector peers, once each, with weights', () => {
    // (monitoring:app=prom reaches another namespace: the config must allow it)
    const r = resolvePeers(scheduling, pods, { ignoreNetworks: ['lpm-measurement'], policy: { forward: ['shop'], reverse: [], networks: true } });
    expect(r.peers.map((p) => [p.id, p.node, p.weight])).toEqual([
      ['monitoring/prom-0', 'n2', 1],
      ['shop/agent', 'n4', 1],
      ['shop/cache-0', 'n3', 1],
      ['shop/db-0', 'n1', 5],
      ['shop/db-1', 'n1', 5],
      ['shop/lb', 'n5', 7],
    ]);
    expect(r.unplaced).toEqual(['shop/db-2']);
    expect(Object.fromEntries(r.weightByNode)).toEqual({ n1: 10, n2: 1, n3: 1, n4: 1, n5: 7 });
    expect(r.peers.find((p) => p.id === 'shop/lb')!.via).toEqual(['selected by its app=web']);
    expect(r.peers.find((p) => p.id === 'shop/cache-0')!.via).toEqual(['network shop/shop-net']);
    expect(r.warnings).toEqual([]);
    // by default a selector stays in the pod's namespace, and says so
    const own = resolvePeers(scheduling, pods, { ignoreNetworks: ['lpm-measurement'] });
    expect(own.peers.map((p) => p.id)).not.toContain('monitoring/prom-0');
    expect(own.warnings).toEqual([expect.stringMatching(/ignored "monitoring:app=prom": namespace monitoring is not the pod's own, and peers\.crossNamespace\.forward does not allow it/)]);
  });

  it('ignores the measurement network and can turn network peers off', () => {
    const onlyAgentNet = pod('x', { annotations: { 'l2sm/networks': 'lpm-measurement' } });
    expect(resolvePeers(onlyAgentNet, pods, { ignoreNetworks: ['lpm-measurement'] }).peers).toEqual([]);
    const r = resolvePeers(scheduling, pods, { networks: false });
    expect(r.peers.map((p) => p.id)).not.toContain('shop/cache-0');
  });

  it('uses measured traffic when no annotation weighs a peer', () => {
    const prom = pods.find((p) => p.name === 'prom-0')!;
    const traffic = new TrafficMatrix('app');
    traffic.add({ namespace: scheduling.namespace, app: scheduling.labels.app! }, { namespace: 'monitoring', app: prom.labels.app! }, 42);
    const r = resolvePeers(scheduling, pods, { traffic: (p) => traffic.rulesFor(p) });
    expect(r.peers.find((p) => p.id === 'monitoring/prom-0')).toMatchObject({
      weight: 42,
      weightFrom: `traffic monitoring:app=${prom.labels.app}`,
    });
  });

  it('measured traffic makes the pods of a talking app peers; an annotation weight still wins', () => {
    const traffic = new TrafficMatrix('app');
    traffic.add({ namespace: 'shop', app: 'x' }, { namespace: 'shop', app: 'web' }, 300); // x -> web counts for web too
    traffic.add({ namespace: 'shop', app: 'web' }, { namespace: 'shop', app: 'db' }, 1e6);
    const r = resolvePeers(scheduling, pods, { traffic: (p) => traffic.rulesFor(p) });
    expect(r.peers.find((p) => p.id === 'shop/unrelated')).toMatchObject({ weight: 300, via: ['traffic shop:app=x'], weightFrom: 'traffic shop:app=x' });
    expect(r.peers.find((p) => p.id === 'shop/db-0')).toMatchObject({ weight: 5, weightFrom: 'lpm.l2sm.io/peer-weights app=db' });
    // traffic in another namespace's app of the same name does not make it a peer
    expect(r.peers.map((p) => p.id)).not.toContain('other/db-elsewhere');
  });

  it('a pod with no peer annotations has no peers; bad annotations become warnings', () => {
    expect(resolvePeers(pod('lonely'), pods).peers).toEqual([]);
    const bad = resolvePeers(pod('bad', { annotations: { 'l2sm/networks': 'Not A Net!', 'lpm.l2sm.io/peers': '[oops' } }), pods);
    expect(bad.peers).toEqual([]);
    expect(bad.warnings).toHaveLength(2);
  });
});

describe('pod limits', () => {
  it('reads durations and rates in base units', () => {
    expect(parsePodLimits({ 'lpm.l2sm.io/max-rtt': '5ms', 'lpm.l2sm.io/min-bandwidth': '100Mbps' })).toEqual({
      maxRtt: 0.005,
      minBandwidth: 12.5e6,
      warnings: [],
    });
  });
  it('ignores garbage with a warning', () => {
    const l = parsePodLimits({ 'lpm.l2sm.io/max-rtt': '5 parsecs', 'lpm.l2sm.io/min-bandwidth': 'fast' });
    expect(l.maxRtt).toBeUndefined();
    expect(l.minBandwidth).toBeUndefined();
    expect(l.warnings).toEqual([expect.stringMatching(/max-rtt ignored: "5 parsecs"/), expect.stringMatching(/min-bandwidth ignored/)]);
  });
});
