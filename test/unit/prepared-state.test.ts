// One evaluation per pod per scheduling cycle (extender/handlers.ts, extender/preparedCache.ts):
// filter for a pod without limits answers at once without resolving or evaluating anything;
// filter with limits keeps what it prepared and prioritize reuses it while the pod, the matrix and
// the pod-store buckets it read are unchanged, with the same answers as computing afresh; the
// kept states are bounded.
import { describe, expect, it } from 'vitest';
import { DecisionLog } from '../../extender/decisionLog.js';
import { handleFilter, handlePrioritize, type HandlerContext, type Prepared } from '../../extender/handlers.js';
import { ExtenderMetrics } from '../../extender/metrics.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { PreparedCache, type PreparedStamp } from '../../extender/preparedCache.js';
import { DEFAULT_SCORING } from '../../extender/scoring/scoring.js';
import type { HostPriorityList } from '../../extender/protocol.js';
import { LinkMatrix } from '../../src/linkMatrix.js';

const NOW = 1_800_000_000;
const NODES = Array.from({ length: 12 }, (_, i) => `n${i}`);

function matrix(seed = 1): LinkMatrix {
  const m = new LinkMatrix(NOW);
  NODES.forEach((a, i) =>
    NODES.forEach((b, j) => {
      if (a === b) return;
      m.set(a, b, 'rtt_seconds', { value: 0.001 * (1 + ((i * 7 + j * 3 + seed) % 9)), timestamp: NOW - 1 });
      m.set(a, b, 'bandwidth_bytes_per_second', { value: 1e6 * (1 + ((i + j * 5 + seed) % 13)), timestamp: NOW - 1 });
    }),
  );
  return m;
}

const peer = (name: string, node: string, labels: Record<string, string> = { app: 'db' }): PodInfo => ({
  namespace: 'apps',
  name,
  uid: `uid-${name}`,
  labels,
  annotations: {},
  nodeName: node,
  phase: 'Running',
});

const web = (name: string, annotations: Record<string, string>): PodInfo => ({
  namespace: 'apps',
  name,
  uid: `uid-${name}`,
  labels: { app: 'web' },
  annotations: { 'lpm.l2sm.io/peers': 'app=db', ...annotations },
  phase: 'Pending',
});

function body(p: PodInfo, nodes: readonly string[], mode: 'nodeNames' | 'nodeList' = 'nodeNames') {
  const Pod = { metadata: { name: p.name, namespace: p.namespace, uid: p.uid, labels: p.labels, annotations: p.annotations }, spec: {}, status: { phase: 'Pending' } };
  return mode === 'nodeNames'
    ? { Pod, Nodes: null, NodeNames: nodes }
    : { Pod, Nodes: { kind: 'NodeList', items: nodes.map((name) => ({ metadata: { name }, status: { x: 1 } })) }, NodeNames: null };
}

