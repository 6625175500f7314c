// One benchmark run, every part in order: per cluster size the in-process scoring cases and the
// HTTP cases (extender vs baseline), then the matrix refresh and the matrix at scale, then a real
// kube-scheduler per cluster size (without and with the extender), then the idle agent. Parts run one
// after another, never side by side: on two cores anything concurrent would skew the others.
import { buildCluster, clusterBodies } from './cluster.js';
import { runAgentOverhead } from './agentOverhead.js';
import { runEmulatorCapacity, type EmulatorCapacityOptions } from './emulatorCapacity.js';
import { runHttpCases, startServers, type HttpCaseResult, type HttpRunOptions } from './httpCases.js';
import { runKubeSchedulerCase, type KubeSchedulerCaseResult } from './kubeSchedulerCase.js';
import { runMatrixRefresh } from './matrixRefreshCase.js';
import { runMatrixScale, type MatrixScaleShape } from './matrixScaleCase.js';
import { gitCommit, machineInfo, type BenchResult } from './reporter.js';
import { runScoringCases, type ScoringCaseResult } from './scoringCase.js';

export interface BenchProfile {
  name: 'full' | 'quick';
  sizes: number[];
  peerCounts: number[];
  podsPerNode: number;
  http: HttpRunOptions;
  scoring: { durationMs: number; minOps: number };
  matrixRefresh: { nodes: number; peers: number; durationMs: number; minOps: number };
  agent: { targets: number; warmupSeconds: number; sampleSeconds: number };
  emulator: EmulatorCapacityOptions;
  /** A real kube-scheduler (kubeSchedulerCase.ts) per cluster size, without and with the extender. */
  kubeScheduler: { sizes: number[]; podsPerNode: number; peers: number; pending: number; inFlight: number; timeoutSeconds: number };
  /** The link matrix's memory and refresh time at scale (matrixScaleCase.ts). */
  matrixScale: { shapes: MatrixScaleShape[]; refreshes: number; timeoutSeconds: number };
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
  agent: { targets: 100, warmupSeconds: 12, sampleSeconds: 10 },
  // configured Mbit/s per loaded link: one link alone, then two at once
  emulator: { oneLink: [50, 100, 200, 300, 400, 500, 600, 700], twoLinks: [100, 150, 200, 250, 300, 350], testSeconds: 5, recordCapacity: true },
  // the measurement: 30 pods per node, 10 peers, 1000 pods to schedule, 64 creates in flight
  kubeScheduler: { sizes: [1000, 5000], podsPerNode: 30, peers: 10, pending: 1000, inFlight: 64, timeoutSeconds: 900 },
  // 5000 agents measuring 10 peers each; a full mesh of 1000 nodes (999 000 directed links)
  matrixScale: {
    shapes: [
      { nodes: 5000, peers: 10 },
      { nodes: 1000, peers: 999 },
    ],
    refreshes: 2,
    timeoutSeconds: 1200,
  },
};

/** The full run, smaller and shorter (same peer counts, HTTP minimums and agent targets). */
export const QUICK: BenchProfile = {
  ...FULL,
  name: 'quick',
  sizes: [50, 200],
  podsPerNode: 5,
  http: { ...FULL.http, concurrency: 2, durationMs: 60 },
  scoring: { durationMs: 20, minOps: 2 },
  matrixRefresh: { ...FULL.matrixRefresh, nodes: 200, durationMs: 50, minOps: 1 },
  agent: { ...FULL.agent, warmupSeconds: 1, sampleSeconds: 2 },
  emulator: { oneLink: [50], twoLinks: [], testSeconds: 2, recordCapacity: false },
  kubeScheduler: { ...FULL.kubeScheduler, sizes: [50], podsPerNode: 5, pending: 100, timeoutSeconds: 300 },
  matrixScale: {
    shapes: [
      { nodes: 200, peers: 10 },
      { nodes: 50, peers: 49 },
    ],
    refreshes: 2,
    timeoutSeconds: 60,
  },
};

function targets(http: readonly HttpCaseResult[], kube: readonly KubeSchedulerCaseResult[]): BenchResult['targets'] {
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
  // HTTP p99 at most twice the baseline's (NodeNames mode, what the shipped scheduler config uses)
  for (const nodes of [1000, 5000]) {
    const cases = http.filter((c) => c.nodes === nodes && c.mode === 'nodeNames');
    if (!cases.length) continue;
    const worst = cases.reduce((a, b) => (b.p99Ratio > a.p99Ratio ? b : a));
    out.push({
      target: `extender p99 <= 2 x baseline p99 at ${nodes} nodes, NodeNames mode (every case)`,
      measured: `highest ${worst.p99Ratio.toFixed(2)} (${worst.peers} peers, ${worst.verb})`,
      met: worst.p99Ratio <= 2,
    });
  }
  for (const k of kube) {
    if (k.ratio === undefined) continue;
    out.push({
      target: `real kube-scheduler: pods/s with the extender >= 0.9 x without, ${k.nodes} nodes`,
      measured: `${k.ratio.toFixed(2)} (${k.with!.podsPerSecond.toFixed(1)} / ${k.without!.podsPerSecond.toFixed(1)} pods/s)`,
      met: k.ratio >= 0.9,
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
  // the date and the commit the numbers belong to (docs/benchmarks.md prints both)
  const machine = { ...machineInfo(), ...(await gitCommit(opts.root)) };
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
  log('matrix at scale (memory, refresh)');
  const matrixScale = await runMatrixScale(profile.matrixScale.shapes, { ...profile.matrixScale, log });
  const kubeScheduler: KubeSchedulerCaseResult[] = [];
  for (const nodes of profile.kubeScheduler.sizes) {
    const k = profile.kubeScheduler;
    log(`real kube-scheduler, ${nodes} nodes x ${k.podsPerNode} pods, ${k.pending} pods to schedule`);
    const r = await runKubeSchedulerCase({ root: opts.root, ...k, nodes, log });
    if (r.skipped) log(`  skipped: ${r.skipped}`);
    kubeScheduler.push(r);
  }
  log('idle agent');
  const agent = await runAgentOverhead({ root: opts.root, ...profile.agent });
  log('lab emulator');
  const emulator = await runEmulatorCapacity(profile.emulator, log);
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
      emulator: profile.emulator,
      kubeScheduler: profile.kubeScheduler,
      matrixScale: profile.matrixScale,
    },
    http,
    scoring,
    matrixRefresh,
    agent,
    emulator,
    matrixScale,
    kubeScheduler,
    targets: [...targets(http, kubeScheduler), ...(emulator.targets ?? [])],
    durationSeconds: (performance.now() - started) / 1000,
  };
}
