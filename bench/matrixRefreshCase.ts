// Matrix refresh cost: what the `prometheus` source does every interval once the HTTP answers are
// in: JSON.parse of each answer, instantVector (zod validation), matrixFromSamples. The answers
// are built once, as Prometheus would send them for `nodes` agents measuring `peers` peers each
// (recording-rule series: source_node, target_node, network; timestamps per measurement type).
import type { LinkMetricKey } from '../src/linkMetrics.js';
import { instantVector, type VectorSample } from '../extender/sources/prometheusResponse.js';
import { linkQueries, matrixFromSamples } from '../extender/sources/prometheusLinkQueries.js';
import { nodeName, prng } from './cluster.js';
import { timeLoop } from './timeLoop.js';

export interface MatrixRefreshResult {
  nodes: number;
  peers: number;
  links: number;
  samples: number;
  /** Bytes of all answers together. */
  answerBytes: number;
  /** Milliseconds per refresh, median over the runs. */
  parseMs: number;
  validateMs: number;
  buildMs: number;
  totalMs: number;
  runs: number;
}

const VALUE: Record<LinkMetricKey | 'timestamp', (r: () => number) => number> = {
  rtt_seconds: (r) => 0.0002 + r() * 0.01,
  rtt_min_seconds: (r) => 0.0001 + r() * 0.005,
  rtt_max_seconds: (r) => 0.001 + r() * 0.02,
  jitter_seconds: (r) => r() * 0.002,
  packet_loss_ratio: (r) => (r() < 0.9 ? 0 : r() * 0.05),
  bandwidth_bytes_per_second: (r) => 5e6 + r() * 1.2e8,
  timestamp: () => 0,
};

/** The answers of linkQueries() for a mesh where node i measures nodes i+1..i+peers. */
export function prometheusAnswers(nodes: number, peers: number, now: number): Map<LinkMetricKey | 'timestamp', string> {
  const rand = prng(11);
  const out = new Map<LinkMetricKey | 'timestamp', string>();
  for (const { key, query } of linkQueries()) {
    const result: VectorSample[] = [];
    for (let i = 0; i < nodes; i++)
      for (let d = 1; d <= peers; d++) {
        const base = { source_node: nodeName(i), target_node: nodeName((i + d) % nodes), network: 'lpm-measurement' };
        if (key === 'timestamp') {
          result.push({ metric: { ...base, metric: 'rtt' }, value: [now, String(Math.floor(now - rand() * 10))] });
          result.push({ metric: { ...base, metric: 'bandwidth' }, value: [now, String(Math.floor(now - rand() * 300))] });
        } else result.push({ metric: base, value: [now, String(VALUE[key](rand))] });
      }
    out.set(key, JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    void query;
  }
  return out;
}

export function runMatrixRefresh(opts: { nodes: number; peers: number; durationMs: number; minOps: number }): MatrixRefreshResult {
  const now = Date.now() / 1000;
  const answers = prometheusAnswers(opts.nodes, opts.peers, now);
  const queries = linkQueries();
  let links = 0;
  let samples = 0;
  const parts: Array<{ parse: number; validate: number; build: number }> = [];
  const refresh = () => {
    const t0 = performance.now();
    const bodies = queries.map((q) => [q.key, JSON.parse(answers.get(q.key)!) as unknown] as const);
    const t1 = performance.now();
    const vectors = new Map(bodies.map(([key, body]) => [key, instantVector(body, key)] as const));
    const t2 = performance.now();
    const matrix = matrixFromSamples(vectors, now);
    const t3 = performance.now();
    links = matrix.size;
    samples = [...vectors.values()].reduce((s, v) => s + v.length, 0);
    parts.push({ parse: t1 - t0, validate: t2 - t1, build: t3 - t2 });
  };
  refresh(); // warm-up, left out of the medians
  parts.length = 0;
  const loop = timeLoop(refresh, { durationMs: opts.durationMs, minOps: opts.minOps, warmup: 0 });
  const median = (f: (p: (typeof parts)[number]) => number) => {
    const v = parts.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  return {
    nodes: opts.nodes,
    peers: opts.peers,
    links,
    samples,
    answerBytes: [...answers.values()].reduce((s, a) => s + a.length, 0),
    parseMs: median((p) => p.parse),
    validateMs: median((p) => p.validate),
    buildMs: median((p) => p.build),
    totalMs: loop.p50,
    runs: loop.ops,
  };
}