/** A handler context over a PodIndex whose index reads and matrix reads are counted. */
function setup(opts: { cache?: boolean; pods?: PodInfo[] } = {}) {
  const store = new PodIndex({ pods: opts.pods ?? [peer('db-0', 'n1'), peer('db-1', 'n2'), peer('other', 'n3', { app: 'other' })] });
  const reads = { lookups: 0, matrix: 0 };
  const lookup = store.lookup.bind(store);
  store.lookup = (index, key) => {
    reads.lookups++;
    return lookup(index, key);
  };
  let snapshot = { matrix: matrix(), refreshedAt: NOW };
  const metrics = new ExtenderMetrics(() => undefined);
  const ctx: HandlerContext = {
    podStore: store,
    matrix: () => {
      reads.matrix++;
      return snapshot;
    },
    scoring: { ...DEFAULT_SCORING },
    peers: {},
    decisions: new DecisionLog(50),
    detailNodes: 5,
    metrics,
    now: () => NOW,
    ...(opts.cache === false ? {} : { prepared: new PreparedCache<Prepared>() }),
  };
  const counter = async (result: string) =>
    (await metrics.registry.getSingleMetric('lpm_extender_prepared_states_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return {
    store,
    ctx,
    reads,
    counter,
    setMatrix: (m: LinkMatrix) => {
      snapshot = { matrix: m, refreshedAt: NOW + 1 };
    },
  };
}

const filter = (ctx: HandlerContext, b: unknown) => handleFilter(b, ctx).body;
const prioritize = (ctx: HandlerContext, b: unknown) => handlePrioritize(b, ctx).body as HostPriorityList;

describe('filter without limits', () => {
  it('passes every node at once: no peer resolution, no matrix, no evaluation', () => {
    const { ctx, reads } = setup();
    const p = web('web-0', {});
    const a = handleFilter(body(p, NODES), ctx);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ Nodes: null, NodeNames: NODES, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' });
    expect(reads).toEqual({ lookups: 0, matrix: 0 });
    expect(a.decision).toMatchObject({ verb: 'filter', outcome: 'neutral', passed: NODES.length, candidates: NODES.length, limits: 'none' });
    expect(a.decision.reason).toMatch(/declares no limit/);
    expect(a.decision.nodes).toBeUndefined();
  });

  it('echoes every Node object in NodeList mode, and warns about an unreadable limit (which is no limit)', () => {
    const { ctx, reads } = setup();
    const p = web('web-1', { 'lpm.l2sm.io/max-rtt': '5 parsecs' });
    const b = body(p, NODES, 'nodeList');
    const a = handleFilter(b, ctx);
    const r = a.body;
    expect(r.NodeNames).toBeNull();
    expect(r.Nodes!.items).toEqual(b.Nodes!.items);
    expect(r.Nodes!.kind).toBe('NodeList');
    expect(a.decision.warnings.join('\n')).toMatch(/max-rtt ignored/);
    expect(reads.lookups).toBe(0);
  });

  it('leaves the evaluation to prioritize: one evaluation per cycle', async () => {
    const { ctx, reads, counter } = setup();
    const p = web('web-2', {});
    filter(ctx, body(p, NODES));
    expect(reads.lookups).toBe(0);
    const scores = prioritize(ctx, body(p, NODES));
    expect(reads.lookups).toBeGreaterThan(0);
    const best = scores.filter((h) => h.Score === 10).map((h) => h.Host);
    expect(best.length).toBeGreaterThan(0);
    expect(best.every((n) => n === 'n1' || n === 'n2')).toBe(true);
    expect(await counter('computed')).toBe(1);
  });
});

describe('filter then prioritize: one evaluation per cycle', () => {
  const limited = (name: string) => web(name, { 'lpm.l2sm.io/max-rtt': '6ms' });

  it('prioritize reuses what filter prepared, with the answers of a fresh evaluation', async () => {
    const { ctx, reads, counter } = setup();
    const fresh = setup({ cache: false });
    const p = limited('web-3');
    const f = filter(ctx, body(p, NODES));
    expect(f).toEqual(filter(fresh.ctx, body(p, NODES)));
    expect(f.NodeNames!.length).toBeLessThan(NODES.length);
    expect(f.NodeNames!.length).toBeGreaterThan(1);
    const before = { ...reads };
    // kube-scheduler offers prioritize what filter let through, in that order
    const scores = prioritize(ctx, body(p, f.NodeNames!));
    expect(reads.lookups).toBe(before.lookups); // no peer resolution (the matrix is read for the stamp only)
    expect(scores).toEqual(prioritize(fresh.ctx, body(p, f.NodeNames!)));
    expect(await counter('reused')).toBe(1);
    expect(await counter('computed')).toBe(0);
    // the cycle is over: the state is gone
    expect(ctx.prepared!.size.entries).toBe(0);
  });

  it('scores any subset or order of the filtered candidates as a fresh evaluation would', async () => {
    const { ctx, counter } = setup();
    const fresh = setup({ cache: false });
    const p = limited('web-4');
    const asked = [...NODES].reverse().slice(2, 9);
    filter(ctx, body(p, NODES));
    expect(prioritize(ctx, body(p, asked))).toEqual(prioritize(fresh.ctx, body(p, asked)));
    expect(await counter('reused')).toBe(1);
  });

  it('computes again for a candidate filter did not evaluate', async () => {
    const { ctx, counter } = setup();
    const p = limited('web-5');
    filter(ctx, body(p, NODES.slice(0, 6)));
    prioritize(ctx, body(p, NODES.slice(4, 8)));
    expect(await counter('computed')).toBe(1);
  });

  it('a new matrix invalidates the state', async () => {
    const { ctx, counter, setMatrix } = setup();
    const fresh = setup({ cache: false });
    const p = limited('web-6');
    const f = filter(ctx, body(p, NODES));
    setMatrix(matrix(5));
    fresh.setMatrix(matrix(5));
    expect(prioritize(ctx, body(p, f.NodeNames!))).toEqual(prioritize(fresh.ctx, body(p, f.NodeNames!)));
    expect(await counter('computed')).toBe(1);
  });

  it('a change to a pod peer resolution reads invalidates it; a change elsewhere in the pod cache does not', async () => {
    const { ctx, store, counter } = setup();
    const p = limited('web-7');
    // an unrelated pod arrives, another is bound: the state still holds
    let f = filter(ctx, body(p, NODES));
    store.upsert(peer('elsewhere', 'n5', { app: 'cache' }));
    store.upsert({ ...peer('other', 'n4', { app: 'other' }) });
    prioritize(ctx, body(p, f.NodeNames!));
    expect(await counter('reused')).toBe(1);
    // a status-only update of a peer (same node, labels, annotations) changes nothing either
    f = filter(ctx, body(p, NODES));
    store.upsert({ ...peer('db-0', 'n1'), phase: 'Running' });
    prioritize(ctx, body(p, f.NodeNames!));
    expect(await counter('reused')).toBe(2);
    // a peer moves: computed again, and it shows
    f = filter(ctx, body(p, NODES));
    store.upsert(peer('db-0', 'n7'));
    const scores = prioritize(ctx, body(p, f.NodeNames!));
    expect(await counter('computed')).toBe(1);
    const fresh = setup({ cache: false, pods: [peer('db-0', 'n7'), peer('db-1', 'n2'), peer('other', 'n4', { app: 'other' })] });
    expect(scores).toEqual(prioritize(fresh.ctx, body(p, f.NodeNames!)));
    // a new peer appears
    f = filter(ctx, body(p, NODES));
    store.upsert(peer('db-2', 'n9'));
    prioritize(ctx, body(p, f.NodeNames!));
    expect(await counter('computed')).toBe(2);
    // a pod that selects this one appears (reverse peering)
    f = filter(ctx, body(p, NODES));
    store.upsert({ ...peer('front', 'n10', { app: 'front' }), annotations: { 'lpm.l2sm.io/peers': 'app=web' } });
    prioritize(ctx, body(p, f.NodeNames!));
    expect(await counter('computed')).toBe(3);
  });

  it('the pod itself must be the same: another uid or other annotations compute again', async () => {
    const { ctx, counter } = setup();
    const p = limited('web-8');
    let f = filter(ctx, body(p, NODES));
    prioritize(ctx, body({ ...p, annotations: { ...p.annotations, 'lpm.l2sm.io/peer-weights': 'app=db: 3' } }, f.NodeNames!));
    expect(await counter('computed')).toBe(1);
    f = filter(ctx, body(p, NODES));
    prioritize(ctx, body({ ...p, name: 'web-9' }, f.NodeNames!));
    expect(await counter('computed')).toBe(2);
    // an annotation lpm does not read changes nothing
    f = filter(ctx, body(p, NODES));
    prioritize(ctx, body({ ...p, annotations: { ...p.annotations, 'example.com/note': 'x' } }, f.NodeNames!));
    expect(await counter('reused')).toBe(1);
  });

  it('records the same decisions, with the node details of the candidates each call answered', () => {
    const { ctx } = setup();
    const fresh = setup({ cache: false });
    const p = limited('web-10');
    const f = filter(ctx, body(p, NODES));
    filter(fresh.ctx, body(p, NODES));
    const a = handlePrioritize(body(p, f.NodeNames!), ctx).decision;
    const b = handlePrioritize(body(p, f.NodeNames!), fresh.ctx).decision;
    const plain = (d: typeof a) => JSON.parse(JSON.stringify({ ...d, id: 0, time: '', durationSeconds: 0 })) as unknown;
    expect(plain(a)).toEqual(plain(b));
    expect(a.nodes!.every((n) => f.NodeNames!.includes(n.node) && n.filtered === undefined)).toBe(true);
  });
});

describe('PreparedCache', () => {
  const stamp = (over: Partial<PreparedStamp> = {}): PreparedStamp => ({
    pod: 'p',
    matrix: undefined,
    traffic: undefined,
    storeReady: true,
    reads: [],
    versions: [],
    ...over,
  });
  const store = { bucketVersion: () => 0 };
  const current = (s: PreparedStamp) => ({ pod: s.pod, matrix: s.matrix, traffic: s.traffic, storeReady: s.storeReady });

  it('keeps at most maxEntries states and maxNodes candidate nodes, the oldest dropped first', () => {
    const c = new PreparedCache<number>({ maxEntries: 3, maxNodes: 10_000 });
    for (let i = 0; i < 20; i++) c.set(`k${i}`, stamp(), i, 100);
    expect(c.size).toEqual({ entries: 3, nodes: 300 });
    expect(c.get('k19', current(stamp()), store)).toEqual({ value: 19 });
    expect(c.get('k16', current(stamp()), store)).toEqual({ miss: 'none' });
    const n = new PreparedCache<number>({ maxEntries: 100, maxNodes: 12_000 });
    for (let i = 0; i < 20; i++) n.set(`k${i}`, stamp(), i, 5000);
    expect(n.size).toEqual({ entries: 2, nodes: 10_000 });
    // a state larger than the whole budget is not kept
    n.set('huge', stamp(), 0, 20_000);
    expect(n.get('huge', current(stamp()), store)).toEqual({ miss: 'none' });
    expect(n.size.nodes).toBeLessThanOrEqual(12_000);
  });

  it('holds memory bounded under any sequence of sets and gets (kube-scheduler pods that never reach prioritize)', () => {
    const c = new PreparedCache<Uint8Array>({ maxEntries: 8, maxNodes: 20_000 });
    for (let i = 0; i < 5000; i++) {
      const nodes = 1 + ((i * 7919) % 6000);
      c.set(`pod-${i % 97}`, stamp(), new Uint8Array(nodes), nodes);
      if (i % 3 === 0) c.get(`pod-${(i * 13) % 97}`, current(stamp()), store);
      expect(c.size.entries).toBeLessThanOrEqual(8);
      expect(c.size.nodes).toBeLessThanOrEqual(20_000);
    }
  });

  it('drops a state that no longer holds, or is too old, and everything on a new matrix', () => {
    let now = 0;
    const c = new PreparedCache<string>({ ttlMs: 1000, now: () => now });
    const m1 = {};
    const s = stamp({ matrix: m1, reads: [{ index: 'label', key: 'app=db' }], versions: [4] });
    c.set('a', s, 'A', 1);
    expect(c.get('a', current(s), { bucketVersion: () => 5 })).toEqual({ miss: 'changed' });
    expect(c.size.entries).toBe(0);
    c.set('a', s, 'A', 1);
    expect(c.get('a', { ...current(s), pod: 'other' }, { bucketVersion: () => 4 })).toEqual({ miss: 'changed' });
    c.set('a', s, 'A', 1);
    now = 1001;
    expect(c.get('a', current(s), { bucketVersion: () => 4 })).toEqual({ miss: 'expired' });
    now = 0;
    c.set('a', s, 'A', 1);
    c.set('b', s, 'B', 1);
    expect(c.get('a', current(s), { bucketVersion: () => 4 })).toEqual({ value: 'A' });
    expect(c.get('b', { ...current(s), matrix: {} }, { bucketVersion: () => 4 })).toEqual({ miss: 'none' });
    expect(c.size).toEqual({ entries: 0, nodes: 0 });
  });
});
