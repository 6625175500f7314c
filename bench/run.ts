// One benchmark run, every part in order: per cluster size the in-process scoring cases and the
// HTTP cases (extender vs baseline), then the matrix refresh, then the idle agent. Parts run one
// after another, never side by side: on two cores anything concurrent would skew the others.
import { buildCluster, clusterBodies } from './cluster.js';
import { runAgentOverhead } from './agentOverhead.js';
import { runHttpCases, startServers, type HttpCaseResult, type HttpRunOptions } from './httpCases.js';
import { runMatrixRefresh } from './matrixRefreshCase.js';
import { machineInfo, type BenchResult } from './reporter.js';
import { runScoringCases, type ScoringCaseResult } from './scoringCase.js';

export interface BenchProfile {
  name: 'full' | 'quick';
  sizes: number[];
  peerCounts: number[];
  podsPerNode: number;
  http: HttpRunOptions;
  scoring: { durationMs: number; minOps: number };
  matrixRefresh: { nodes: number; peers: number; durationMs: number; minOps: number };
  agent: { peers: number; warmupSeconds: number; sampleSeconds: number };
}

export const FULL: BenchProfile = {
  name: 'full',
  sizes: [100, 1000, 5000],
  peerCounts: [0, 10, 100],
  // Kubernetes' scalability envelope: 150 000 pods in a 5000-node cluster
  podsPerNode: 30,
  // slow cases (20 MB NodeList bodies) stop after minRequests: their p99 is then the max
  http: { concurrency: 4, durationMs: 800, minRequests: 3, warmup: 1 },
  scoring: { durationMs: 300, minOps: 5 },
  matrixRefresh: { nodes: 5000, peers: 10, durationMs: 2000, minOps: 3 },
  agent: { peers: 100, warmupSeconds: 12, sampleSeconds: 10 },
};

export const QUICK: BenchProfile = {
  name: 'quick',
  sizes: [50, 200],
  peerCounts: [0, 10, 100],
  podsPerNode: 5,
  http: { concurrency: 2, durationMs: 60, minRequests: 3, warmup: 1 },
  scoring: { durationMs: 20, minOps: 2 },
  matrixRefresh: { nodes: 200, peers: 10, durationMs: 50, minOps: 1 },
  agent: { peers: 100, warmupSeconds: 1, sampleSeconds: 2 },
};

function targets(http: readonly HttpCaseResult[]): BenchResult['targets'] {
  const out: BenchResult['targets'] = [];
  const p = http.find((c) => c.nodes === 5000 && c.peers === 10 && c.mode === 'nodeNames' && c.verb === 'prioritize');
  if (p)
    out.push({
      target: 'prioritize p99 <= 5 ms at 5000 nodes, 10 peers, NodeNames mode',
      measured: `${p.extender.p99.toFixed(2)} ms`,
      met: p.extender.p99 <= 5,
    });
  const at1000 = http.filter((c) => c.nodes === 1000);
  if (at1000.length) {
    const worst = at1000.reduce((a, b) => (b.throughputRatio < a.throughputRatio ? b : a));
    out.push({
      target: 'extender throughput >= 0.7 x baseline at 1000 nodes (every case)',
      measured: `lowest ${worst.throughputRatio.toFixed(2)} (${worst.peers} peers, ${worst.mode}, ${worst.verb})`,
      met: worst.throughputRatio >= 0.7,
    });
  }
  return out;
}

export async function runBench(
  profile: BenchProfile,
  opts: { root: string; log?: (line: string) => void },
): Promise<BenchResult> {
  const log = opts.log ?? (() => undefined);
  const started = performance.now();
  const machine = machineInfo();
  const http: HttpCaseResult[] = [];
  const scoring: ScoringCaseResult[] = [];
  for (const nodes of profile.sizes) {
    const spec = { nodes, podsPerNode: profile.podsPerNode, peerCounts: profile.peerCounts, seed: nodes };
    const cluster = buildCluster(spec);
    const bodies = clusterBodies(cluster);
    log(`${nodes} nodes, ${cluster.pods.length} pods, NodeList ${Math.round(bodies.nodeList.length / 1024)} KiB (${bodies.bytesPerNode} B/node)`);
    scoring.push(...runScoringCases(cluster, bodies, profile.scoring));
    const servers = await startServers(spec);
    try {
      log(`  servers ready in ${Math.round(servers.ready.setupMs)} ms (${servers.ready.links} links)`);
      http.push(
        ...(await runHttpCases(cluster, bodies, servers.ready, profile.http, (c) =>
          log(
            `  ${c.peers} peers ${c.mode} ${c.verb}: ext p99 ${c.extender.p99.toFixed(2)} ms ${Math.round(c.extender.requestsPerSecond)} req/s, ` +
              `base p99 ${c.baseline.p99.toFixed(2)} ms ${Math.round(c.baseline.requestsPerSecond)} req/s, ratio ${c.throughputRatio.toFixed(2)}`,
          ),
        )),
      );
    } finally {
      await servers.stop();
    }
  }
  log('matrix refresh');
  const matrixRefresh = runMatrixRefresh(profile.matrixRefresh);
  log('idle agent');
  const agent = await runAgentOverhead({ root: opts.root, ...profile.agent });
  return {
    profile: profile.name,
    machine,
    settings: {
      sizes: profile.sizes,
      peerCounts: profile.peerCounts,
      podsPerNode: profile.podsPerNode,
      http: profile.http,
      scoring: profile.scoring,
      matrixRefresh: { nodes: profile.matrixRefresh.nodes, peers: profile.matrixRefresh.peers },
      agent: profile.agent,
    },
    http,
    scoring,
    matrixRefresh,
    agent,
    targets: targets(http),
    durationSeconds: (performance.now() - started) / 1000,
  };
}
