import { buildCluster, clusterBodies } from './cluster.js';
import { runScoringCases } from './scoringCase.js';
const nodes = Number(process.argv[2] ?? 5000);
const cluster = buildCluster({ nodes, podsPerNode: 30, peerCounts: [0, 10, 100], seed: nodes });
const bodies = clusterBodies(cluster);
for (const r of runScoringCases(cluster, bodies, { durationMs: 1500, minOps: 5 }))
  console.log(r.nodes, r.peers, 'eval', r.scoring.opsPerSecond.toFixed(0), r.scoring.p99.toFixed(2), 'prio', r.prioritizeHandler.opsPerSecond.toFixed(0), r.prioritizeHandler.p99.toFixed(2), 'filter', r.filterHandler.opsPerSecond.toFixed(0), r.filterHandler.p99.toFixed(2));
