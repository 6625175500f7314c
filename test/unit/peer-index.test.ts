// Peer resolution through the pod store's indexes (peerCandidates) must find exactly what a scan
// of every pod finds: the indexes only narrow the search, the rules stay in resolvePeers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peerCandidates, resolvePeers, SAME_NAMESPACE_POLICY, type PeerIndex, type PeeringPolicy } from '../../extender/peers/peerAnnotations.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import type { PodInfo } from '../../extender/pods/podStore.js';

const NAMESPACES = ['a', 'b'];
const SELECTORS = [
  'app=x',
  'app in (x,y)',
  'app=y, tier=db',
  'tier',
  '!tier',
  'app!=x',
  'b:app=x',
  '*:tier=db',
  '*:app notin (x)',
  'app=x; tier=web',
  '[{"selector": "app=y", "namespace": "b"}]',
  '*:tier',
  'a:!tier',
  'app=y; b:tier in (db,web)',
];

const POLICIES: PeeringPolicy[] = [
  SAME_NAMESPACE_POLICY,
  { forward: ['*'], reverse: ['*'], networks: true },
  { forward: ['a'], reverse: ['b'], networks: false },
];

const podArb = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('p0', 'p1', 'p2', 'p3', 'p4', 'p5'),
  app: fc.option(fc.constantFrom('x', 'y', 'z'), { nil: undefined }),
  tier: fc.option(fc.constantFrom('db', 'web'), { nil: undefined }),
  networks: fc.option(fc.constantFrom('net-1', 'net-2', 'net-1,net-2', 'b/net-1', 'lpm-measurement', '[{"name":"net-2"}]'), { nil: undefined }),
  peers: fc.option(fc.constantFrom(...SELECTORS), { nil: undefined }),
  weights: fc.option(fc.constantFrom('app=x: 5', 'tier=db: 2MB/s'), { nil: undefined }),
  node: fc.option(fc.constantFrom('n1', 'n2', 'n3'), { nil: undefined }),
  phase: fc.constantFrom('Running', 'Pending', undefined),
});

type PodSpec = typeof podArb extends fc.Arbitrary<infer T> ? T : never;

function toPod(r: PodSpec): PodInfo {
  const labels: Record<string, string> = {};
  if (r.app) labels.app = r.app;
  if (r.tier) labels.tier = r.tier;
  const annotations: Record<string, string> = {};
  if (r.networks) annotations['l2sm/networks'] = r.networks;
  if (r.peers) annotations['lpm.l2sm.io/peers'] = r.peers;
  if (r.weights) annotations['lpm.l2sm.io/peer-weights'] = r.weights;
  return {
    namespace: r.namespace,
    name: r.name,
    labels,
    annotations,
    ...(r.node ? { nodeName: r.node } : {}),
    ...(r.phase ? { phase: r.phase } : {}),
  };
}

describe('peer resolution through the pod indexes', () => {
  it('the pod store (PodIndex, and PodCache which is one) offers every index peerCandidates needs', () => {
    const index: PeerIndex = new PodIndex();
    for (const m of ['podsOnNetwork', 'podsWithLabel', 'podsInNamespace', 'peerDeclarersFor'] as const) expect(typeof index[m]).toBe('function');
  });

  it('finds the same peers, weights and warnings as a scan of every pod, under any peering policy (property)', () => {
    fc.assert(
      fc.property(fc.array(podArb, { maxLength: 25 }), podArb, fc.constantFrom(...POLICIES), (others, me, policy) => {
        const index = new PodIndex();
        for (const p of others) index.upsert(toPod(p));
        const pod = { ...toPod({ ...me, node: undefined, phase: 'Pending' }), name: 'me' };
        const opts = { ignoreNetworks: ['lpm-measurement'], policy };
        const scanned = resolvePeers(pod, index.pods(), opts);
        const indexed = resolvePeers(pod, peerCandidates(pod, index, opts), opts);
        expect(indexed).toEqual(scanned);
        expect([...indexed.weightByNode]).toEqual([...scanned.weightByNode]);
      }),
      { numRuns: 400 },
    );
  });

  it('narrows the search: a pod with a network and an equality selector looks at few pods', () => {
    const index = new PodIndex();
    for (let i = 0; i < 200; i++)
      index.upsert({ namespace: 'a', name: `bg-${i}`, labels: { app: `bg-${i % 20}` }, annotations: {}, nodeName: 'n1' });
    index.upsert({ namespace: 'a', name: 'db', labels: { app: 'db' }, annotations: {}, nodeName: 'n2' });
    index.upsert({ namespace: 'a', name: 'cache', labels: { app: 'c' }, annotations: { 'l2sm/networks': 'net-1' }, nodeName: 'n3' });
    index.upsert({ namespace: 'a', name: 'mon', labels: {}, annotations: { 'lpm.l2sm.io/peers': 'app=web' }, nodeName: 'n3' });
    const web: PodInfo = { namespace: 'a', name: 'web', labels: { app: 'web' }, annotations: { 'l2sm/networks': 'net-1', 'lpm.l2sm.io/peers': 'app=db' } };
    const candidates = peerCandidates(web, index);
    expect(candidates?.map((p) => p.name).sort()).toEqual(['cache', 'db', 'mon']);
    expect(resolvePeers(web, candidates).peers.map((p) => p.id)).toEqual(['a/cache', 'a/db', 'a/mon']);
  });

  it('never scans every pod: a selector with no positive requirement stays in the namespace', () => {
    const index = new PodIndex();
    for (let i = 0; i < 100; i++) index.upsert({ namespace: `ns-${i % 10}`, name: `p-${i}`, labels: { app: 'x' }, annotations: {}, nodeName: 'n1' });
    const web: PodInfo = { namespace: 'ns-1', name: 'web', labels: {}, annotations: { 'lpm.l2sm.io/peers': '*:!canary' } };
    // every namespace allowed: "*:!canary" would be every pod in the cluster; it is kept to its own namespace
    const opts = { policy: { forward: ['*'], reverse: ['*'], networks: true } };
    expect(peerCandidates(web, index, opts)).toHaveLength(10);
    const r = resolvePeers(web, peerCandidates(web, index, opts), opts);
    expect(r.peers).toHaveLength(10);
    expect(r.warnings.join('\n')).toMatch(/own namespace only \(a selector reaching other namespaces needs key=value/);
  });

  it("reverse lookups see only declarers of the pod's namespace, and of the namespaces the policy lets reach across", () => {
    const index = new PodIndex();
    for (let i = 0; i < 50; i++)
      index.upsert({ namespace: 'evil', name: `e-${i}`, labels: {}, annotations: { 'lpm.l2sm.io/peers': '*:app; *:!k0; shop:app=web' }, nodeName: 'n1' });
    index.upsert({ namespace: 'shop', name: 'friend', labels: {}, annotations: { 'lpm.l2sm.io/peers': '!k0' }, nodeName: 'n2' });
    const web = { namespace: 'shop', labels: { app: 'web' } };
    expect([...index.peerDeclarersFor(web)].map((p) => p.name)).toEqual(['friend']);
    expect([...index.peerDeclarersFor(web, ['other'])].map((p) => p.name)).toEqual(['friend']);
    expect([...index.peerDeclarersFor(web, ['evil'])]).toHaveLength(51);
    expect([...index.peerDeclarersFor(web, ['*'])]).toHaveLength(51);
  });
});
