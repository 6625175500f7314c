import { extenderConfigSchema, scoringConfig } from '../../src/config/extenderConfig.js';
import { parsePodLimits } from '../../src/podLimits.js';
import { resolvePeers } from '../../src/peers.js';
import { evaluate } from '../../src/scoring.js';
import { PodIndex } from '../../extender/podIndex.js';
import { buildCluster, buildMatrix } from './cluster.js';
const nodes = Number(process.argv[2] ?? 5000);
const cluster = buildCluster({ nodes, podsPerNode: 30, peerCounts: [10], seed: nodes });
const config = extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: false } });
const store = new PodIndex();
for (const p of cluster.pods) store.upsert(p);
const now = Date.now() / 1000;
const matrix = buildMatrix(cluster, now);
const pod = cluster.testPods[0]!;
let t = performance.now();
const peers = resolvePeers(pod.info, store.pods(), {});
console.log('resolve', performance.now() - t, peers.peers.length, peers.weightByNode.size);
const limits = parsePodLimits(pod.info.annotations);
for (let i = 0; i < 30; i++) {
  t = performance.now();
  const ev = evaluate({ candidates: cluster.nodeNames, peers, limits, matrix, now, config: scoringConfig(config) });
  console.log('eval', performance.now() - t, ev.lookups, ev.nodes.filter((n) => n.violations.length).length);
}
