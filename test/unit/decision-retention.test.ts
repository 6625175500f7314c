// A kept decision holds the numbers and link values it explains, never the evaluation or the link
// matrix it came from: with 200 decisions kept at 5000 nodes, a decision that held its evaluation
// kept hundreds of MB alive (and made kube-scheduler wait on the garbage collector). Checked with
// a WeakRef on the matrix and a forced collection.
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect, it } from 'vitest';
import { DecisionLog } from '../../extender/decisionLog.js';
import { handleFilter, handlePrioritize, type HandlerContext } from '../../extender/handlers.js';
import { ExtenderMetrics } from '../../extender/metrics.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import { DEFAULT_SCORING } from '../../extender/scoring/scoring.js';
import { LinkMatrix } from '../../src/linkMatrix.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const NOW = 1_800_000_000;
const NODES = Array.from({ length: 50 }, (_, i) => `n${i}`);

function matrix(): LinkMatrix {
  const m = new LinkMatrix(NOW);
  for (const a of NODES)
    for (const b of NODES)
      if (a !== b) {
        m.set(a, b, 'rtt_seconds', { value: 0.001 + (a.length + b.length) * 1e-4, timestamp: NOW - 1 });
        m.set(a, b, 'bandwidth_bytes_per_second', { value: 1e7, timestamp: NOW - 1 });
      }
  return m;
}

const body = (name: string, annotations: Record<string, string>) => ({
  Pod: { metadata: { name, namespace: 'apps', uid: `uid-${name}`, labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db', ...annotations } }, spec: {} },
  Nodes: null,
  NodeNames: NODES,
});

it('kept decisions (filter with limits, prioritize) do not keep the link matrix alive', async () => {
  const store = new PodIndex({
    pods: ['n1', 'n2', 'n3'].map((n, i) => ({ namespace: 'apps', name: `db-${i}`, uid: `db-${i}`, labels: { app: 'db' }, annotations: {}, nodeName: n, phase: 'Running' })),
  });
  let snapshot: { matrix: LinkMatrix; refreshedAt: number } | undefined = { matrix: matrix(), refreshedAt: NOW };
  const ref = new WeakRef(snapshot.matrix);
  const decisions = new DecisionLog(100);
  const ctx: HandlerContext = {
    podStore: store,
    matrix: () => snapshot,
    scoring: { ...DEFAULT_SCORING },
    peers: {},
    decisions,
    detailNodes: 20,
    metrics: new ExtenderMetrics(() => undefined),
    now: () => NOW,
  };
  for (let i = 0; i < 5; i++) {
    expect(handleFilter(body(`web-${i}`, { 'lpm.l2sm.io/max-rtt': '50ms' }), ctx).status).toBe(200);
    expect(handlePrioritize(body(`web-${i}`, {}), ctx).status).toBe(200);
  }
  expect(decisions.size.decisions).toBe(10);
  expect(decisions.list()[0]!.nodes!.length).toBeGreaterThan(0);
  snapshot = undefined; // the next refresh replaces the matrix
  for (let i = 0; i < 5 && ref.deref(); i++) {
    await sleep(0);
    gc();
  }
  expect(ref.deref(), 'the old matrix is still reachable from the decision log').toBeUndefined();
  // and the explanations are still there, made from the values copied at the time
  expect(decisions.list()[0]!.nodes![0]!.links!.join('\n')).toMatch(/rtt/);
});
